"""What the bot says after a registration or address tool answered. The registration policy and the payment policy
both speak it: an address started, typed or corrected at the checkout goes through the same tools and questions."""

from __future__ import annotations

from typing import Any

from graph.offline.policy.addresses import address_error_reply, address_listing
from graph.offline.policy.chat import HELP, IDENTITY
from graph.offline.policy.common import Decision, Say, error_reply, has_any, not_understood
from graph.offline.policy.privacy import privacy_notice, privacy_reply
from graph.offline.view import TurnView

_CHANGED = {"renamed": "address_renamed", "corrected": "address_corrected", "located": "address_located"}


def registration_reply(view: TurnView, say: Say) -> Decision:
    """What to say after a registration or address tool answered (the last exchange of the turn)."""
    ex = view.exchanges[-1]
    r = ex.result
    ctx = view.context
    if not ex.ok:
        code = r.get("error")
        if (address_error := address_error_reply(ex, say)) is not None:
            return address_error
        if code == "invalid_field":
            return Decision(
                text=say("registration.invalid_field", fields=say.words(r.get("fields", []))), understood=False
            )
        return Decision(text=error_reply(ex, say, "registration") or say("error.internal"), understood=False)
    kind = ex.kind
    if (privacy := privacy_reply(kind, r, say)) is not None:
        return privacy
    if kind == "registration":
        draft = r.get("draft") or {}
        name = draft.get("name") or ""
        step = r.get("next_step")
        if ex.name == "use_shared_location" and step == "address":
            missing = [_field_word(m, say) for m in r.get("missing", []) if m in ("street", "neighborhood")]
            if missing:
                return Decision(text=say("registration.pin_received_missing", missing=say.words(missing)))
            return Decision(text=say("registration.pin_received"))
        if step == "name":
            if ex.args and "name" in ex.args:
                return not_understood(say, "registration.ask_name")
            if ex.args:
                # an address (or e-mail) kept before the name: progress, so the question isn't a failed turn
                return Decision(text=say("registration.ask_name"))
            # a newcomer's first message may be a question: answer it before asking their name
            return Decision(
                text=say.join(_first_answer(view, say), say("greeting.new", restaurant=ctx.get("restaurant", "")))
            )
        if step == "address":
            missing = [m for m in r.get("missing", []) if m in _FIELD_WORDS]
            has_some = any((draft.get("address") or {}).get(k) for k in ("street", "number", "neighborhood"))
            if has_some and missing:
                return Decision(
                    text=say(
                        "registration.ask_address_missing", missing=say.words([_field_word(m, say) for m in missing])
                    )
                )
            if ex.name == "start_new_address":
                return Decision(text=say("registration.ask_new_address"))
            return Decision(text=say("registration.ask_address", name=name.split(" ")[0] if name else ""))
        if step == "email":
            return Decision(text=say("registration.ask_email", name=name.split(" ")[0] if name else ""))
        if step == "confirm":
            confirm = say("registration.confirm", summary=r.get("summary_text", ""))
            return Decision(text=say.join(privacy_notice(ctx, say), confirm))
        return Decision(text=say("registration.updated"))
    if kind == "registered":
        customer = r.get("customer") or {}
        first = (customer.get("name") or "").split(" ")[0]
        cart_lines = ((ctx.get("cart") or {}).get("lines")) or []
        follow = say("registration.done_with_cart") if cart_lines else None
        done = say("registration.done", name=first) if r.get("consent", True) else say("privacy.refused")
        if r.get("address_added"):
            done = say("registration.address_saved", address=r["address_added"])
        return Decision(text=say.join(done, follow))
    if kind == "addresses":
        return Decision(text=say("registration.addresses", addresses=address_listing(r.get("addresses", []))))
    if kind == "address_chosen":
        return Decision(text=say("registration.address_chosen", address=r.get("text", "")))
    if kind == "default_address":
        return Decision(text=say("registration.address_default", address=r.get("address_text", "")))
    if kind == "addresses_changed":
        key = _CHANGED.get(r.get("change", ""), "address_removed")
        address, label = r.get("address_text", ""), r.get("label") or ""
        follow = say("registration.done_with_cart") if key == "address_located" and _cart_lines(ctx) else None
        return Decision(text=say.join(say(f"registration.{key}", address=address, label=label), follow))
    if kind == "customer_updated":
        return Decision(text=say("registration.updated"))
    return Decision(text=say("registration.updated"))


def _first_answer(view: TurnView, say: Say) -> str | None:
    restaurant = view.context.get("restaurant", "")
    if has_any(view.text, IDENTITY):
        return say("smalltalk.identity", restaurant=restaurant)
    if has_any(view.text, HELP):
        return say("smalltalk.help", restaurant=restaurant)
    return None


_FIELD_WORDS = {
    "street": ("a rua", "the street"),
    "number": ("o número", "the number"),
    "neighborhood": ("o bairro", "the neighbourhood"),
    "name": ("o nome", "the name"),
}


def _field_word(field_name: str, say: Say) -> str:
    pt, en = _FIELD_WORDS.get(field_name, (field_name, field_name))
    return pt if say.locale == "pt-BR" else en


def _cart_lines(ctx: dict[str, Any]) -> bool:
    return bool((ctx.get("cart") or {}).get("lines"))
