"""The menu policy: menu questions become search/detail/hours/fee tool calls, and results become sentences."""

from __future__ import annotations

import re
from typing import Any

from graph.language.followup import follow_up_subject
from graph.offline import parsing as p
from graph.offline.policy.common import Decision, Say, call, error_reply, has_any
from graph.offline.view import TurnView

# --- menu -----------------------------------------------------------------------------------------------

_HOURS = (
    "horario",
    "horarios",
    "aberto",
    "aberta",
    "abertos",
    "abertas",
    "funcionando",
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
AWAITING_PLACE = "menu.place"  # graph.graph.AWAITING_PLACE: the bot asked whether a misspelt place was another
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
# diets and tags: "opções veganas" is a search by tag, not the details of an item called "veganas"
_DIET = (
    *("vegano", "vegana", "veganos", "veganas", "vegetariano", "vegetariana", "vegetarianos", "vegetarianas"),
    *("sem gluten", "sem lactose", "vegan", "vegetarian", "gluten free", "gluten-free", "picante", "spicy"),
)
_DIET_NOISE = frozenset("sou eu posso pedir comer que o a pra para tem voces vcs quais opcoes opcao".split())
_QUESTION_FILLERS = re.compile(
    r"^(voces |vcs |vc |voce |tem |tem algum[a]? |tem alguma opcao |vende[m]? |queria saber |"
    r"o que vem n[oa] |que vem n[oa] |quanto custa [oa]? ?|quanto e [oa]? ?|qual o preco d[oa] |"
    r"do you have |have you got |what's in the |whats in the |how much is the |how much is |"
    r"me mostra |mostra |ver |quero ver |me ve |me manda |me passa |me envia |manda |o |a |os |as )+"
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


_CEP = re.compile(r"\b\d{5}-?\d{3}\b")
# "entregam em Moema?", "a taxa pra Vila Madalena", "delivery to Pinheiros": the words after the preposition
_PLACE = re.compile(r"\b(?:para|pra|pro|em|no|na|to|in)\s+(?:o\s+|a\s+)?(?:bairro\s+)?([^?!.,;:]+)", re.IGNORECASE)
# what follows a preposition without being a place ("entregam no domingo?", "pra minha casa", "em quanto tempo")
_NOT_PLACE = (
    "meu",
    "minha",
    "my",
    "casa",
    "aqui",
    "endereco",
    "address",
    "home",
    "quanto",
    "quantos",
    "tempo",
    "hoje",
    "today",
    "amanha",
    "domingo",
    "segunda",
    "terca",
    "quarta",
    "quinta",
    "sexta",
    "sabado",
    "feriado",
    "sunday",
    "monday",
    "saturday",
    "friday",
    "minutos",
    "minutes",
    "hora",
    "horas",
    "hour",
    "sao paulo",
    "sp",
    "cidade",
    "city",
)


def fee_place(text: str) -> str | None:
    """The neighbourhood or CEP a delivery-fee question names, if any ("entregam em Moema?" → "Moema")."""
    if cep := _CEP.search(text):
        return cep.group(0)
    found = _PLACE.search(text)
    if found is None:
        return None
    return _place(found.group(1))


def _place(words: str) -> str | None:
    place = words.strip()
    if not place or has_any(place, _NOT_PLACE) or len(place.split()) > 4:
        return None
    return place


def _asks_fee(text: str) -> bool:
    return has_any(text, _FEE) and not has_any(text, ("quero", "i want"))


def fee_follow_up(view: TurnView) -> str | None:
    """The place of "e em Moema?" when the question it continues asked the delivery fee; None otherwise.

    The question continued is the customer's last message that isn't itself a follow-up, so "e em Pinheiros?"
    then "e pra Moema?" both go back to "qual a taxa pra Vila Madalena?". The fee is still the tool's answer."""
    subject = follow_up_subject(view.text)
    if subject is None:
        return None
    asked = next((t for t in view.earlier if follow_up_subject(t) is None), "")
    if not _asks_fee(asked) or has_any(asked, _HOURS):
        return None
    if cep := _CEP.search(subject):
        return cep.group(0)
    return _place(subject)


def _delivery_fee_text(r: dict[str, Any], say: Say) -> str:
    """The flat fee; by area, the customer's address's fee, that it is outside every area, or every area's fee."""
    if not r.get("by_area"):
        return say("menu.delivery_fee", fee=r.get("fee_text") or "")
    if r.get("did_you_mean"):
        # a misspelt neighbourhood: ask, never quote a fee for a place the customer may not have meant
        return say("menu.did_you_mean_place", place=r["did_you_mean"])
    areas = "\n".join(f"• {a.get('text', '')}" for a in r.get("areas") or [])
    if r.get("fee_text") and r.get("place"):
        return say("menu.delivery_fee_area", place=r["place"], fee=r["fee_text"])
    if r.get("outside") and r.get("place"):
        return say("menu.delivery_fee_outside", place=r["place"], areas=areas)
    return say("menu.delivery_fee_by_area", areas=areas)


def _did_you_mean_answer(view: TurnView, say: Say) -> Decision | None:
    """The customer's answer to "Você quis dizer *Vila Madalena*?": a yes asks the tool that place's fee (the fee
    is only ever the tool's), a no asks for the place again; None for anything else (a new question)."""
    place = view.context.get("suggested_place")
    if view.context.get("awaiting") != AWAITING_PLACE or not place:
        return None
    yes = p.parse_yes_no(view.text)
    if yes is True:
        return call("delivery_fee", place=str(place))
    if yes is False:
        return Decision(text=say("menu.place_not_meant"))
    return None


def menu(view: TurnView, say: Say) -> Decision:
    """Menu questions: search, item details, hours, delivery fee."""
    text = view.text
    if view.acting:
        if (answer := _did_you_mean_answer(view, say)) is not None:
            return answer
        if has_any(text, _HOURS):
            return call("opening_hours")
        if _asks_fee(text):
            return call("delivery_fee", place=fee_place(text))
        if (place := fee_follow_up(view)) is not None:
            return call("delivery_fee", place=place)
        query = _menu_query(text)
        if has_any(text, _DETAILS) and query and not has_any(text, _DIET):
            return call("item_details", item=query)
        if has_any(text, _DIET):
            # "sou vegano, o que eu posso pedir?": the diet is the query, the rest of the sentence only adds noise
            norm = f" {p.normalize(text)} "
            diet = [w for w in _DIET if f" {w} " in norm.replace(",", " ").replace("?", " ")]
            rest = [w for w in re.sub(r"[,;:!?.]", " ", query).split() if w not in _DIET_NOISE]
            query = " ".join(dict.fromkeys([*diet[:1], *rest])) if diet else query
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
        return Decision(text=_delivery_fee_text(r, say))
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
            tag = tag_words(str(r["tag"]), say)
            return Decision(text=say.join(say("menu.results_tag", tag=tag, items=listing), say("menu.what_next")))
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


def tag_words(tag: str, say: Say) -> str:
    """A menu tag as the customer reads it ("vegano" → "veganas" / "vegan"); the tag itself when unknown."""
    key = "tag." + re.sub(r"\W+", "_", p.normalize(tag)).strip("_")
    return say(key) if say.prompts.has_reply(key) else tag


def when(iso: Any, say: Say) -> str:
    """An ISO local time as "24/11 18:00" (pt-BR) or "11/24 18:00" (en)."""
    return _when(iso, say)


def _when(iso: Any, say: Say) -> str:
    if not iso:
        return ""
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})", str(iso))
    if not m:
        return str(iso)
    _, mo, d, h, mi = m.groups()
    return f"{d}/{mo} {h}:{mi}" if say.locale == "pt-BR" else f"{mo}/{d} {h}:{mi}"


def _items_text(items: list[dict[str, Any]], say: Say) -> str:
    unavailable = say("menu.unavailable_mark")
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
