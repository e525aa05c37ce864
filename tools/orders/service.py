"""Checkout and order placement: summaries priced from the database, one order per checkout, its POS event."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from memory.db import UNAVAILABLE, Conn
from memory.repos import menu as menu_repo
from memory.repos import orders as order_repo
from memory.repos import outbox as outbox_repo
from memory.repos import payments as payment_repo
from memory.repos import tenants as tenant_repo
from memory.repos.orders import OrderLineFields, OrderOption, OrderRow
from tools.cart.models import Cart
from tools.cart.pricing import options_exist, priced_options, unit_price
from tools.context import TurnContext
from tools.customers.models import CustomerInfo
from tools.menu.hours import is_open, next_opening
from tools.money import format_brl, to_cents
from tools.orders import lifecycle
from tools.orders.cpf import saved_cpf
from tools.orders.errors import CheckoutError
from tools.orders.models import Checkout, OrderInfo, PaymentMethod
from tools.orders.summary import check_change, delivery_fee_for, line_text, pick_address, require_customer, totals_text
from tools.payments.provider import PaymentRequest

log = logging.getLogger(__name__)


log = logging.getLogger(__name__)


ORDER_PLACED_EVENT = "order.placed"


class OrderPlaced(BaseModel):
    """The order was placed (a replayed turn gets the same order back) and how it is paid."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["order_placed"] = "order_placed"
    order_id: int
    status: str
    total: Decimal
    total_text: str
    payment_method: PaymentMethod
    change_for: Decimal | None = None
    change_text: str | None = None  # the change the courier brings, e.g. "R$ 12,60"
    pix_code: str | None = None
    pay_url: str | None = None
    payment_failed: bool = False
    message: str | None = None  # for the model when the payment could not be started
    text: str


class _Priced(BaseModel):
    lines: list[OrderLineFields]
    subtotal: Decimal


async def _price_now(conn: Conn, tenant_id: int, cart: Cart) -> _Priced:
    """Every line at the database's prices right now; a line that can't be ordered stops the placement."""
    items = await menu_repo.by_skus(conn, tenant_id, [ln.sku for ln in cart.lines])
    lines: list[OrderLineFields] = []
    gone: list[str] = []
    for ln in cart.lines:
        item = items.get(ln.sku)
        if item is None or not item.available or not options_exist(item, ln.options):
            gone.append(ln.name)
            continue
        unit = unit_price(item, ln.options)
        lines.append(
            OrderLineFields(
                menu_item_id=item.id,
                sku=item.sku,
                name=item.name,
                qty=ln.qty,
                unit_price=unit,
                line_total=to_cents(unit * ln.qty),
                options=[OrderOption.model_validate(o.model_dump()) for o in priced_options(item, ln.options)],
                removed=list(ln.removed),
            )
        )
    if gone:
        raise CheckoutError(
            "unavailable_item",
            "These items just became unavailable; show the summary again (checkout_summary): " + ", ".join(gone),
            items=gone,
        )
    return _Priced(lines=lines, subtotal=to_cents(sum((ln.line_total for ln in lines), Decimal("0"))))


def pos_payload(
    order: OrderRow, tenant: tenant_repo.Tenant, customer: CustomerInfo, lines: Sequence[OrderLineFields]
) -> dict[str, Any]:
    """The whole order as the POS receives it (money as strings, never floats)."""
    return {
        "order_id": order.id,
        "tenant": tenant.slug,
        "status": order.status,
        "created_at": order.created_at.isoformat(),
        "customer": {"id": customer.id, "name": customer.name, "phone": customer.phone},
        "address": order.address,
        "lines": [
            {
                "sku": ln.sku,
                "name": ln.name,
                "qty": ln.qty,
                "unit_price": str(ln.unit_price),
                "line_total": str(ln.line_total),
                "options": [
                    {"group": o.group, "choice": o.choice, "price_delta": str(o.price_delta)} for o in ln.options
                ],
                "removed": list(ln.removed),
            }
            for ln in lines
        ],
        "subtotal": str(order.subtotal),
        "delivery_fee": str(order.delivery_fee),
        "total": str(order.total),
        "payment_method": order.payment_method,
        "change_for": str(order.change_for) if order.change_for is not None else None,
    }


def placed_event_id(tenant_id: int, order_id: int) -> Any:
    """The outbox id of "order placed": the same on every replay."""
    return outbox_repo.event_id(tenant_id, ORDER_PLACED_EVENT, order_id)


async def place_order(
    ctx: TurnContext, customer: CustomerInfo | None, cart: Cart, checkout: Checkout, locale: str
) -> OrderPlaced:
    """Place the order once per checkout (thread + cart revision), write its POS event, start its payment."""
    known = require_customer(customer)
    if cart.is_empty:
        raise CheckoutError("empty_cart", "The cart is empty: nothing to order.")
    method = checkout.payment_method
    if method is None:
        raise CheckoutError(
            "missing_field", "Ask how the customer will pay (pix, card or cash).", fields=["payment_method"]
        )
    if not checkout.awaiting_confirmation:
        raise CheckoutError("not_confirmed", "Show the summary (set_payment_method) and get the customer's yes first.")
    tenant = ctx.tenant
    if tenant.hours and not is_open(tenant.hours, tenant.timezone, ctx.clock()):
        opens = next_opening(tenant.hours, tenant.timezone, ctx.clock())
        raise CheckoutError(
            "closed",
            "The restaurant is closed now; orders can't be placed until it opens.",
            items=[opens.isoformat(timespec="minutes")] if opens else [],  # the next opening, said to the customer
        )
    address = pick_address(known, checkout)
    assert known.id is not None
    key = f"{ctx.thread_id}:{cart.revision}"
    async with ctx.pool.connection() as conn:
        async with conn.transaction():
            order = await order_repo.by_idempotency_key(conn, tenant.id, key)
            if order is None:
                tenant = await tenant_repo.by_id(conn, tenant.id) or tenant
                priced = await _price_now(conn, tenant.id, cart)
                fee = await delivery_fee_for(conn, tenant, address, locale)
                total = to_cents(priced.subtotal + fee)
                change_for = check_change(method, checkout.change_for, total, locale)
                new = order_repo.NewOrder(
                    tenant_id=tenant.id,
                    customer_id=known.id,
                    idempotency_key=key,
                    status="placed" if method == "cash" else "awaiting_payment",
                    payment_method=method,
                    change_for=change_for,
                    subtotal=priced.subtotal,
                    delivery_fee=fee,
                    total=total,
                    address_id=address.id,
                    address=address.model_dump(mode="json", exclude={"id", "label"}),
                    locale=locale,
                )
                order, created = await order_repo.insert_order(conn, new)
                if created:
                    await order_repo.insert_items(conn, tenant.id, order.id, priced.lines)
                    await outbox_repo.enqueue(
                        conn,
                        tenant_id=tenant.id,
                        event_id=placed_event_id(tenant.id, order.id),
                        event_type=ORDER_PLACED_EVENT,
                        aggregate_id=order.id,
                        payload=pos_payload(order, tenant, known, priced.lines),
                    )
        items = await order_repo.items(conn, tenant.id, order.id)
    return await _with_payment(ctx, known, order, items, locale)


async def _with_payment(
    ctx: TurnContext, customer: CustomerInfo, order: OrderRow, items: Sequence[OrderLineFields], locale: str
) -> OrderPlaced:
    """Start (or find the already started) payment of an unpaid pix/card order; describe the order."""
    pix_code = pay_url = message = None
    failed = False
    if order.status == "awaiting_payment" and order.payment_method in ("pix", "card"):
        async with ctx.pool.connection() as conn:
            started = [p for p in await payment_repo.for_order(conn, ctx.tenant.id, order.id) if p.status == "pending"]
        if started:
            pix_code, pay_url = started[-1].pix_code, started[-1].pay_url
        elif ctx.payments is None:
            failed, message = True, "Online payment is not available now: offer cash on delivery or try again later."
        else:
            try:
                method: Literal["pix", "card"] = "pix" if order.payment_method == "pix" else "card"
                city = ""
                if order.address.get("city"):
                    city = str(order.address["city"])
                start = await ctx.payments.start(
                    PaymentRequest(
                        tenant_id=ctx.tenant.id,
                        order_id=order.id,
                        amount=order.total,
                        method=method,
                        customer_name=customer.name or "",
                        customer_phone=customer.phone,
                        description=f"{ctx.tenant.name} #{order.id}",
                        merchant_name=ctx.tenant.name,
                        merchant_city=city,
                        customer_id=customer.id,
                        customer_cpf=await saved_cpf(ctx, customer),
                    )
                )
                async with ctx.pool.connection() as conn:
                    payment = await payment_repo.insert_payment(
                        conn,
                        tenant_id=ctx.tenant.id,
                        order_id=order.id,
                        provider=start.provider,
                        provider_ref=start.provider_ref,
                        method=order.payment_method,
                        amount=order.total,
                        pix_code=start.pix_code,
                        pay_url=start.pay_url,
                    )
                pix_code, pay_url = payment.pix_code, payment.pay_url
            except UNAVAILABLE:
                raise  # the retried turn finds the charge again: the provider keys it by our order id
            except Exception as exc:
                log.exception("starting the payment of order %s failed", order.id)
                failed = True
                message = (
                    f"The {order.payment_method} payment could not be started ({type(exc).__name__}); "
                    "the order is kept: offer another payment method (set_payment_method) or to try again."
                )
    return describe(order, items, locale, pix_code=pix_code, pay_url=pay_url, failed=failed, message=message)


def describe(
    order: OrderRow,
    items: Sequence[OrderLineFields],
    locale: str,
    *,
    pix_code: str | None = None,
    pay_url: str | None = None,
    failed: bool = False,
    message: str | None = None,
) -> OrderPlaced:
    """The OrderPlaced result for a stored order."""
    change = order.change_for - order.total if order.change_for is not None else None
    lines = [line_text(i.name, i.qty, i.options, i.removed, i.line_total, locale).text for i in items]
    method: PaymentMethod = order.payment_method  # type: ignore[assignment]
    return OrderPlaced(
        order_id=order.id,
        status=order.status,
        total=order.total,
        total_text=format_brl(order.total, locale),
        payment_method=method,
        change_for=order.change_for,
        change_text=format_brl(change, locale) if change is not None else None,
        pix_code=pix_code,
        pay_url=pay_url,
        payment_failed=failed,
        message=message,
        text="\n".join([*lines, totals_text(order.subtotal, order.delivery_fee, order.total, locale)]),
    )


def order_info(placed: OrderPlaced) -> OrderInfo:
    """What the conversation state keeps about the order."""
    return OrderInfo(
        id=placed.order_id,
        status=placed.status,
        total=placed.total,
        payment_method=placed.payment_method,
        change_for=placed.change_for,
        pix_code=placed.pix_code,
        pay_url=placed.pay_url,
    )


async def retry_payment(
    ctx: TurnContext,
    customer: CustomerInfo | None,
    order_id: int,
    method: PaymentMethod,
    change_for: Decimal | None,
    locale: str,
) -> OrderPlaced:
    """Pay an unpaid order another way (after a failed charge): cash places it, pix/card start a new payment."""
    known = require_customer(customer)
    async with ctx.pool.connection() as conn:
        order = await order_repo.by_id(conn, ctx.tenant.id, order_id)
        if order is None or order.customer_id != known.id:
            raise CheckoutError("not_confirmed", "That order is not this customer's.")
        if order.status == "awaiting_payment":
            change = check_change(method, change_for, order.total, locale)
            async with conn.transaction():
                updated = await order_repo.set_payment_method(
                    conn, ctx.tenant.id, order.id, method=method, change_for=change, status="awaiting_payment"
                )
                if updated is not None and method == "cash":
                    # the reply the customer is reading says so: no separate notification
                    moved = await lifecycle.transition_in(
                        conn, ctx.tenant.id, order.id, "placed", actor="customer", reason="pays cash", notify=False
                    )
                    updated = moved.order
                if updated is not None and updated.payment_method != order.payment_method:
                    await outbox_repo.enqueue(
                        conn,
                        tenant_id=ctx.tenant.id,
                        event_id=outbox_repo.event_id(ctx.tenant.id, "order.payment_changed", order.id, method),
                        event_type="order.payment_changed",
                        aggregate_id=order.id,
                        payload={
                            "order_id": order.id,
                            "payment_method": method,
                            "change_for": str(change) if change is not None else None,
                            "status": updated.status,
                        },
                    )
                order = updated or order
        items = await order_repo.items(conn, ctx.tenant.id, order.id)
    return await _with_payment(ctx, known, order, items, locale)
