"""The offline model's decisions, one policy per subgraph (recognised by the tools it was bound to).

Each policy either acts (picks tool calls from the customer's words and the JSON context) or, once tools
have answered, responds (turns their typed results into the prompt set's sentences). Amounts in replies are
always the tools' `*_text` fields: this model never computes money.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graph.guard import is_price_injection
from graph.offline import parsing as p
from graph.offline.view import ToolExchange, TurnView
from prompts import PromptSet


@dataclass
class Decision:
    """Tool calls to make, or the text to send; `understood` is False when we had to ask again."""

    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    text: str | None = None
    understood: bool = True


def call(tool: str, /, **args: Any) -> Decision:
    """A single tool call."""
    return Decision(tool_calls=[(tool, {k: v for k, v in args.items() if v is not None})])


class Say:
    """Renders replies in the conversation's locale."""

    def __init__(self, prompts: PromptSet, locale: str) -> None:
        self.prompts = prompts
        self.locale = locale if locale in ("pt-BR", "en") else "pt-BR"

    def __call__(self, key: str, **fields: Any) -> str:
        return self.prompts.reply(key, self.locale, **fields)

    def join(self, *parts: str | None) -> str:
        """Paragraphs, skipping empty ones."""
        return "\n\n".join(x.strip() for x in parts if x and x.strip())

    def words(self, items: list[str]) -> str:
        """ "a, b e c" / "a, b and c"."""
        items = [i for i in items if i]
        if len(items) <= 1:
            return "".join(items)
        conj = " e " if self.locale == "pt-BR" else " and "
        return ", ".join(items[:-1]) + conj + items[-1]


def decide(view: TurnView, prompts: PromptSet) -> Decision:
    """Dispatch on the bound tools: each subgraph's model sees only its own tools."""
    say = Say(prompts, view.locale)
    tools = view.tools
    policy: Callable[[TurnView, Say], Decision]
    if "RouteChoice" in tools:
        policy = route
    elif "search_menu" in tools:
        policy = menu
    elif "add_to_cart" in tools:
        policy = cart
    elif "update_registration" in tools:
        policy = registration
    elif "checkout_summary" in tools:
        policy = payment
    elif "request_human" in tools:
        policy = handoff
    else:
        policy = smalltalk
    return policy(view, say)


# --- shared -----------------------------------------------------------------------------------------------


def not_understood(say: Say, key: str = "fallback.not_understood", **fields: Any) -> Decision:
    """Say we didn't understand (and count it as a failed turn)."""
    return Decision(text=say(key, **fields), understood=False)


def has_any(text: str, words: tuple[str, ...]) -> bool:
    """Whether the normalized text contains any of the (normalized) words or phrases."""
    norm = f" {p.normalize(text)} "
    return any(f" {w} " in norm for w in words)


def error_reply(ex: ToolExchange, say: Say, prefix: str) -> str | None:
    """The sentence for a tool error, if the prompt set has one for this code."""
    r = ex.result
    code = str(r.get("error", "internal"))
    key = f"{prefix}.{code}"
    fields = {
        "item": r.get("item") or ex.args.get("item") or "",
        "suggestions": say.words([str(s) for s in r.get("suggestions", [])]),
        "option": r.get("option")
        or say.words([str(o) for o in ex.args.get("options", []) + ex.args.get("removals", [])])
        or str(ex.args.get("choice", "")),
        "group": r.get("group") or "",
        "fields": say.words([str(f) for f in r.get("fields", [])]),
        "max": r.get("max", 50),
    }
    if say.prompts.has_reply(key):
        return say(key, **fields)
    if code == "internal":
        return say("error.internal")
    return None


# --- router (structured output) -------------------------------------------------------------------------

_ROUTE_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("handoff", ("atendente", "humano", "pessoa", "gerente", "reclamacao", "human", "agent", "manager", "falar com")),
    ("payment", ("pagar", "pix", "cartao", "dinheiro", "troco", "fechar", "finalizar", "checkout", "pay", "cash")),
    ("registration", ("endereco", "cadastro", "meu nome", "email", "cep", "address", "my name")),
    ("cart", ("carrinho", "quero", "adiciona", "coloca", "tira", "remove", "repete", "cart", "add", "i want")),
    ("menu", ("cardapio", "menu", "tem", "quanto custa", "horario", "aberto", "taxa", "vegetariano", "vegan")),
]


def route(view: TurnView, say: Say) -> Decision:
    """Structured routing when the fast classifier was unsure: keyword cues, then order-like text, else smalltalk."""
    text = view.text
    intent = "smalltalk"
    if (has_any(text, _FEE) or has_any(text, _HOURS)) and not re.search(r"\d", text):
        # "quanto é a entrega?" is a question about the restaurant, not an item called "entrega"
        return call("RouteChoice", intent="menu")
    for name, words in _ROUTE_WORDS:
        if has_any(text, words):
            intent = name
            break
    else:
        lines = p.split_order_lines(text)
        if lines and any(line.qty is not None for line in lines):
            intent = "cart"
        elif p.parse_address(text).street or p.parse_email(text):
            intent = "registration"
    return call("RouteChoice", intent=intent)


# --- menu -----------------------------------------------------------------------------------------------

_HOURS = (
    "horario",
    "horarios",
    "aberto",
    "aberta",
    "abre",
    "abrem",
    "fecha",
    "fecham",
    "funciona",
    "funcionamento",
    "open",
    "opens",
    "close",
    "closes",
    "hours",
    "que horas",
)
_FEE = ("taxa", "frete", "entrega", "delivery", "entregam", "fee")
_DETAILS = (
    "o que vem",
    "que vem",
    "ingredientes",
    "quanto custa",
    "quanto e",
    "qual o preco",
    "what's in",
    "whats in",
    "how much is",
    "how much",
    "tamanhos",
    "sizes",
    "opcoes",
    "options",
    "detalhes",
    "details",
)
_QUESTION_FILLERS = re.compile(
    r"^(voces |vcs |vc |voce |tem |tem algum[a]? |tem alguma opcao |vende[m]? |queria saber |"
    r"o que vem n[oa] |que vem n[oa] |quanto custa [oa]? ?|quanto e [oa]? ?|qual o preco d[oa] |"
    r"do you have |have you got |what's in the |whats in the |how much is the |how much is |"
    r"me mostra |mostra |ver |quero ver |me ve |manda )+"
)


def _menu_query(text: str) -> str:
    norm = p.normalize(text).replace("?", " ").strip()
    norm = _QUESTION_FILLERS.sub("", norm + " ").strip()
    for filler in (
        "cardapio",
        "menu",
        "opcoes",
        "opcao",
        "options",
        "algo",
        "alguma coisa",
        "something",
        "por favor",
        "pfv",
        "please",
        "ai",
        "aí",
        "hoje",
        "today",
    ):
        norm = re.sub(rf"\b{filler}\b", " ", norm)
    return re.sub(r"\s+", " ", norm).strip()


def menu(view: TurnView, say: Say) -> Decision:
    """Menu questions: search, item details, hours, delivery fee."""
    text = view.text
    if view.acting:
        if has_any(text, _HOURS):
            return call("opening_hours")
        if has_any(text, _FEE) and not has_any(text, ("quero", "i want")):
            return call("delivery_fee")
        query = _menu_query(text)
        if has_any(text, _DETAILS) and query:
            return call("item_details", item=query)
        return call("search_menu", query=query)
    ex = view.exchanges[-1]
    r = ex.result
    if not ex.ok:
        if (
            r.get("error") in ("unknown_item", "ambiguous_item")
            and ex.name == "item_details"
            and not view.calls("search_menu")
        ):
            return call("search_menu", query=str(ex.args.get("item", "")))
        return Decision(text=error_reply(ex, say, "menu") or say("fallback.not_understood"), understood=False)
    kind = ex.kind
    if kind == "hours":
        if r.get("open_now"):
            return Decision(
                text=say.join(say("menu.open_now", today_hours=r.get("today_hours") or ""), say("menu.what_next"))
            )
        return Decision(text=say("menu.closed_now", next_opening=_when(r.get("next_opening"), say)))
    if kind == "delivery_fee":
        return Decision(text=say("menu.delivery_fee", fee=r.get("fee_text", "")))
    if kind == "item_details":
        return Decision(text=say.join(_item_details_text(r, say), say("menu.what_next")))
    if kind == "menu_search":
        items = r.get("items") or []
        if not items and not ex.args.get("query") and r.get("categories"):
            return Decision(
                text=say(
                    "menu.overview",
                    restaurant=view.context.get("restaurant", ""),
                    categories=say.words([str(c) for c in r["categories"]]),
                )
            )
        if not items:
            return Decision(
                text=say(
                    "menu.no_results", query=ex.args.get("query", ""), suggestions=say.words(r.get("suggestions", []))
                ),
                understood=False,
            )
        listing = _items_text(items, say)
        if r.get("tag"):
            return Decision(text=say.join(say("menu.results_tag", tag=r["tag"], items=listing), say("menu.what_next")))
        if not ex.args.get("query") and r.get("categories"):
            return Decision(
                text=say.join(
                    say(
                        "menu.overview",
                        restaurant=view.context.get("restaurant", ""),
                        categories=say.words(r["categories"]),
                    ),
                    listing,
                )
            )
        return Decision(text=say.join(say("menu.results", items=listing), say("menu.what_next")))
    return Decision(text=say("menu.what_next"))


def _when(iso: Any, say: Say) -> str:
    if not iso:
        return ""
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})", str(iso))
    if not m:
        return str(iso)
    _, mo, d, h, mi = m.groups()
    return f"{d}/{mo} {h}:{mi}" if say.locale == "pt-BR" else f"{mo}/{d} {h}:{mi}"


def _items_text(items: list[dict[str, Any]], say: Say) -> str:
    unavailable = "indisponível" if say.locale == "pt-BR" else "unavailable"
    lines = []
    for it in items:
        tail = f" ({unavailable})" if not it.get("available", True) else ""
        lines.append(f"• *{it.get('name')}* — {it.get('price_text', '')}{tail}")
    return "\n".join(lines)


def _item_details_text(r: dict[str, Any], say: Say) -> str:
    opts = []
    for g in r.get("options", []):
        choices = ", ".join(
            f"{c.get('name')}" + (f" ({c.get('price_delta_text')})" if c.get("price_delta_text") else "")
            for c in g.get("choices", [])
        )
        opts.append(f"{g.get('group')}: {choices}")
    if r.get("removable"):
        opts.append(("Pode tirar: " if say.locale == "pt-BR" else "Can be left out: ") + ", ".join(r["removable"]))
    text = say(
        "menu.item_details",
        name=r.get("name", ""),
        price=r.get("price_text", ""),
        description=r.get("description", ""),
        options="\n".join(opts),
    )
    if not r.get("available", True):
        text = say.join(text, say("menu.unavailable", name=r.get("name", ""), alternatives=""))
    return text


# --- cart -----------------------------------------------------------------------------------------------

_SHOW = (
    "carrinho",
    "meu pedido",
    "ver pedido",
    "o que eu pedi",
    "quanto ta",
    "quanto esta",
    "quanto fica",
    "quanto deu",
    "total",
    "cart",
    "my order",
    "what did i order",
    "show",
)
_CLEAR = (
    "limpa",
    "limpar",
    "esvazia",
    "esvaziar",
    "cancela tudo",
    "apaga tudo",
    "comecar de novo",
    "clear",
    "empty",
    "start over",
)
_REPEAT = (
    "repete",
    "repetir",
    "repita",
    "mesmo pedido",
    "ultimo pedido",
    "mesma coisa",
    "o de sempre",
    "repeat",
    "same as last",
    "last order",
    "same again",
)
_REMOVE = re.compile(
    r"^(tira[r]?|remove[r]?|retira[r]?|exclui[r]?|cancela[r]?|nao quero mais|desiste d[eoa]s?|"
    r"take off|take out|remove|delete|cancel|drop)\s+(o |a |os |as |the |um |uma |1 )?(.+)$"
)
_SET_QTY = re.compile(r"^(muda|mude|troca|altera|coloca|deixa|make it|change)\s+(?:para |pra |to )?(\d+|\w+)\s+(.+)$")


def cart(view: TurnView, say: Say) -> Decision:
    """Cart edits: add (one call per line, in order), options for a pending item, remove, quantities, show."""
    text = view.text
    ctx = view.context
    if view.acting:
        if is_price_injection(text):
            return Decision(text=say("fallback.price_injection"))
        norm = p.normalize(text)
        pending = ctx.get("pending")
        if pending and not _looks_like_new_order(text):
            return call("choose_option", choice=norm)
        if has_any(text, _REPEAT):
            return call("repeat_last_order")
        if has_any(text, _CLEAR):
            return call("clear_cart")
        m = _REMOVE.match(norm)
        if m:
            return call("remove_from_cart", item=m.group(3))
        m = _SET_QTY.match(norm)
        if m:
            qty = p.parse_quantity_word(m.group(2))
            if qty is not None:
                return call("set_quantity", item=m.group(3), qty=qty)
        lines = p.split_order_lines(text)
        if not lines or all(not line.item for line in lines):
            if has_any(text, _SHOW):
                return call("show_cart")
            return not_understood(say, "cart.what_to_add")
        if has_any(text, _SHOW) and all(not line.qty and len(line.item.split()) <= 2 for line in lines):
            return call("show_cart")
        return _add_line(lines[0])
    # responding: keep adding this message's remaining lines, one call at a time (each call sees the last cart)
    if view.calls("add_to_cart") and not view.calls("choose_option"):
        lines = [line for line in p.split_order_lines(text) if line.item]
        done = len(view.calls("add_to_cart"))
        if done < len(lines):
            return _add_line(lines[done])
    return Decision(*_cart_reply(view, say))


def _looks_like_new_order(text: str) -> bool:
    lines = p.split_order_lines(text)
    return bool(lines) and any(line.qty is not None for line in lines) and len(p.normalize(text).split()) > 2


def _add_line(line: p.LineRequest) -> Decision:
    item = line.raw or line.item
    return call("add_to_cart", item=item, qty=1 if line.qty is None else line.qty, removals=line.removals or None)


def _cart_reply(view: TurnView, say: Say) -> tuple[list[tuple[str, dict[str, Any]]], str, bool]:
    parts: list[str] = []
    added: list[str] = []
    last_cart: dict[str, Any] | None = None
    question: str | None = None
    understood = True
    for ex in view.exchanges:
        r = ex.result
        if ex.kind == "cart":
            last_cart = r.get("cart") or last_cart
            line = r.get("changed_line") or {}
            action = r.get("action")
            if action == "added" and line:
                added.append(f"{line.get('qty', '')}x {line.get('name', '')}".strip())
            elif action == "removed":
                parts.append(say("cart.removed", removed=ex.args.get("item", ""), cart=""))
            elif action == "cleared":
                parts.append(say("cart.cleared"))
            elif action == "repeated" and r.get("skipped"):
                parts.append(say("cart.repeated_skipped", skipped=say.words(r["skipped"]), cart=""))
            elif action == "repeated":
                parts.append(say("cart.repeated", cart=""))
            elif action == "updated":
                parts.append(say("cart.updated", cart=""))
        elif ex.kind == "cart_needs_option":
            choices = ", ".join(
                f"{c.get('name')}" + (f" ({c.get('price_text')})" if c.get("price_text") else "")
                for c in r.get("choices", [])
            )
            question = say("cart.needs_option", item=r.get("item", ""), group=r.get("group", ""), choices=choices)
        elif not ex.ok:
            msg = error_reply(ex, say, "cart")
            if msg:
                parts.append(msg)
            understood = False
    text_parts: list[str | None] = []
    if added:
        text_parts.append(say("cart.added", added=say.words(added), cart=""))
    text_parts.extend(parts)
    cart_view = last_cart or {}
    if cart_view and not cart_view.get("empty", False) and cart_view.get("text"):
        text_parts.append(cart_view["text"])
    elif last_cart is not None and cart_view.get("empty"):
        if not any(ex.kind == "cart" and ex.result.get("action") == "cleared" for ex in view.exchanges):
            text_parts.append(say("cart.empty"))
    if question:
        text_parts.append(question)
    elif understood and last_cart and not last_cart.get("empty"):
        text_parts.append(say("cart.what_next"))
    any_success = any(ex.ok for ex in view.exchanges)
    return [], say.join(*text_parts), understood or any_success


# --- registration ---------------------------------------------------------------------------------------

_NEW_ADDRESS = (
    "novo endereco",
    "outro endereco",
    "mudar endereco",
    "mudei",
    "endereco mudou",
    "trocar endereco",
    "mudar de endereco",
    "new address",
    "another address",
    "change address",
    "change my address",
)
_LIST_ADDRESSES = ("meus enderecos", "enderecos", "onde entrega", "my addresses", "addresses")
_NO_EMAIL = (
    "nao tenho",
    "sem email",
    "pular",
    "pula",
    "prefiro nao",
    "nao quero",
    "dispenso",
    "skip",
    "no email",
    "don't have",
    "dont have",
    "no thanks",
)


def registration(view: TurnView, say: Say) -> Decision:
    """Identification and registration, one question at a time, confirming before saving."""
    ctx = view.context
    text = view.text
    customer = ctx.get("customer") or {}
    draft = ctx.get("registration") or {}
    step = draft.get("awaiting")
    registered = bool(ctx.get("registered"))
    if not view.acting:
        return _registration_reply(view, say)
    if registered and not step:
        if has_any(text, _NEW_ADDRESS):
            return call("start_new_address")
        if has_any(text, _LIST_ADDRESSES):
            return call("list_addresses")
        number = re.fullmatch(r"\s*(\d{1,2})\s*", p.normalize(text))
        if ctx.get("awaiting") == "registration.address_choice" and number:
            return call("choose_address", index=int(number.group(1)))
        email = p.parse_email(text)
        if email:
            return call("update_customer", email=email)
        name = p.parse_name(text)
        if name and has_any(text, ("meu nome", "me chamo", "my name", "call me")):
            return call("update_customer", name=name)
        return Decision(
            text=say(
                "greeting.returning_no_orders",
                name=customer.get("name") or "",
                restaurant=view.context.get("restaurant", ""),
            )
        )
    if step == "address_choice":
        number = re.fullmatch(r"\s*(\d{1,2})\s*", p.normalize(text))
        if number:
            return call("choose_address", index=int(number.group(1)))
        if has_any(text, _NEW_ADDRESS) or has_any(text, ("novo", "new", "outro", "other")):
            return call("start_new_address")
    if step == "confirm":
        yes = p.parse_yes_no(text)
        if yes is True:
            return call("confirm_registration")
        fields = _registration_fields(text, "address")
        if fields:
            return call("update_registration", **fields)
        if yes is False:
            return Decision(text=say("registration.declined"))
        return not_understood(say, "registration.confirm_again")
    if step == "email":
        email = p.parse_email(text)
        if email:
            return call("update_registration", email=email)
        if p.parse_yes_no(text) is False or has_any(text, _NO_EMAIL):
            return call("update_registration", no_email=True)
        fields = _registration_fields(text, "address")
        if fields:
            return call("update_registration", **fields)
        return not_understood(say, "registration.ask_email", name=draft.get("name") or "")
    fields = _registration_fields(text, step or "name")
    if fields:
        return call("update_registration", **fields)
    if step in (None, "name") and not draft.get("name"):
        if step is None:
            # first contact: start the registration so the answer to "what's your name?" comes back here
            return call("update_registration")
        return not_understood(say, "registration.ask_name")
    if step == "address" or (draft.get("name") and step is None):
        return not_understood(say, "registration.ask_address", name=draft.get("name") or "")
    return not_understood(say)


def _registration_fields(text: str, step: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    email = p.parse_email(text)
    if email:
        fields["email"] = email
    cpf = p.parse_cpf(text)
    if cpf:
        fields["cpf"] = cpf
    rest = text
    if email:
        rest = rest.replace(email, " ")
    address = p.parse_address(rest)
    has_address = bool(address.street or (step == "address" and (address.number or address.neighborhood)))
    if step == "name" and not has_address:
        name = p.parse_name(rest)
        if name:
            fields["name"] = name
    elif step == "name" and has_address:
        # "João, Rua das Flores 123, Centro": a name before the address
        head = re.split(r",|\n", rest, maxsplit=1)[0]
        name = p.parse_name(head)
        if name and not p.parse_address(head).street:
            fields["name"] = name
    if has_address:
        for key in ("street", "number", "complement", "neighborhood", "city", "state", "postal_code", "reference"):
            value = getattr(address, key)
            if value:
                fields[key] = value
    return fields


def _registration_reply(view: TurnView, say: Say) -> Decision:
    ex = view.exchanges[-1]
    r = ex.result
    ctx = view.context
    if not ex.ok:
        code = r.get("error")
        if code == "invalid_field":
            return Decision(
                text=say("registration.invalid_field", fields=say.words(r.get("fields", []))), understood=False
            )
        return Decision(text=error_reply(ex, say, "registration") or say("error.internal"), understood=False)
    kind = ex.kind
    if kind == "registration":
        draft = r.get("draft") or {}
        name = draft.get("name") or ""
        step = r.get("next_step")
        if step == "name":
            if ex.args:
                return not_understood(say, "registration.ask_name")
            return Decision(text=say("greeting.new", restaurant=ctx.get("restaurant", "")))
        if step == "address":
            missing = [m for m in r.get("missing", []) if m in _FIELD_WORDS]
            has_some = any((draft.get("address") or {}).get(k) for k in ("street", "number", "neighborhood"))
            if has_some and missing:
                return Decision(
                    text=say(
                        "registration.ask_address_missing", missing=say.words([_field_word(m, say) for m in missing])
                    )
                )
            return Decision(text=say("registration.ask_address", name=name.split(" ")[0] if name else ""))
        if step == "email":
            return Decision(text=say("registration.ask_email", name=name.split(" ")[0] if name else ""))
        if step == "confirm":
            return Decision(text=say("registration.confirm", summary=r.get("summary_text", "")))
        return Decision(text=say("registration.updated"))
    if kind == "registered":
        customer = r.get("customer") or {}
        first = (customer.get("name") or "").split(" ")[0]
        cart_lines = ((ctx.get("cart") or {}).get("lines")) or []
        follow = say("registration.done_with_cart") if cart_lines else None
        return Decision(text=say.join(say("registration.done", name=first), follow))
    if kind == "addresses":
        listing = "\n".join(f"{a.get('index')}. {a.get('text')}" for a in r.get("addresses", []))
        return Decision(text=say("registration.addresses", addresses=listing))
    if kind in ("address_chosen", "default_address"):
        return Decision(text=say("registration.address_chosen", address=r.get("address_text") or r.get("text", "")))
    if kind == "customer_updated":
        return Decision(text=say("registration.updated"))
    return Decision(text=say("registration.updated"))


_FIELD_WORDS = {
    "street": ("a rua", "the street"),
    "number": ("o número", "the number"),
    "neighborhood": ("o bairro", "the neighbourhood"),
    "name": ("o nome", "the name"),
}


def _field_word(field_name: str, say: Say) -> str:
    pt, en = _FIELD_WORDS.get(field_name, (field_name, field_name))
    return pt if say.locale == "pt-BR" else en


# --- payment --------------------------------------------------------------------------------------------

_STATUS = ("status", "cade", "cadê", "demora", "ja pagou", "confirmou", "pagamento caiu", "where is my order", "paid?")


def payment(view: TurnView, say: Say) -> Decision:
    """Checkout: summary, payment method (with change for cash), confirmation, placement."""
    ctx = view.context
    text = view.text
    checkout = ctx.get("checkout") or {}
    if view.acting:
        if is_price_injection(text):
            return Decision(text=say("fallback.price_injection"))
        choice = p.parse_payment(text)
        if checkout.get("awaiting_confirmation"):
            yes = p.parse_yes_no(text)
            if yes is True and not choice.method:
                return call("place_order")
            if yes is False and not choice.method:
                return Decision(text=say("payment.cancelled"))
        if choice.method:
            return call(
                "set_payment_method",
                method=choice.method,
                change_for=str(choice.change_for) if choice.change_for is not None else None,
            )
        if choice.change_for is not None or re.search(r"\btroco\b|\bchange\b", p.normalize(text)):
            if checkout.get("payment_method") == "cash" or choice.change_for is not None:
                return call(
                    "set_payment_method",
                    method="cash",
                    change_for=str(choice.change_for) if choice.change_for is not None else None,
                )
        if has_any(text, _STATUS) and ctx.get("order"):
            return call("order_status")
        return call("checkout_summary")
    ex = view.exchanges[-1]
    r = ex.result
    if not ex.ok:
        code = r.get("error")
        key = {
            "not_registered": "payment.not_registered",
            "empty_cart": "payment.empty_cart",
            "no_address": "payment.no_address",
            "payment_failed": "payment.failed",
            "closed": "payment.closed",
        }.get(str(code))
        if code == "invalid_field" and "change_for" in r.get("fields", []):
            total = (ctx.get("checkout_total_text") or _total_text(view)) or ""
            return Decision(text=say("payment.invalid_change", total=total), understood=False)
        if key:
            return Decision(text=say(key, next_opening=""), understood=code != "payment_failed")
        if code == "not_confirmed":
            return call("checkout_summary")
        return Decision(text=error_reply(ex, say, "payment") or say("error.internal"), understood=False)
    kind = ex.kind
    if kind == "checkout":
        summary = r.get("text", "")
        if "payment_method" in (r.get("missing") or []) or not r.get("payment_method"):
            return Decision(text=say.join(say("payment.summary", summary=summary), say("payment.ask_method")))
        if ex.name == "set_payment_method" or r.get("ready"):
            return Decision(text=say("payment.ask_confirm", summary=summary))
        return Decision(text=say("payment.summary", summary=summary))
    if kind == "order_placed":
        method = r.get("payment_method")
        fields = {"order_id": r.get("order_id", ""), "total": r.get("total_text", "")}
        if r.get("error") == "payment_failed" or (method in ("pix", "card") and not r.get("pay_url")):
            return Decision(text=say("payment.failed"))
        if method == "pix":
            return Decision(
                text=say("payment.placed_pix", pix_code=r.get("pix_code", ""), pay_url=r.get("pay_url", ""), **fields)
            )
        if method == "card":
            return Decision(text=say("payment.placed_card", pay_url=r.get("pay_url", ""), **fields))
        return Decision(text=say("payment.placed_cash", change=r.get("change_text") or "", **fields))
    if kind == "order_status":
        return Decision(
            text=say(
                "payment.status", order_id=r.get("order_id", ""), status=r.get("status_text") or r.get("status", "")
            )
        )
    return Decision(text=say("payment.ask_method"))


def _total_text(view: TurnView) -> str | None:
    for ex in reversed(view.exchanges):
        if ex.result.get("total_text"):
            return str(ex.result["total_text"])
    return None


# --- handoff and smalltalk ------------------------------------------------------------------------------


def handoff(view: TurnView, say: Say) -> Decision:
    """Open a ticket for a human agent."""
    if view.acting:
        return call("request_human", reason=(view.text or "customer asked for a human")[:200], summary="")
    ex = view.exchanges[-1]
    if ex.ok:
        return Decision(text=say("handoff.opened"))
    return Decision(text=say("error.internal"), understood=False)


_THANKS = ("obrigado", "obrigada", "obg", "valeu", "vlw", "brigado", "thanks", "thank you", "thx", "agradeco")
_BYE = ("tchau", "ate mais", "ate logo", "falou", "flw", "bye", "goodbye", "see you", "boa noite", "fui")
_GREETING = (
    "oi",
    "ola",
    "opa",
    "eai",
    "e ai",
    "bom dia",
    "boa tarde",
    "boa noite",
    "hello",
    "hi",
    "hey",
    "salve",
    "good evening",
    "good morning",
    "good afternoon",
    "tudo bem",
    "oie",
    "oii",
)
_IDENTITY = (
    "quem e voce",
    "voce e um robo",
    "e um robo",
    "e robo",
    "bot",
    "who are you",
    "are you a bot",
    "are you human",
    "voce e humano",
    "e gente",
)
_HELP = (
    "ajuda",
    "como funciona",
    "como faco",
    "como pedir",
    "help",
    "how does",
    "how do i",
    "o que voce faz",
    "what can you",
)


def smalltalk(view: TurnView, say: Say) -> Decision:
    """Greetings, thanks, goodbyes, who-are-you, help."""
    text = view.text
    ctx = view.context
    customer = ctx.get("customer") or {}
    name = (customer.get("name") or "").split(" ")[0]
    if has_any(text, _IDENTITY):
        return Decision(text=say("smalltalk.identity", restaurant=view.context.get("restaurant", "")))
    if has_any(text, _HELP):
        return Decision(text=say("smalltalk.help", restaurant=view.context.get("restaurant", "")))
    if has_any(text, _THANKS):
        return Decision(text=say("smalltalk.thanks"))
    if has_any(text, _GREETING):
        last = customer.get("last_order") or {}
        if name and last.get("summary"):
            return Decision(
                text=say(
                    "greeting.returning",
                    name=name,
                    restaurant=view.context.get("restaurant", ""),
                    last_order=last["summary"],
                )
            )
        if name:
            return Decision(
                text=say("greeting.returning_no_orders", name=name, restaurant=view.context.get("restaurant", ""))
            )
        return Decision(text=say("greeting.new", restaurant=view.context.get("restaurant", "")))
    if has_any(text, _BYE):
        return Decision(text=say("smalltalk.bye"))
    if p.parse_yes_no(text) is not None:
        return Decision(text=say("smalltalk.how_to_order"))
    return not_understood(say)
