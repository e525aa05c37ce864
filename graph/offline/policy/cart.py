"""The cart policy: order lines, edits and "ver carrinho" become cart tool calls; results become replies."""

from __future__ import annotations

import re
from typing import Any

from graph.guard import is_price_injection
from graph.offline import parsing as p
from graph.offline.policy.common import (
    Decision,
    Say,
    allergens_held,
    call,
    error_reply,
    has_any,
    not_understood,
)
from graph.offline.policy.menu import when
from graph.offline.view import ToolExchange, TurnView

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
# "show my cart", "ver meu carrinho", "me mostra o pedido": the cart, not an item called "show my cart"
_SHOW_RE = re.compile(
    r"^(?:(?:can you |could you |please )?(?:show|see|view|check)|ver|mostra|me mostra|mostrar|confere|conferir)\b"
    r".*\b(?:cart|carrinho|pedido|order)\b"
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
_EDIT_LEAD = re.compile(r"^(?:(?:opa|ops|ah|na verdade|pensando bem|actually|oh|oops|e|and)\b[\s,]*)+")
_REMOVE = re.compile(
    r"^(tira[r]?|remove[r]?|retira[r]?|exclui[r]?|cancela[r]?|nao quero mais|desiste d[eoa]s?|"
    r"take off|take out|remove|delete|cancel|drop)\s*(o |a |os |as |the |um |uma |one |an |a |\d+ )?(.*)$"
)
# "muda pra 3 cheese bacon", "make it 3 cokes"
_SET_QTY = re.compile(r"^(?:muda|mude|altera|deixa|make it|change it to|change)\s+(?:para |pra |to )?(\d+|\w+)\s+(.+)$")
# "muda o cheese bacon pra 3", "change the coke to 2"
_SET_QTY_AFTER = re.compile(
    r"^(?:muda|mude|altera|deixa|change|make)\s+(?:o |a |os |as |the )?(.+?)\s+(?:para|pra|to)\s+(\d+|\w+)$"
)
# "troca a coca por um guaraná", "swap the coke for a guarana", "em vez da coca, um suco"
_SWAP = re.compile(
    r"^(?:troca[r]?|trocar|substitui[r]?|muda[r]?|swap|change|replace)\s+(?:o |a |os |as |the |um |uma )?(.+?)\s+"
    r"(?:por|pelo|pela|for|with|to)\s+(.+)$"
)
_INSTEAD = re.compile(r"^(?:em vez d[eoa]s?|ao inves d[eoa]s?|instead of)\s+(?:the |a |an )?(.+?)\s*,\s*(.+)$")


def cart(view: TurnView, say: Say) -> Decision:
    """Cart edits: add (one call per line, in order), options for a pending item, remove, quantities, show."""
    text = view.text
    ctx = view.context
    if view.acting:
        if is_price_injection(text):
            return Decision(text=say("fallback.price_injection"))
        norm = p.normalize(text)
        if ctx.get("awaiting") == "cart.usual":
            # the greeting offered "o de sempre, sem cebola?": a yes repeats it, a no asks what it is today
            answer = p.parse_yes_no(text)
            if answer is True:
                return call("repeat_last_order")
            if answer is False:
                return Decision(text=say("greeting.usual_declined"))
        pending = ctx.get("pending")
        if pending and not _looks_like_new_order(text):
            return call("choose_option", choice=norm)
        which = _answer_to_which(view, say, norm)
        if which is not None:
            return which
        if has_any(text, _REPEAT):
            return call("repeat_last_order")
        if has_any(text, _CLEAR):
            return call("clear_cart")
        edit = _edit(_EDIT_LEAD.sub("", norm).strip(" ,.!"), ctx)
        if edit is not None:
            return edit
        if _SHOW_RE.search(norm):
            return call("show_cart")
        lines = p.split_order_lines(text)
        if not lines or all(not line.item for line in lines):
            if has_any(text, _SHOW):
                return call("show_cart")
            return not_understood(say, "cart.what_to_add")
        if has_any(text, _SHOW) and all(not line.qty and len(line.item.split()) <= 2 for line in lines):
            return call("show_cart")
        return _add_line(lines[0])
    # responding: "sem açúcar" was no ingredient to leave out: it may be the option called "Sem açúcar"
    last = view.exchanges[-1]
    if _refused_removal(last):
        removals = [str(r) for r in last.args["removals"]]
        item = str(last.args.get("item", ""))
        for r in removals:
            item = re.sub(rf"\s*\b(sem|without|no)\s+{re.escape(r)}\b", "", item)
        options = [f"sem {r}" for r in removals]
        return call("add_to_cart", item=item.strip(), qty=last.args.get("qty", 1), options=options)
    # responding: a swap adds the new item once the old one is out
    swap = _swap_target(_EDIT_LEAD.sub("", p.normalize(text)).strip(" ,.!"))
    if swap and view.calls("remove_from_cart") and view.exchanges[-1].ok and not view.calls("add_to_cart"):
        return _add_line(_one_line(swap))
    # responding: keep adding this message's remaining lines, one call at a time (each call sees the last cart)
    if view.calls("add_to_cart") and not view.calls("choose_option") and not swap:
        lines = [line for line in p.split_order_lines(text) if line.item]
        done = len(view.calls("add_to_cart"))
        if done < len(lines):
            return _add_line(lines[done])
        # a size question asked before the other items went in: ask it again last, so the item is the one
        # pending when the answer ("grande") comes (each successful add clears what was pending)
        asked = [ex for ex in view.exchanges if ex.kind == "cart_needs_option"]
        if asked and done == len(lines) and view.exchanges[-1].kind != "cart_needs_option":
            return call("add_to_cart", **asked[-1].args)
    return Decision(*_cart_reply(view, say))


def _refused_removal(ex: ToolExchange) -> bool:
    """An add refused for a "sem ..." that named no removable ingredient (retried once as an option)."""
    return (
        ex.name == "add_to_cart"
        and ex.result.get("error") == "invalid_option"
        and bool(ex.args.get("removals"))
        and not ex.args.get("options")
    )


def _refusal_kind(ex: ToolExchange) -> str | None:
    """An option or removal the item doesn't have, told as what it is: a "sem ..." lists what can be left out, not
    the item's options ("X-Bacon não tem a opção "cebola". As opções são: ." read as if about sizes), and an item
    with nothing to choose or leave out says so instead of an empty list."""
    r = ex.result
    if r.get("error") != "invalid_option":
        return None
    removals = [str(x) for x in ex.args.get("removals") or []]
    removal = bool(removals) and (not ex.args.get("options") or r.get("option") in removals)
    kind = "invalid_removal" if removal else "invalid_option"
    return kind if r.get("suggestions") else f"{kind}_none"


def _retry_decided(exchanges: list[ToolExchange], i: int) -> bool:
    """Whether exchange i says nothing of its own: a refused removal whose option retry worked, or a failed retry."""
    ex = exchanges[i]
    if _refused_removal(ex):
        retry = exchanges[i + 1] if i + 1 < len(exchanges) else None
        return retry is not None and retry.name == "add_to_cart" and retry.ok
    return not ex.ok and i > 0 and _refused_removal(exchanges[i - 1]) and bool(ex.args.get("options"))


def _edit(norm: str, ctx: dict[str, Any]) -> Decision | None:
    """A change to what is already in the cart: swap, remove (all or some units), set a quantity."""
    lines = (ctx.get("cart") or {}).get("lines") or []
    m = _SWAP.match(norm) or _INSTEAD.match(norm)
    if m and lines and p.parse_quantity_word(m.group(2).strip()) is None:
        return call("remove_from_cart", item=_line_ref(m.group(1), lines))
    m = _SET_QTY_AFTER.match(norm)
    if m and lines:
        qty = p.parse_quantity_word(m.group(2))
        if qty is not None:
            return call("set_quantity", item=_line_ref(m.group(1), lines), qty=qty)
    m = _SET_QTY.match(norm)
    if m and lines:
        qty = p.parse_quantity_word(m.group(1))
        if qty is not None:
            return call("set_quantity", item=_line_ref(m.group(2), lines), qty=qty)
    m = _REMOVE.match(norm + " ")
    if m and lines:
        article = (m.group(2) or "").strip()
        rest = re.sub(r"\b(so|quero so|i only want|only)\b.*$", "", m.group(3)).strip(" ,.")
        # "tira uma" / "tira uma coca" / "tira 2 cocas": units; "tira a coca": the whole line
        units = p.parse_quantity_word(article) if article not in ("o", "a", "os", "as", "the") else None
        line = _line_of(rest, lines) if rest else (lines[-1] if units else None)
        if line is None:
            return call("remove_from_cart", item=rest or norm) if rest else None
        if units is not None and int(line.get("qty", 1)) > units:
            return call("set_quantity", item=_ref_of(line, lines), qty=int(line["qty"]) - units)
        return call("remove_from_cart", item=_ref_of(line, lines))
    return None


_EN_WORDS = {"can": "lata", "bottle": "garrafa", "large": "grande", "small": "pequena", "medium": "media"}


def _answer_to_which(view: TurnView, say: Say, norm: str) -> Decision | None:
    """The answer to our own "which one?" (several items matched): the one it names goes in the cart."""
    template = say("cart.ambiguous_item", item="\x00", suggestions="\x01")
    pattern = re.escape(template).replace("\x00", "(?P<item>.+?)").replace("\x01", "(?P<choices>.+?)")
    m = re.search(pattern, view.last_reply)
    if not m or len(norm.split()) > 5:
        return None
    choices = [c.strip() for c in re.split(r",\s*|\s+(?:e|and|ou|or)\s+", m.group("choices")) if c.strip()]
    words = " ".join(_EN_WORDS.get(w, w) for w in norm.split())
    hits = p.fuzzy_find(words, choices, limit=2)
    if not hits or (len(hits) > 1 and hits[0].score == hits[1].score):
        return None
    qty = next((line.qty for line in p.split_order_lines(norm) if line.qty), None)
    return call("add_to_cart", item=choices[hits[0].index], qty=qty or 1)


def _swap_target(norm: str) -> str | None:
    m = _SWAP.match(norm) or _INSTEAD.match(norm)
    if m and p.parse_quantity_word(m.group(2).strip()) is None:
        return m.group(2)
    return None


def _one_line(text: str) -> p.LineRequest:
    lines = [line for line in p.split_order_lines(text) if line.item]
    return lines[0] if lines else p.LineRequest(qty=None, item=text, removals=[], additions=[], raw=text)


def _line_of(name: str, lines: list[dict[str, Any]]) -> dict[str, Any] | None:
    hits = p.fuzzy_find(name, [str(line.get("name", "")) for line in lines], limit=1)
    return lines[hits[0].index] if hits else None


def _line_ref(name: str, lines: list[dict[str, Any]]) -> str:
    line = _line_of(name, lines)
    return _ref_of(line, lines) if line else name


def _ref_of(line: dict[str, Any], lines: list[dict[str, Any]]) -> str:
    # the line's number as the cart shows it: names repeat when the same item has other options
    return str(lines.index(line) + 1)


def _looks_like_new_order(text: str) -> bool:
    lines = p.split_order_lines(text)
    return bool(lines) and any(line.qty is not None for line in lines) and len(p.normalize(text).split()) > 2


# words the menu doesn't use: portions ("uma porção de onion rings") and English for Portuguese option names
_PORTION = re.compile(r"^(?:porcao|porcoes|prato|pedaco|pedacos|unidade|unidades|portion|serving)\s+(?:de\s+|of\s+)?")
_MENU_WORDS = {
    **{"large": "grande", "medium": "media", "small": "broto", "family": "familia", "can": "lata"},
    **{"coke": "coca", "cokes": "coca", "please": "", "pls": "", "green tea": "cha verde", "tea": "cha"},
}
_MENU_WORDS_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _MENU_WORDS), key=len, reverse=True)) + r")\b")


def _menu_words(item: str) -> str:
    item = _PORTION.sub("", item.strip())
    return re.sub(r"\s+", " ", _MENU_WORDS_RE.sub(lambda m: _MENU_WORDS[m.group(1)], item)).strip()


def _add_line(line: p.LineRequest) -> Decision:
    item = _menu_words(line.raw or line.item)
    return call("add_to_cart", item=item, qty=1 if line.qty is None else line.qty, removals=line.removals or None)


def _allergy_question(held: list[dict[str, Any]], say: Say) -> str:
    """One yes/no about every held line of the usual, naming each with what it carries ("A e B levam leite")."""
    if len(held) == 1:
        return say("cart.allergy_warning", item=held[0]["item"], option=held[0]["allergen"])
    options, contains = allergens_held(held, say)
    return say("cart.allergy_warning_many", options=options, contains=contains)


def _cart_reply(view: TurnView, say: Say) -> tuple[list[tuple[str, dict[str, Any]]], str, bool]:
    parts: list[str] = []
    added: list[str] = []
    last_cart: dict[str, Any] | None = None
    question: str | None = None
    # what a result kept out because it left the menu, said after the cart whatever else the result says
    gone: list[str] = []
    understood = True
    for i, ex in enumerate(view.exchanges):
        r = ex.result
        if _retry_decided(view.exchanges, i):
            # a refused "sem ..." and its retry as an option are one request, with one answer: the option's line if
            # the retry worked ("sem açúcar"), else the removal's refusal alone, said once ("sem cebola")
            continue
        if ex.kind == "cart":
            last_cart = r.get("cart") or last_cart
            line = r.get("changed_line") or {}
            action = r.get("action")
            if action == "added" and line:
                # a yes to several held lines of the usual adds them all in one result: name every one
                for ln in (line, *r.get("also_changed_lines", [])):
                    added.append(f"{ln.get('qty', '')}x {ln.get('name', '')}".strip())
                # one of those held lines may have left the menu between the question and the yes
                gone.extend(r.get("skipped", []))
            elif action == "removed":
                parts.append(say("cart.removed", removed=line.get("name") or ex.args.get("item", ""), cart=""))
            elif action == "cleared":
                parts.append(say("cart.cleared"))
            elif action == "repeated" and r.get("held"):
                # the usual went in but for the lines with the customer's allergens: say what's in, then ask about
                # every one of them in one question
                held = r["held"]["items"]
                names = [h["item"] for h in held]
                if not (r.get("cart") or {}).get("empty"):
                    parts.append(
                        say("cart.repeated_held", item=names[0], cart="")
                        if len(names) == 1
                        else say("cart.repeated_held_many", items=say.words(names), cart="")
                    )
                question = _allergy_question(held, say)
                gone.extend(r.get("skipped", []))  # the question is about the held lines; these are gone anyway
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
        elif not ex.ok and r.get("error") == "allergy_declined" and r.get("items"):
            parts.append(say("cart.allergy_declined", item=say.words(r["items"])))
        elif not ex.ok:
            msg = error_reply(ex, say, "cart", _refusal_kind(ex))
            if msg:
                parts.append(msg)
            # an allergy warning (or the customer declining after it) is the bot doing its job, not a failure
            understood = understood and r.get("error") in ("allergy_warning", "allergy_declined")
    text_parts: list[str | None] = []
    closed = next(
        (ex.result["closed_until"] for ex in view.exchanges if ex.result.get("closed_until") is not None), None
    )
    notice = say("cart.closed", next_opening=when(closed, say)) if closed is not None else ""
    if notice and notice not in view.last_reply:
        # the first item while closed: say so now, not at the final "sim" (and not again at every item)
        text_parts.append(notice)
    if added:
        text_parts.append(say("cart.added", added=say.words(added), cart=""))
    text_parts.extend(parts)
    cart_view = last_cart or {}
    if cart_view and not cart_view.get("empty", False) and cart_view.get("text"):
        text_parts.append(cart_view["text"])
    elif last_cart is not None and cart_view.get("empty") and question is None:
        if not any(ex.kind == "cart" and ex.result.get("action") == "cleared" for ex in view.exchanges):
            text_parts.append(say("cart.empty"))
    if gone:
        key = "cart.unavailable_today" if len(gone) == 1 else "cart.unavailable_today_many"
        text_parts.append(say(key, skipped=say.words(gone)))
    if question:
        text_parts.append(question)
    elif understood and last_cart and not last_cart.get("empty"):
        text_parts.append(say("cart.what_next"))
    any_success = any(ex.ok for ex in view.exchanges)
    return [], say.join(*text_parts), understood or any_success
