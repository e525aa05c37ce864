"""The registration policy: name, address, e-mail and confirmation, step by step."""

from __future__ import annotations

import re
from typing import Any

from graph.language import fold
from graph.offline import parsing as p
from graph.offline.parse.text import _STREET_TYPES
from graph.offline.policy.addresses import named_fields, which_address
from graph.offline.policy.chat import BYE, GREETING
from graph.offline.policy.common import Decision, Say, call, has_any, not_understood
from graph.offline.policy.privacy import privacy_step, refuses_consent
from graph.offline.policy.registration_reply import registration_reply
from graph.offline.view import TurnView

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


# skipping the e-mail, and nothing else ("não quero" at the summary refuses the summary)
_SKIP_EMAIL = ("pular", "pula", "skip", "sem email", "no email")

# goodbyes that are not also greetings ("boa noite" is both)
_ONLY_BYE = tuple(w for w in BYE if w not in GREETING)


def registration(view: TurnView, say: Say) -> Decision:
    """Identification and registration, one question at a time, confirming before saving."""
    ctx = view.context
    text = view.text
    customer = ctx.get("customer") or {}
    draft = ctx.get("registration") or {}
    step = draft.get("awaiting")
    registered = bool(ctx.get("registered"))
    if not view.acting:
        return registration_reply(view, say)
    if (privacy := privacy_step(view, say)) is not None:
        return privacy
    if pin := ctx.get("shared_location"):
        # a WhatsApp pin: its coordinates go from the message to the tool; the map's address text fills the rest
        return call("use_shared_location", **_pin_fields(pin.get("address") or ""))
    if registered and not step:
        if (managed := manage_addresses(view)) is not None:
            return managed
        if has_any(text, _NEW_ADDRESS):
            return call("start_new_address", label=_new_label(view.text))
        if has_any(text, _LIST_ADDRESSES):
            return call("list_addresses")
        number = re.fullmatch(r"\s*(\d{1,2})\s*", p.normalize(text))
        if number and (ctx.get("awaiting") == "registration.address_choice" or _listed_addresses(view, say)):
            return call("choose_address", index=int(number.group(1)))
        if ctx.get("awaiting") == "registration.address_choice" and (which := which_address(view)):
            return call("choose_address", **which)
        if typed := typed_address(text):
            # "entrega na Rua Augusta, 500, Consolação": a new address, confirmed before it is saved
            return call("update_registration", **typed)
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
        if which := which_address(view):
            return call("choose_address", **which)
        if has_any(text, _NEW_ADDRESS) or has_any(text, ("novo", "new", "outro", "other")):
            return call("start_new_address")
    if step == "confirm":
        if refuses_consent(text):
            # "não autorizo": they can still order; the data stays only for this order
            return call("confirm_registration", consent=False)
        yes = p.parse_yes_no(text)
        if yes is True:
            return call("confirm_registration")
        if has_any(text, _SKIP_EMAIL):
            # "pular" at the summary skips the e-mail, or nothing: it was once saved as the neighbourhood
            if draft.get("email"):
                return not_understood(say, "registration.confirm_again")
            return call("update_registration", no_email=True)
        fields = named_fields(text) or _registration_fields(text, "address")
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
    if step is None and not draft.get("name") and has_any(text, _ONLY_BYE):
        # "tchau" is a goodbye, not a name
        return Decision(text=say("smalltalk.bye"))
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
    if "postal_code" not in fields and (has_address or step == "address"):
        if address.postal_code:
            fields["postal_code"] = address.postal_code
        elif cep := _CEP_GIVEN.search(rest):
            # "CEP 0131O-1OO": not a CEP the parser knows, yet the customer meant one; the tool says what's wrong
            fields["postal_code"] = cep.group(1)
    return fields


_CEP_GIVEN = re.compile(r"\bCEP\b[:\s]*([\w.-]{5,12})", re.IGNORECASE)


def _listed_addresses(view: TurnView, say: Say) -> bool:
    """Our last reply listed the customer's addresses and asked which one: a bare number answers it."""
    heading = say("registration.addresses", addresses="\x00").split("\x00", 1)[0].strip()
    return bool(heading) and heading in view.last_reply


# --- addresses (seed 003 §3.4) ---------------------------------------------------------------------------

_REMOVE = ("apaga", "apague", "apagar", "remove", "remova", "remover", "tira", "tire", "exclui", "exclua", "delete")
_DEFAULT = ("padrao", "principal", "default", "main address")
_ADDRESS_WORD = ("endereco", "enderecos", "address", "addresses")
# "chama o endereço 2 de trabalho", "renomeia o 1 pra casa", "rename address 2 to work"
_RENAME = re.compile(
    r"\b(?:chama|chame|renomeia|renomeie|rename|call|nomeia|nomeie)\b.*?(?P<which>\d{1,2}|\w+)\s+"
    r"(?:de|para|pra|como|to|as)\s+(?P<label>[\w ]{1,30})$"
)
# "o endereço novo é do trabalho", "novo endereço (trabalho)": a label for the address being added
_NEW_LABEL = re.compile(
    r"\b(?:do|da|de|pro|pra|for)\s+(?:the\s+)?(?P<label>trabalho|casa|escritorio|work|home|office)\b"
)


def _new_label(text: str) -> str | None:
    m = _NEW_LABEL.search(p.normalize(text))
    return m.group("label") if m else None


def manage_addresses(view: TurnView) -> Decision | None:
    """A registered customer managing saved addresses: remove, set default, rename, or correct a field."""
    text = view.text
    norm = p.normalize(text)
    rename = _RENAME.search(norm)
    if rename:
        which = rename.group("which")
        target: dict[str, Any] = {"index": int(which)} if which.isdigit() else which_address(view)
        label = text[len(text) - len(rename.group("label")) :] if len(text) == len(norm) else rename.group("label")
        return call("rename_address", new_label=label.strip(), **target)
    if has_any(text, _REMOVE) and has_any(text, _ADDRESS_WORD) and (which := which_address(view)):
        return call("remove_address", **which)
    if has_any(text, _DEFAULT) and (which := which_address(view)):
        return call("set_default_address", **which)
    fields = named_fields(text)
    if fields and has_any(text, ("nao", "errado", "na verdade", "corrige", "corrigir", "not", "wrong", "actually")):
        # "o número é 510, não 150": the value the customer wants, and the old one says which address it was
        return call("correct_address", **fields, **_address_holding(view, fields))
    return None


def _address_holding(view: TurnView, fields: dict[str, Any]) -> dict[str, Any]:
    """The saved address whose field holds the value being corrected ("não 150"), when one does."""
    old = re.search(r"\b(?:nao|not)\s+(?:e\s+|is\s+)?(\w[\w ]{0,40}?)\s*[.!]?$", p.normalize(view.text))
    if not old:
        return {}
    customer = view.context.get("customer") or {}
    for index, address in enumerate(customer.get("addresses") or [], start=1):
        if any(p.normalize(str(address.get(k) or "")) == old.group(1).strip() for k in fields):
            return {"index": index}
    return {}


def _pin_fields(address_text: str) -> dict[str, Any]:
    """What the map's address text of a pin says (street, neighborhood, city, UF, CEP); never the coordinates."""
    if not address_text.strip():
        return {}
    parts = p.parse_address(address_text)
    keys = ("street", "number", "neighborhood", "city", "state", "postal_code")
    return {k: getattr(parts, k) for k in keys if getattr(parts, k)}


def typed_address(text: str) -> dict[str, Any]:
    """A whole address typed by a registered customer (at least a street and a number), as the tool's fields."""
    parts = p.parse_address(text)
    # a street type ("Rua", "Av.") is required: "change for 100" or "troco pra 100" are no street
    if not (parts.street and parts.number) or fold(parts.street.split()[0]).strip(".") not in _STREET_TYPES:
        return {}
    return {k: v for k, v in _registration_fields(text, "address").items() if k not in ("email", "cpf")}
