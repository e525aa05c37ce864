"""The payment policy: checkout summary, payment method, change, confirmation and order status."""

from __future__ import annotations

import re

from graph.guard import is_price_injection
from graph.offline import parsing as p
from graph.offline.policy.addresses import address_error_reply, address_listing, named_fields, which_address
from graph.offline.policy.common import Decision, Say, call, error_reply, has_any
from graph.offline.policy.menu import when
from graph.offline.policy.registration import typed_address
from graph.offline.policy.registration_reply import registration_reply
from graph.offline.view import TurnView

# --- payment --------------------------------------------------------------------------------------------

_STATUS = (
    "status",
    "cade",
    "cadê",
    "demora",
    "ja pagou",
    "confirmou",
    "pagamento caiu",
    "ja saiu",
    "where is my order",
    "where's my order",
    "wheres my order",
    "paid?",
)
# "cancela meu pedido": the placed order, not a cart line ("cancela a coca") nor the checkout ("não, cancela")
_CANCEL_ORDER = re.compile(r"\b(cancel\w*)\b.*\b(pedido|order)\b|\b(pedido|order)\b.*\bcancel\w*")


def payment(view: TurnView, say: Say) -> Decision:
    """Checkout: summary, payment method (with change for cash), confirmation, placement."""
    ctx = view.context
    text = view.text
    checkout = ctx.get("checkout") or {}
    if view.acting:
        if is_price_injection(text):
            return Decision(text=say("fallback.price_injection"))
        choice = p.parse_payment(text)
        if ctx.get("awaiting") == "payment.cpf" and not choice.method and re.search(r"\d", text):
            return call("save_cpf", cpf=p.parse_cpf(text) or text.strip())
        if (address := _address_step(view, checkout)) is not None:
            return address
        if ctx.get("awaiting") == "payment.checkout" and p.parse_yes_no(text) is False and not choice.method:
            # "fechar o pedido?" after a new address was saved: not now
            return Decision(text=say("payment.cancelled"))
        if _asked_change(view, say) and not choice.method:
            # the answer to "vai precisar de troco?": an amount, or no
            amount = choice.change_for if choice.change_for is not None else p.parse_money(text)
            if amount is not None:
                return call("set_payment_method", method="cash", change_for=str(amount))
            if p.parse_yes_no(text) is False or has_any(text, _NO_CHANGE):
                return call("checkout_summary")
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
        if _CANCEL_ORDER.search(p.normalize(text)) and not (ctx.get("cart") or {}).get("lines"):
            return call("cancel_order")
        if has_any(text, _STATUS) and (ctx.get("order") or not (ctx.get("cart") or {}).get("lines")):
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
        if ex.name == "update_registration":
            return registration_reply(view, say)
        if code == "choose_address":
            return call("list_addresses")
        if (address_error := address_error_reply(ex, say)) is not None:
            return address_error
        if "cpf" in r.get("fields", []):
            return Decision(text=say("order.invalid_cpf"), understood=False)
        if code in ("outside_delivery_area", "address_unlocated"):
            areas = "\n".join(f"• {a}" for a in r.get("suggestions") or [])
            key = "payment.outside_area" if code == "outside_delivery_area" else "payment.unlocated"
            return Decision(text=say(key, place=r.get("item") or "", areas=areas))
        if code == "invalid_field" and "change_for" in r.get("fields", []):
            suggested = r.get("suggestions") or []
            total = (suggested[0] if suggested else None) or _total_text(view) or ""
            return Decision(text=say("payment.invalid_change", total=total), understood=False)
        if key:
            opening = when((r.get("suggestions") or [""])[0], say) if code == "closed" else ""
            return Decision(text=say(key, next_opening=opening), understood=code != "payment_failed")
        if code == "not_confirmed":
            return call("checkout_summary")
        return Decision(text=error_reply(ex, say, "payment") or say("error.internal"), understood=False)
    kind = ex.kind
    if kind == "cpf_needed":
        return Decision(text=say("order.ask_cpf"))
    if kind == "cpf_saved":
        method = r.get("payment_method")
        return call("set_payment_method", method=method) if method else Decision(text=say("payment.ask_method"))
    if kind == "addresses":
        return Decision(text=say("payment.choose_address", addresses=address_listing(r.get("addresses", []))))
    if kind in ("address_chosen", "addresses_changed"):
        # where the order goes changed: the summary again, with the address it now shows
        return call("checkout_summary")
    if kind == "registration":
        # a new address started or typed at the checkout: the registration's questions, then back here
        return registration_reply(view, say)
    if kind == "checkout":
        summary = r.get("text", "")
        if r.get("address_text"):
            summary = f"{summary}\n\n{say('payment.deliver_to', address=r['address_text'])}"
        if "payment_method" in (r.get("missing") or []) or not r.get("payment_method"):
            return Decision(text=say.join(say("payment.summary", summary=summary), say("payment.ask_method")))
        if _should_ask_change(view, ex.name, ex.args):
            return Decision(text=say.join(say("payment.summary", summary=summary), say("payment.ask_change")))
        if ex.name == "set_payment_method" or r.get("ready"):
            return Decision(text=say("payment.ask_confirm", summary=summary))
        return Decision(text=say("payment.summary", summary=summary))
    if kind == "order_placed":
        method = r.get("payment_method")
        fields = {"order_id": r.get("order_id", ""), "total": r.get("total_text", "")}
        if r.get("payment_failed") or (method in ("pix", "card") and not (r.get("pay_url") or r.get("pix_code"))):
            # the order is kept: cash on delivery now, or the same charge later
            return Decision(text=say("order.payment_unavailable", order_id=r.get("order_id", "")))
        if method == "pix":
            return Decision(
                text=say("payment.placed_pix", pix_code=r.get("pix_code", ""), pay_url=r.get("pay_url", ""), **fields)
            )
        if method == "card":
            return Decision(text=say("payment.placed_card", pay_url=r.get("pay_url", ""), **fields))
        return Decision(text=say("payment.placed_cash", change=r.get("change_text") or "", **fields))
    if kind == "order_status":
        fields = {
            "order_id": r.get("order_id", ""),
            "state": r.get("status_text") or r.get("status", ""),
            "ago": r.get("since_text", ""),
        }
        if r.get("pix_code"):
            return Decision(text=say("order.status_unpaid_pix", pix_code=r["pix_code"], **fields))
        return Decision(text=say("order.status", **fields))
    if kind == "no_order":
        return Decision(text=say("order.no_order"))
    if kind == "order_cancelled":
        key = "order.already_cancelled" if r.get("already") else "order.cancelled"
        return Decision(text=say(key, order_id=r.get("order_id", "")))
    if kind == "cancel_refused":
        return Decision(
            text=say("order.cancel_too_late", order_id=r.get("order_id", ""), state=r.get("status_text", ""))
        )
    return Decision(text=say("payment.ask_method"))


_NO_CHANGE = ("sem troco", "nao precisa", "nao preciso", "trocado", "no change", "exact", "exato", "certinho")


def _asked_change(view: TurnView, say: Say) -> bool:
    asked = (say("payment.ask_change"),)
    return bool(view.last_reply) and any(q in view.last_reply for q in asked)


def _should_ask_change(view: TurnView, tool: str, args: dict[str, object]) -> bool:
    """Cash without a word about change: ask before confirming (the courier needs to bring it)."""
    if tool != "set_payment_method" or args.get("method") != "cash" or args.get("change_for") is not None:
        return False
    norm = p.normalize(view.text)
    return not has_any(view.text, _NO_CHANGE) and not re.search(r"\btroco\b|\bchange\b", norm)


def _total_text(view: TurnView) -> str | None:
    for ex in reversed(view.exchanges):
        if ex.result.get("total_text"):
            return str(ex.result["total_text"])
    return None


_OTHER = ("outro", "outra", "other", "another", "novo", "new")
# only words about the address: "mudei de ideia" at the checkout is no new address
_OTHER_ADDRESS = (
    *("outro endereco", "novo endereco", "endereco novo", "outro lugar", "trocar o endereco", "trocar endereco"),
    *("mudar o endereco", "mudar endereco", "another address", "new address", "different address", "somewhere else"),
)


def _address_step(view: TurnView, checkout: dict[str, object]) -> Decision | None:
    """Where the order goes: the saved address picked from the list, "outro endereço", or a corrected field."""
    text = view.text
    if view.context.get("awaiting") == "payment.address_choice":
        if which := which_address(view):
            return call("choose_address", **which)
        if has_any(text, _OTHER) or has_any(text, _OTHER_ADDRESS):
            return call("start_new_address")
    if has_any(text, _OTHER_ADDRESS) or (
        checkout.get("awaiting_confirmation") and p.normalize(text).strip(" .!") in _OTHER
    ):
        return call("start_new_address")
    if view.context.get("registered") and (typed := typed_address(text)):
        # "entrega na Rua Augusta, 500": another address, typed right away (confirmed before it is saved)
        return call("update_registration", **typed)
    if checkout.get("awaiting_confirmation") and (fields := named_fields(text)):
        # "o número é 510, não 150" at the summary: correct the saved address, then show the summary again
        return call("correct_address", **fields)
    return None
