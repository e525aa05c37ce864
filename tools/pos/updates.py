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

# where each POS status takes an order; "accepted" moves nothing (the machine has no such state): it is a receipt
TARGET: dict[str, OrderState | None] = {
    "accepted": None,
    "preparing": "preparing",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "rejected": "cancelled",
}
# a kitchen can acknowledge an order it hasn't finished with
ACCEPTABLE = frozenset({"placed", "awaiting_payment", "paid", "preparing"})
REJECTED_REASON = "rejected by the restaurant"


class Outcome(BaseModel):
    """What became of one POS message."""

    model_config = ConfigDict(frozen=True)

    result: Literal["applied", "unchanged", "accepted", "duplicate", "dead_letter"]
    reason: str | None = None
    order_id: int | None = None


async def apply(pool: Pool, tenant_id: int, sqs_message_id: str, body: str, notifier: Notifier | None) -> Outcome:
    """Apply one message from the POS queue. Returns once the outcome is committed, so the caller may delete it.

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
            # recorded first: a resend finds it and stops; a refused move rolls the record back with it
            outcome = "accepted" if target is None else f"moved to {target}"
            if not await repo.record_applied(
                conn, tenant_id, update.update_id, update.order_id, update.status, outcome
            ):
                return Outcome(result="duplicate", order_id=update.order_id)
            if target is None:
                order = await order_repo.by_id(conn, tenant_id, update.order_id)
                if order is None:
                    raise lifecycle.OrderNotFound(tenant_id, update.order_id)
                if order.status not in ACCEPTABLE:
                    raise LifecycleError(f"order {order.id} is {order.status}: the POS can't accept it now")
                return Outcome(result="accepted", order_id=order.id)
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
