"""What an Asaas webhook event does to our payment and order, applied once per stored event.

The webhook stores the event and answers 200 before this runs (Asaas counts only 200 as delivered and pauses the
queue after 15 failures); an event a crash left unprocessed is picked up by the jobs worker. Money events never
move an order unless the amount is the order's: a mismatch flags the order for staff instead.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from memory.db import Conn, Pool
from memory.repos import orders as order_repo
from memory.repos import payments as payment_repo
from memory.repos.payments import PaymentEvent
from tools.money import format_brl, to_cents
from tools.orders import lifecycle
from tools.orders.notify import EXPIRED_REASON, Notifier
from tools.payments.asaas import PROVIDER
from tools.payments.settlement import settle_paid

log = logging.getLogger(__name__)

PAID_EVENTS = frozenset({"PAYMENT_CONFIRMED", "PAYMENT_RECEIVED"})
HANDLED = PAID_EVENTS | {"PAYMENT_OVERDUE", "PAYMENT_REFUNDED", "PAYMENT_DELETED"}


async def process(pool: Pool, notifier: Notifier | None, event_row_id: int) -> str:
    """Apply one stored event (once: a concurrent or later call finds it claimed or done); its outcome."""
    moved: lifecycle.Transition | None = None
    async with pool.connection() as conn, conn.transaction():
        event = await payment_repo.claim_event(conn, event_row_id)
        if event is None:
            return "already_processed"
        outcome, moved = await _apply(conn, event)
        await payment_repo.finish_event(conn, event.id, outcome)
    if moved is not None:
        await lifecycle.tell_after(pool, notifier, moved)
    return outcome


async def process_pending(pool: Pool, notifier: Notifier | None) -> int:
    """Events stored but left unprocessed (a crash right after the 200); how many were processed now."""
    async with pool.connection() as conn:
        waiting = await payment_repo.unprocessed_events(conn, older_than_s=30)
    for event_row_id in waiting:
        await process(pool, notifier, event_row_id)
    return len(waiting)


async def _apply(conn: Conn, event: PaymentEvent) -> tuple[str, lifecycle.Transition | None]:
    if event.event_type not in HANDLED:
        return "ignored", None
    payment = await payment_repo.by_provider_ref(conn, PROVIDER, event.provider_ref or "")
    if payment is None or payment.tenant_id != event.tenant_id:
        log.warning("Asaas %s for a payment we don't know (tenant %s)", event.event_type, event.tenant_id)
        return "unknown_payment", None
    order = await order_repo.lock(conn, payment.tenant_id, payment.order_id)
    assert order is not None
    if event.event_type in PAID_EVENTS:
        value = _value(event)
        if value is None or to_cents(value) != order.total or to_cents(value) != payment.amount:
            reason = (
                f"Asaas {event.event_type} of {format_brl(value, 'pt-BR') if value is not None else '?'} "
                f"for a total of {format_brl(order.total, 'pt-BR')}: check the charge before marking it paid"
            )
            await order_repo.flag(conn, order.tenant_id, order.id, reason)
            log.warning("order %s flagged: paid amount does not match its total", order.id)
            return "amount_mismatch", None
        # paid after it was cancelled (or expired) is flagged: the money must go back, a person decides
        settled = await settle_paid(conn, payment, actor="asaas")
        if settled.outcome == "flagged":
            return f"paid_while_{settled.order_status}", None
        return settled.outcome, settled.moved
    if event.event_type == "PAYMENT_OVERDUE":
        await payment_repo.close_pending(conn, order.tenant_id, order.id, "expired")
        return await _move(conn, order, "cancelled", EXPIRED_REASON, "expired")
    if event.event_type == "PAYMENT_REFUNDED":
        await payment_repo.set_status(conn, payment.tenant_id, payment.id, "refunded")
        return await _move(conn, order, "refunded", "refunded at Asaas", "refunded")
    # PAYMENT_DELETED: the charge is gone (deleted at Asaas, or by us when the order expired)
    if payment.status == "pending":
        await payment_repo.set_status(conn, payment.tenant_id, payment.id, "cancelled")
    if order.status == "awaiting_payment" and order.payment_method == payment.method:
        return await _move(conn, order, "cancelled", "the charge was deleted at Asaas", "cancelled")
    return "charge_deleted", None


async def _move(
    conn: Conn, order: order_repo.OrderRow, to: lifecycle.OrderState, reason: str, outcome: str
) -> tuple[str, lifecycle.Transition | None]:
    if order.status == to or not lifecycle.allowed(order.status, to):
        return f"{outcome}_ignored_while_{order.status}", None
    moved = await lifecycle.transition_in(conn, order.tenant_id, order.id, to, actor="asaas", reason=reason)
    return outcome, moved


def _value(event: PaymentEvent) -> Decimal | None:
    raw = (event.payload.get("payment") or {}).get("value")
    try:
        return Decimal(str(raw)) if raw is not None else None
    except InvalidOperation:
        return None
