"""A payment the provider says was paid, settled the one way for every provider: the payment row marked paid, then
the order moved to `paid` by the order state machine (history, outbox event, the customer told after the commit).

An order that can't be paid any more (cancelled, say, because its PIX ran out a minute before the customer paid)
keeps its status and is flagged for staff: the money has to go back, and a person decides.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn
from memory.repos import orders as order_repo
from memory.repos import payments as payment_repo
from memory.repos.payments import Payment
from tools.orders import lifecycle

Outcome = Literal["paid", "already_paid", "flagged"]


class Settled(BaseModel):
    """What settling did; `moved` is the order's move to paid, for `lifecycle.tell_after` once committed."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    order_status: str
    moved: lifecycle.Transition | None = None


async def settle_paid(conn: Conn, payment: Payment, *, actor: str, paid_at: datetime | None = None) -> Settled:
    """Mark `payment` paid and move its order to paid, inside the caller's transaction; once however often called.

    The caller has checked the amount. Concurrent deliveries of one event serialise on the payment's row: the
    first marks it paid, the others find it paid (`already_paid`) and change nothing.
    """
    order = await order_repo.lock(conn, payment.tenant_id, payment.order_id)
    if order is None:
        raise lifecycle.OrderNotFound(payment.tenant_id, payment.order_id)
    if not await payment_repo.mark_paid(conn, payment.tenant_id, payment.id, paid_at):
        return Settled(outcome="already_paid", order_status=order.status)
    if not lifecycle.allowed(order.status, "paid"):
        await order_repo.flag(conn, order.tenant_id, order.id, f"paid while {order.status}: refund it")
        return Settled(outcome="flagged", order_status=order.status)
    paid = await payment_repo.get_payment(conn, payment.tenant_id, payment.id)
    assert paid is not None and paid.paid_at is not None
    # what the POS's `order.paid` event carries about the payment (tools/pos/events.py)
    details = {
        "payment_id": paid.id,
        "provider": paid.provider,
        "provider_ref": paid.provider_ref,
        "method": paid.method,
        "amount": str(paid.amount),
        "paid_at": paid.paid_at.isoformat(),
    }
    moved = await lifecycle.transition_in(conn, order.tenant_id, order.id, "paid", actor=actor, payload=details)
    return Settled(outcome="paid", order_status=moved.to_state, moved=moved)
