"""What an agent's system prompt knows: the restaurant, the customer, the cart, and a JSON snapshot."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from graph.state import ConversationState
from tools.context import TurnContext
from tools.menu.hours import DAYS, is_open
from tools.money import format_brl

_DAY_NAMES = {
    "pt-BR": dict(zip(DAYS, ("seg", "ter", "qua", "qui", "sex", "sáb", "dom"), strict=True)),
    "en": dict(zip(DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True)),
}


def hours_text(hours: dict[str, str], locale: str) -> str:
    """ "ter 18:00-23:30, sex 18:00-00:30" in the locale's day names."""
    names = _DAY_NAMES.get(locale, _DAY_NAMES["en"])
    return ", ".join(f"{names[d]} {hours[d]}" for d in DAYS if d in hours)


def cart_text(state: ConversationState, ctx: TurnContext) -> str:
    """A short plain rendering of the cart for the prompt (the cart tools give the customer-facing one)."""
    if state.cart.is_empty:
        return "(vazio)" if state.locale == "pt-BR" else "(empty)"
    lines = []
    subtotal = Decimal("0")
    for line in state.cart.lines:
        extras = [o.choice for o in line.options] + [f"sem {r}" for r in line.removed]
        detail = f" ({', '.join(extras)})" if extras else ""
        lines.append(f"{line.qty}x {line.name}{detail} — {format_brl(line.line_total, state.locale)}")
        subtotal += line.line_total
    lines.append(f"subtotal {format_brl(subtotal, state.locale)}")
    return "\n".join(lines)


def prompt_context(state: ConversationState, ctx: TurnContext) -> dict[str, Any]:
    """The placeholders every system prompt may use."""
    tenant = ctx.tenant
    now = ctx.clock()
    customer = state.customer
    snapshot = {
        "locale": state.locale,
        "restaurant": tenant.name,
        "now": now.astimezone(ZoneInfo(tenant.timezone)).isoformat(timespec="minutes"),
        "customer": customer.model_dump(mode="json") if customer else None,
        "registered": bool(customer and customer.registered),
        "cart": state.cart.model_dump(mode="json"),
        "pending": state.pending.model_dump(mode="json") if state.pending else None,
        "registration": state.registration.model_dump(mode="json"),
        "checkout": state.checkout.model_dump(mode="json"),
        "order": state.order.model_dump(mode="json") if state.order else None,
        "awaiting": state.awaiting,
        "last_intent": state.intent,
    }
    return {
        "restaurant_name": tenant.name,
        "restaurant_address": tenant.address,
        "opening_hours": hours_text(tenant.hours, state.locale),
        "open_now": "sim" if is_open(tenant.hours, tenant.timezone, now) else "não",
        "delivery_fee": format_brl(tenant.delivery_fee, state.locale),
        "customer_name": (customer.name if customer and customer.name else ""),
        "customer_status": "returning" if customer and customer.registered else "new",
        "last_order": customer.last_order.summary if customer and customer.last_order else "",
        "cart": cart_text(state, ctx),
        "today": now.astimezone(ZoneInfo(tenant.timezone)).strftime("%Y-%m-%d %H:%M"),
        "context_json": json.dumps(snapshot, ensure_ascii=False, default=str),
    }
