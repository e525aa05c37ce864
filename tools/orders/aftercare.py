"""After an order is placed: where it is ('cadê meu pedido?') and cancelling it while that is still allowed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from memory.repos import orders as order_repo
from memory.repos import payments as payment_repo
from tools.context import TurnContext
from tools.customers.models import CustomerInfo
from tools.money import format_brl
from tools.orders import lifecycle, notify
from tools.orders.models import PaymentMethod

log = logging.getLogger(__name__)


class OrderStatus(BaseModel):
    """Where an order stands and how to pay it if it is still unpaid."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["order_status"] = "order_status"
    order_id: int
    status: str
    payment_method: PaymentMethod
    payment_status: str | None
    total: Decimal
    total_text: str
    pix_code: str | None = None
    pay_url: str | None = None
    created_at: datetime
    summary: str  # "1x Cheese Bacon, 1x Coca-Cola Lata"
    status_text: str = ""  # the state in the customer's words: "saiu para entrega"
    since_text: str = ""  # when it last changed, as people say it: "há 12 min"


class NoOrder(BaseModel):
    """The customer has no order yet."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["no_order"] = "no_order"


class OrderCancelled(BaseModel):
    """The customer's order is cancelled (`already` when it was before they asked)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["order_cancelled"] = "order_cancelled"
    order_id: int
    already: bool = False


class CancelRefused(BaseModel):
    """Too late for the customer to cancel by themselves: a person from the restaurant takes it from here."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["cancel_refused"] = "cancel_refused"
    order_id: int
    status: str
    status_text: str


async def status_of(
    ctx: TurnContext, customer: CustomerInfo | None, order_id: int | None, locale: str
) -> OrderStatus | NoOrder:
    """The given order (or the customer's last one) with its payment."""
    async with ctx.pool.connection() as conn:
        order = await order_repo.by_id(conn, ctx.tenant.id, order_id) if order_id is not None else None
        if order is None and customer is not None and customer.id is not None:
            order = await order_repo.last_for_customer(conn, ctx.tenant.id, customer.id)
        if order is None or (customer is not None and customer.id is not None and order.customer_id != customer.id):
            return NoOrder()
        items = await order_repo.items(conn, ctx.tenant.id, order.id)
        payments = await payment_repo.for_order(conn, ctx.tenant.id, order.id)
    payment = payments[-1] if payments else None
    method: PaymentMethod = order.payment_method  # type: ignore[assignment]
    # the wall clock, like the database that stamped the change (the turn's clock may be a shop-hours fixture)
    since = notify.since(order.status_changed_at, datetime.now(UTC))
    return OrderStatus(
        status_text=notify.state_text(order.status, locale),
        since_text=notify.ago_text(since, locale),
        order_id=order.id,
        status=order.status,
        payment_method=method,
        payment_status=payment.status if payment else None,
        total=order.total,
        total_text=format_brl(order.total, locale),
        pix_code=payment.pix_code if payment and order.status == "awaiting_payment" else None,
        pay_url=payment.pay_url if payment and order.status == "awaiting_payment" else None,
        created_at=order.created_at,
        summary=", ".join(f"{i.qty}x {i.name}" for i in items),
    )


async def cancel_for_customer(
    ctx: TurnContext, customer: CustomerInfo | None, order_id: int | None, locale: str
) -> OrderCancelled | CancelRefused | NoOrder:
    """Cancel the customer's current (or last) order while nothing was cooked or paid; after that, refuse."""
    async with ctx.pool.connection() as conn:
        order = await order_repo.by_id(conn, ctx.tenant.id, order_id) if order_id is not None else None
        if order is None and customer is not None and customer.id is not None:
            order = await order_repo.last_for_customer(conn, ctx.tenant.id, customer.id)
    if order is None or customer is None or order.customer_id != customer.id:
        return NoOrder()
    if order.status == "cancelled":
        return OrderCancelled(order_id=order.id, already=True)
    if order.status not in lifecycle.CUSTOMER_CANCELLABLE:
        return CancelRefused(
            order_id=order.id, status=order.status, status_text=notify.state_text(order.status, locale)
        )
    try:
        # the reply the customer is reading says it: no separate notification
        await lifecycle.cancel(
            ctx.pool, ctx.tenant.id, order.id, actor="customer", reason="cancelled by the customer", notify=False
        )
    except lifecycle.IllegalTransition as exc:
        # it moved on while we looked (a payment just arrived): too late after all
        return CancelRefused(
            order_id=order.id, status=exc.from_state, status_text=notify.state_text(exc.from_state, locale)
        )
    await _void_charges(ctx, order.id)
    return OrderCancelled(order_id=order.id)


async def _void_charges(ctx: TurnContext, order_id: int) -> None:
    """Pending charges of a cancelled order are withdrawn at the provider, so nobody pays a cancelled order."""
    cancel = getattr(ctx.payments, "cancel", None)
    if cancel is None:
        return
    async with ctx.pool.connection() as conn:
        pending = [p for p in await payment_repo.for_order(conn, ctx.tenant.id, order_id) if p.status == "pending"]
    for payment in pending:
        try:
            await cancel(payment)
        except Exception:
            # the order stays cancelled; a payment that still arrives is flagged for staff to refund
            log.exception("could not withdraw charge %s of cancelled order %s", payment.provider_ref, order_id)
