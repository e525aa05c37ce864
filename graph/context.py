"""What an agent's system prompt knows: the restaurant, the customer, the cart, and a JSON snapshot."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from prompts import catalog
from tools.cart.models import Cart
from tools.context import TurnContext
from tools.customers.address_tools import turn_pin
from tools.customers.models import RegistrationDraft
from tools.menu.hours import DAYS, is_open
from tools.money import format_brl
from tools.orders.models import Checkout

_DAY_NAMES = {
    "pt-BR": dict(zip(DAYS, ("seg", "ter", "qua", "qui", "sex", "sáb", "dom"), strict=True)),
    "en": dict(zip(DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True)),
}


def hours_text(hours: dict[str, str], locale: str) -> str:
    """ "ter 18:00-23:30, sex 18:00-00:30" in the locale's day names."""
    names = _DAY_NAMES.get(locale, _DAY_NAMES["en"])
    return ", ".join(f"{names[d]} {hours[d]}" for d in DAYS if d in hours)


def cart_text(cart: Cart, locale: str) -> str:
    """A short plain rendering of the cart for the prompt (the cart tools give the customer-facing one)."""
    if cart.is_empty:
        return "(vazio)" if locale == "pt-BR" else "(empty)"
    lines = []
    subtotal = Decimal("0")
    for line in cart.lines:
        extras = [o.choice for o in line.options] + [f"sem {r}" for r in line.removed]
        detail = f" ({', '.join(extras)})" if extras else ""
        lines.append(f"{line.qty}x {line.name}{detail} — {format_brl(line.line_total, locale)}")
        subtotal += line.line_total
    lines.append(f"subtotal {format_brl(subtotal, locale)}")
    return "\n".join(lines)


def _json(value: Any) -> Any:
    return value.model_dump(mode="json") if value is not None else None


def prompt_context(state: Mapping[str, Any], ctx: TurnContext) -> dict[str, Any]:
    """The placeholders every system prompt may use, from the conversation's keys (an agent's state, or the
    parent's as a mapping); a key never written yet reads as its default."""
    tenant = ctx.tenant
    now = ctx.clock()
    locale: str = state.get("locale") or "pt-BR"
    customer = state.get("customer")
    cart: Cart = state.get("cart") or Cart()
    snapshot = {
        "locale": locale,
        "restaurant": tenant.name,
        "privacy_url": tenant.privacy_url,
        "now": now.astimezone(ZoneInfo(tenant.timezone)).isoformat(timespec="minutes"),
        "customer": _json(customer),
        # allergies are guards (the cart tools enforce them), the rest is for tailoring the answer
        "memories": [_json(m) for m in state.get("memories") or []],
        # a greeting's: the last order's items the customer is allergic to (repeating it holds them back)
        "usual_held": [_json(h) for h in state.get("usual_held") or []],
        "earlier_in_conversation": state.get("summary"),
        "registered": bool(customer and customer.registered),
        "cart": cart.model_dump(mode="json"),
        "pending": _json(state.get("pending")),
        "registration": _json(state.get("registration") or _DEFAULT_REGISTRATION),
        "checkout": _json(state.get("checkout") or _DEFAULT_CHECKOUT),
        "order": _json(state.get("order")),
        "awaiting": state.get("awaiting"),
        "suggested_place": state.get("suggested_place"),
        "last_intent": state.get("intent"),
        # a WhatsApp location pin in this turn: use_shared_location takes its coordinates from the message itself
        "shared_location": _json(turn_pin(state.get("messages") or [])),
    }
    return {
        "restaurant_name": tenant.name,
        "restaurant_address": tenant.address,
        "opening_hours": hours_text(tenant.hours, locale),
        "open_now": "sim" if is_open(tenant.hours, tenant.timezone, now) else "não",
        "delivery_fee": (
            catalog.text("menu.delivery_fee_varies", locale)
            if tenant.has_delivery_areas
            else format_brl(tenant.delivery_fee, locale)
        ),
        "customer_name": (customer.name if customer and customer.name else ""),
        "customer_status": "returning" if customer and customer.registered else "new",
        "last_order": customer.last_order.summary if customer and customer.last_order else "",
        "cart": cart_text(cart, locale),
        "today": now.astimezone(ZoneInfo(tenant.timezone)).strftime("%Y-%m-%d %H:%M"),
        "context_json": json.dumps(snapshot, ensure_ascii=False, default=str),
    }


_DEFAULT_REGISTRATION = RegistrationDraft()
_DEFAULT_CHECKOUT = Checkout()
