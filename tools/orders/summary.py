"""The checkout summary: the cart priced now, the address and its fee, totals and change, in the customer's words."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn
from memory.repos import delivery_areas as delivery_repo
from memory.repos import tenants as tenant_repo
from memory.repos.orders import OrderOption
from tools.cart.models import Cart, ChosenOption
from tools.cart.pricing import reprice
from tools.context import TurnContext
from tools.customers.models import AddressInfo, CustomerInfo
from tools.delivery import areas
from tools.money import format_brl, to_cents
from tools.orders.errors import CheckoutError
from tools.orders.models import Checkout, PaymentMethod

log = logging.getLogger(__name__)


# short words inside formatted lines (not sentences): "sem cebola", "Subtotal: R$ 30,00"
_LABELS = {
    "pt-BR": {
        "without": "sem",
        "subtotal": "Subtotal",
        "delivery": "Entrega",
        "total": "Total",
        "change": "Troco para",
    },
    "en": {"without": "no", "subtotal": "Subtotal", "delivery": "Delivery", "total": "Total", "change": "Change for"},
}


class SummaryLine(BaseModel):
    """One line of the order as the customer reads it."""

    model_config = ConfigDict(frozen=True)

    name: str
    qty: int
    options_text: str  # "Grande, Borda de catupiry"
    removed_text: str  # "sem cebola, sem tomate"
    line_total: Decimal
    line_total_text: str
    text: str  # "2x Pizza Margherita (Grande; sem cebola) R$ 90,00"


class CheckoutSummary(BaseModel):
    """The order about to be placed, priced from the database now."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["checkout"] = "checkout"
    lines: list[SummaryLine]
    subtotal: Decimal
    subtotal_text: str
    delivery_fee: Decimal
    delivery_fee_text: str
    total: Decimal
    total_text: str
    address_id: int
    address_text: str
    payment_method: PaymentMethod | None
    change_for: Decimal | None
    change_for_text: str | None
    ready: bool
    missing: list[Literal["address", "payment_method"]]
    unavailable: list[str] = []  # lines dropped since they were added (tell the customer)
    price_changed: list[str] = []  # lines whose price changed since they were added (tell the customer)
    text: str


def labels(locale: str) -> dict[str, str]:
    """The short formatting words for a locale."""
    return _LABELS.get(locale, _LABELS["pt-BR"])


def line_text(
    name: str,
    qty: int,
    options: Sequence[ChosenOption | OrderOption],
    removed: Sequence[str],
    total: Decimal,
    locale: str,
) -> SummaryLine:
    """A line as the customer reads it."""
    options_text = ", ".join(o.choice for o in options)
    removed_text = ", ".join(f"{labels(locale)['without']} {r}" for r in removed)
    detail = "; ".join(t for t in (options_text, removed_text) if t)
    total_text = format_brl(total, locale)
    text = f"{qty}x {name}" + (f" ({detail})" if detail else "") + f" {total_text}"
    return SummaryLine(
        name=name,
        qty=qty,
        options_text=options_text,
        removed_text=removed_text,
        line_total=total,
        line_total_text=total_text,
        text=text,
    )


def totals_text(subtotal: Decimal, fee: Decimal, total: Decimal, locale: str) -> str:
    """ "Subtotal: R$ 30,00 / Entrega: R$ 7,50 / Total: R$ 37,50", one per line."""
    w = labels(locale)
    return "\n".join(
        (
            f"{w['subtotal']}: {format_brl(subtotal, locale)}",
            f"{w['delivery']}: {format_brl(fee, locale)}",
            f"{w['total']}: {format_brl(total, locale)}",
        )
    )


def pick_address(customer: CustomerInfo, checkout: Checkout) -> AddressInfo:
    by_id = {a.id: a for a in customer.addresses}
    if checkout.address_id is not None and checkout.address_id in by_id:
        return by_id[checkout.address_id]
    if len(customer.addresses) > 1:
        # seed 003 §3.4: with several saved addresses the customer says which one, every order
        raise CheckoutError(
            "choose_address", "The customer has several addresses: list them (list_addresses) and ask which one."
        )
    if customer.addresses:
        return customer.addresses[0]
    raise CheckoutError("no_address", "The customer has no delivery address: ask for one (start_new_address).")


async def delivery_fee_for(conn: Conn, tenant: tenant_repo.Tenant, address: AddressInfo, locale: str) -> Decimal:
    """The fee of the address's delivery area (the flat fee without areas); refuses an address the restaurant
    doesn't deliver to, before any order exists."""
    quote = await areas.quote(conn, tenant, address.id)
    if quote.fee is not None and quote.delivers:
        return quote.fee
    setup = await delivery_repo.setup(conn, tenant.id)
    names = [b.text for b in areas.briefs(setup, locale)]  # "Pinheiros: R$ 5,00", said back to the customer
    if quote.status == "unlocated":
        raise CheckoutError(
            "address_unlocated",
            "The restaurant delivers by distance and this address has no location: ask the customer to share "
            "their location on WhatsApp, or to give another address. Nothing was ordered.",
            items=names,
            item=address.neighborhood,
        )
    raise CheckoutError(
        "outside_delivery_area",
        f"The restaurant doesn't deliver to {address.neighborhood}: tell the customer politely, name the areas it "
        "delivers to, and ask for another address. Nothing was ordered.",
        items=names,
        item=address.neighborhood,
    )


def require_customer(customer: CustomerInfo | None) -> CustomerInfo:
    if customer is None or not customer.registered or customer.id is None:
        raise CheckoutError("not_registered", "Register the customer first: name and delivery address.")
    return customer


async def summarize(
    conn: Conn, ctx: TurnContext, customer: CustomerInfo | None, cart: Cart, checkout: Checkout, locale: str
) -> tuple[CheckoutSummary, Cart, Checkout]:
    """The checkout summary at today's prices; returns it with the repriced cart and the updated checkout."""
    known = require_customer(customer)
    if cart.is_empty:
        raise CheckoutError("empty_cart", "The cart is empty: ask what the customer would like.")
    repriced = await reprice(conn, ctx.tenant.id, cart)
    if repriced.cart.is_empty:
        raise CheckoutError(
            "empty_cart",
            "Nothing in the cart can be ordered any more (unavailable now): " + ", ".join(repriced.unavailable),
            items=repriced.unavailable,
        )
    tenant = await tenant_repo.by_id(conn, ctx.tenant.id) or ctx.tenant
    address = pick_address(known, checkout)
    fee = await delivery_fee_for(conn, tenant, address, locale)
    total = to_cents(repriced.subtotal + fee)
    change_for = checkout.change_for if checkout.payment_method == "cash" else None
    lines = [line_text(ln.name, ln.qty, ln.options, ln.removed, ln.line_total, locale) for ln in repriced.cart.lines]
    missing: list[Literal["address", "payment_method"]] = [] if checkout.payment_method else ["payment_method"]
    new_checkout = checkout.model_copy(update={"address_id": address.id, "change_for": change_for})
    text = "\n".join([*(ln.text for ln in lines), totals_text(repriced.subtotal, fee, total, locale)])
    summary = CheckoutSummary(
        lines=lines,
        subtotal=repriced.subtotal,
        subtotal_text=format_brl(repriced.subtotal, locale),
        delivery_fee=fee,
        delivery_fee_text=format_brl(fee, locale),
        total=total,
        total_text=format_brl(total, locale),
        address_id=address.id or 0,
        address_text=address.one_line(),
        payment_method=checkout.payment_method,
        change_for=change_for,
        change_for_text=format_brl(change_for, locale) if change_for is not None else None,
        ready=not missing,
        missing=missing,
        unavailable=repriced.unavailable,
        price_changed=repriced.price_changed,
        text=text,
    )
    return summary, repriced.cart, new_checkout


def check_change(method: PaymentMethod, change_for: Decimal | None, total: Decimal, locale: str) -> Decimal | None:
    """The change to keep: only for cash, and never below the total."""
    if method != "cash" or change_for is None:
        return None
    change_for = to_cents(change_for)
    if change_for < total:
        raise CheckoutError(
            "invalid_field",
            f"Change for {format_brl(change_for, locale)} is less than the total {format_brl(total, locale)}: "
            "ask how much the customer will pay with (at least the total).",
            fields=["change_for"],
            items=[format_brl(total, locale)],  # the figure the refusal says back: the least they can pay with
        )
    return change_for
