"""Status updates from a store's POS, applied through the order state machine (so the customer is told)."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from memory.db import Pool
from memory.repos import orders as order_repo
from memory.repos import pos_updates as repo
from tools.orders import lifecycle
from tools.orders.lifecycle import LifecycleError, OrderState
from tools.orders.notify import Notifier
from tools.pos.events import StatusUpdate

log = logging.getLogger(__name__)

# where each POS status takes an order, through the one state machine
TARGET: dict[str, OrderState] = {
    "accepted": "accepted",
    "preparing": "preparing",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "rejected": "cancelled",
}
# how far along its happy path each state is: SQS FIFO keeps one store's order, but a POS that resends an old
# update, or one that sends "accepted" after the driver left, must not walk the order back
PROGRESS: dict[str, int] = {
    "placed": 0,
    "awaiting_payment": 1,
    "paid": 2,
    "accepted": 3,
    "preparing": 4,
    "out_for_delivery": 5,
    "delivered": 6,
}
REJECTED_REASON = "rejected by the restaurant"


class Outcome(BaseModel):
    """What became of one POS message."""

    model_config = ConfigDict(frozen=True)

    result: Literal["applied", "unchanged", "late", "noted", "duplicate", "dead_letter"]
    reason: str | None = None
    order_id: int | None = None


def _late(status: str, target: str) -> bool:
    """The order is already past where the update would take it (an end state is never "past": it is refused)."""
    return status in PROGRESS and target in PROGRESS and PROGRESS[target] < PROGRESS[status]


async def apply(pool: Pool, tenant_id: int, sqs_message_id: str, body: str, notifier: Notifier | None) -> Outcome:
    """Apply one message from the POS queue. Returns once the outcome is committed, so the caller may delete it.

    Every status moves the order through the state machine, which tells the customer. An update the order has
    already gone past (an "accepted" after "out_for_delivery") is recorded and ignored with a log line; an
    "accepted" for an order still waiting for its payment is recorded and moves nothing (the payment moves it).
    Unknown orders, illegal moves and unreadable bodies are committed as dead letters with the reason (the queue
    keeps draining); a resent update (same `update_id`) changes nothing. Anything else (the database is down)
    raises, and the message stays on the queue to be received again.
    """
    try:
        update = StatusUpdate.model_validate_json(body)
    except ValidationError as exc:
        reason = "unreadable status update: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return await _dead(pool, tenant_id, sqs_message_id, body, reason)
    target = TARGET[update.status]
    move_reason = update.reason or (REJECTED_REASON if update.status == "rejected" else None)
    try:
        async with pool.connection() as conn, conn.transaction():
            # the row lock orders this against any other move of the order (staff, payments, another relay)
            order = await order_repo.lock(conn, tenant_id, update.order_id)
            if order is None:
                raise lifecycle.OrderNotFound(tenant_id, update.order_id)
            verdict: Literal["late", "noted", "move"] = "move"
            kept = f"moved to {target}"
            if _late(order.status, target):
                verdict, kept = "late", f"ignored: order already {order.status}"
            elif update.status == "accepted" and order.status == "awaiting_payment":
                verdict, kept = "noted", "noted: order awaiting payment"
            # recorded in the move's transaction: a resend finds it and stops; a refused move rolls it back
            if not await repo.record_applied(conn, tenant_id, update.update_id, update.order_id, update.status, kept):
                return Outcome(result="duplicate", order_id=update.order_id)
            if verdict == "late":
                log.info(
                    "POS update %s (%s) for order %s ignored: the order is already %s",
                    update.update_id,
                    update.status,
                    order.id,
                    order.status,
                )
                return Outcome(result="late", reason=kept, order_id=order.id)
            if verdict == "noted":
                log.info("POS accepted order %s before its payment: recorded, the payment moves it", order.id)
                return Outcome(result="noted", reason=kept, order_id=order.id)
            done = await lifecycle.transition_in(
                conn, tenant_id, update.order_id, target, actor="pos", reason=move_reason
            )
    except LifecycleError as exc:
        return await _dead(pool, tenant_id, sqs_message_id, body, str(exc), update)
    await lifecycle.tell_after(pool, notifier, done)
    return Outcome(result="applied" if done.changed else "unchanged", order_id=update.order_id)


async def _dead(
    pool: Pool, tenant_id: int, sqs_message_id: str, body: str, reason: str, update: StatusUpdate | None = None
) -> Outcome:
    log.warning("POS message %s of tenant %s dead-lettered: %s", sqs_message_id, tenant_id, reason)
    async with pool.connection() as conn:
        await repo.dead_letter(
            conn,
            tenant_id,
            sqs_message_id=sqs_message_id,
            body=body,
            reason=reason,
            update_id=update.update_id if update else None,
            order_id=update.order_id if update else None,
        )
    return Outcome(result="dead_letter", reason=reason, order_id=update.order_id if update else None)
