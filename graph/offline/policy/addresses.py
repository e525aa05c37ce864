"""Saved addresses as both the registration and the payment policies read and list them: the checkout picks,
adds and corrects addresses with the same tools as the registration, so it reads the customer's words the same way."""

from __future__ import annotations

import re
from typing import Any

from graph.offline import parsing as p
from graph.offline.policy.common import Decision, Say
from graph.offline.view import TurnView

# a correction naming its field: "não, o número é 510", "o bairro é Pinheiros", "the number is 12"
_NAMED_FIELD = re.compile(
    r"\b(?P<field>numero|number|bairro|neighbou?rhood|complemento|complement|rua|street)\b\s*"
    r"(?:e|eh|is|:|=)?\s*(?P<value>[^,.;]+)"
)
_FIELD_KEYS = {
    "numero": "number", "number": "number", "bairro": "neighborhood", "neighborhood": "neighborhood",
    "neighbourhood": "neighborhood", "complemento": "complement", "complement": "complement", "rua": "street",
    "street": "street",
}  # fmt: skip


def named_fields(text: str) -> dict[str, Any]:
    """The address field a correction names and its new value ("o número é 510" → {"number": "510"}; {} when none)."""
    m = _NAMED_FIELD.search(p.normalize(text))
    if not m:
        return {}
    # the value as the customer wrote it (accents and capitals), found at the same place in the original text
    value = m.group("value").strip()
    original = re.search(re.escape(value), p.normalize(text))
    if original and len(text) == len(p.normalize(text)):
        value = text[original.start() : original.end()].strip()
    return {_FIELD_KEYS[m.group("field")]: value} if value else {}


_ORDINALS = {"primeiro": 1, "segundo": 2, "terceiro": 3, "quarto": 4, "first": 1, "second": 2, "third": 3}


def _labels(view: TurnView) -> list[tuple[int, str]]:
    customer = view.context.get("customer") or {}
    return [(i, str(a["label"])) for i, a in enumerate(customer.get("addresses") or [], start=1) if a.get("label")]


def which_address(view: TurnView) -> dict[str, Any]:
    """The saved address the text points at: "2", "o segundo", "trabalho", "a do trabalho" ({} when none)."""
    norm = p.normalize(view.text)
    for _index, label in _labels(view):
        if re.search(rf"\b{re.escape(p.normalize(label))}\b", norm):
            return {"label": label}
    number = re.search(r"(?<![\d,.])\b(\d{1,2})\b(?![\d,.])", norm)
    if number and len(norm.split()) <= 4:
        return {"index": int(number.group(1))}
    for word, index in _ORDINALS.items():
        if re.search(rf"\b{word}\b", norm):
            return {"index": index}
    return {}


def address_listing(addresses: list[dict[str, Any]]) -> str:
    """ "1. *casa*: Rua das Flores, 123 - Centro, São Paulo/SP" one per line."""
    return "\n".join(
        f"{a.get('index')}. *{a['label']}*: {a.get('text')}" if a.get("label") else f"{a.get('index')}. {a.get('text')}"
        for a in addresses
    )


def address_error_reply(ex: Any, say: Say) -> Decision | None:
    """The sentence for an address tool's refusal: a CEP that isn't one, an address the customer doesn't have."""
    r = ex.result
    fields = r.get("fields") or []
    if r.get("error") == "invalid_field" and "postal_code" in fields:
        return Decision(text=say("registration.invalid_cep"), understood=False)
    if r.get("error") == "invalid_field" and ("index" in fields or "label" in fields):
        listing = "\n".join(f"{i}. {s}" for i, s in enumerate(r.get("suggestions") or [], start=1))
        return Decision(text=say("registration.unknown_address", addresses=listing), understood=False)
    return None
