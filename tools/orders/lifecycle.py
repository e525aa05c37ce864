"""The one state machine of an order's life. Staff (CLI, console), the POS, payments and the jobs move orders only
through `transition()`, which checks the move, records it, writes its outbox event in the same transaction and
tells the customer.

    placed ──────────────→ awaiting_payment ──→ paid ──→ preparing ──→ out_for_delivery ──→ delivered
      └─(cash)─→ preparing       │    └─(cash instead)─→ placed     │                             │
    placed, awaiting_payment, paid, preparing ──→ cancelled         └──────────→ refunded ←──────┘
    paid, preparing, out_for_delivery, delivered, cancelled (after a payment) ──→ refunded
    placed, paid ──→ accepted ──→ preparing (the POS acknowledged it; it can still be cancelled or refunded)
"""

from __future__ import annotations

import logging
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from memory.db import Conn, Pool
from memory.repos import orders as order_repo
from memory.repos import outbox as outbox_repo
from memory.repos import tenants as tenant_repo
from memory.repos.orders import OrderRow
from tools.orders.notify import Notifier, tell

log = logging.getLogger(__name__)

OrderState = Literal[
    "placed",
    "awaiting_payment",
    "paid",
    "accepted",
    "preparing",
    "out_for_delivery",
    "delivered",
    "cancelled",
    "refunded",
]
STATES: tuple[OrderState, ...] = get_args(OrderState)

ALLOWED: dict[str, frozenset[str]] = {
    "placed": frozenset({"awaiting_payment", "accepted", "preparing", "cancelled"}),
    "awaiting_payment": frozenset({"paid", "placed", "cancelled"}),
    "paid": frozenset({"accepted", "preparing", "cancelled", "refunded"}),
    "accepted": frozenset({"preparing", "cancelled", "refunded"}),
    "preparing": frozenset({"out_for_delivery", "cancelled", "refunded"}),
    "out_for_delivery": frozenset({"delivered", "refunded"}),
    "delivered": frozenset({"refunded"}),
    "cancelled": frozenset({"refunded"}),
    "refunded": frozenset(),
}
# a customer may cancel by themselves only before the kitchen has anything to lose
CUSTOMER_CANCELLABLE = frozenset({"placed", "awaiting_payment"})


class LifecycleError(Exception):
    """An order can't be moved as asked."""


class OrderNotFound(LifecycleError):
    """No such order for this tenant."""

    def __init__(self, tenant_id: int, order_id: int) -> None:
        super().__init__(f"no order {order_id} for tenant {tenant_id}")
        self.tenant_id = tenant_id
        self.order_id = order_id


class IllegalTransition(LifecycleError):
    """The order's state doesn't allow this move (e.g. delivered → preparing)."""

    def __init__(self, order_id: int, from_state: str, to_state: str, hint: str = "") -> None:
        allowed = ", ".join(sorted(ALLOWED.get(from_state, ()))) or "none: it is final"
        super().__init__(f"order {order_id} is {from_state}: it can't move to {to_state} (allowed: {allowed}){hint}")
        self.order_id = order_id
        self.from_state = from_state
        self.to_state = to_state


class Transition(BaseModel):
    """A move made (or found already made: `changed` False, nothing written, nobody told again)."""

    model_config = ConfigDict(frozen=True)

    tenant_id: int
    order_id: int
    from_state: str
    to_state: str
    changed: bool
    actor: str
    reason: str | None = None
    transition_id: int | None = None
    outbox_event_id: str | None = None
    order: OrderRow


def allowed(from_state: str, to_state: str) -> bool:
    """Whether the machine has this move."""
    return to_state in ALLOWED.get(from_state, frozenset())


def next_state(order: OrderRow) -> OrderState:
    """Where "advance" takes an order: the next step of its happy path."""
    status = order.status
    if status == "placed":
        return "preparing" if order.payment_method == "cash" else "awaiting_payment"
    if status == "awaiting_payment":
        # staff walking orders forward must not mark an unpaid order paid by accident
        raise IllegalTransition(
            order.id, status, "paid", hint="; it waits for its payment: use --to paid only if it was paid by hand"
        )
    happy: dict[str, OrderState] = {
        "paid": "preparing",
        "accepted": "preparing",
        "preparing": "out_for_delivery",
        "out_for_delivery": "delivered",
    }
    if status not in happy:
        raise IllegalTransition(order.id, status, "the next state", hint="; it is at the end of its life")
    return happy[status]


def event_type(to_state: str) -> str:
    """The outbox event type of a move to `to_state` ("order.preparing")."""
    return f"order.{to_state}"


async def transition_in(
    conn: Conn,
    tenant_id: int,
    order_id: int,
    to: OrderState,
    *,
    actor: str,
    reason: str | None = None,
    notify: bool = True,
    payload: dict[str, Any] | None = None,
) -> Transition:
    """The move inside the caller's transaction (so a payment and its order change together)."""
    if to not in STATES:
        raise LifecycleError(f"{to!r} is not an order state (states: {', '.join(STATES)})")
    # the row lock serialises concurrent moves of one order: a replayed webhook waits, then finds it done
    order = await order_repo.lock(conn, tenant_id, order_id)
    if order is None:
        raise OrderNotFound(tenant_id, order_id)
    if order.status == to:
        return Transition(
            tenant_id=tenant_id,
            order_id=order_id,
            from_state=order.status,
            to_state=to,
            changed=False,
            actor=actor,
            reason=reason,
            order=order,
        )
    if not allowed(order.status, to):
        raise IllegalTransition(order_id, order.status, to)
    moved = await order_repo.set_status(conn, tenant_id, order_id, to)
    row = await order_repo.insert_transition(
        conn,
        tenant_id=tenant_id,
        order_id=order_id,
        from_status=order.status,
        to_status=to,
        actor=actor,
        reason=reason,
        notify=notify,
    )
    tenant = await tenant_repo.by_id(conn, tenant_id)
    event_id = outbox_repo.event_id(tenant_id, "order.transition", row.id)
    await outbox_repo.enqueue(
        conn,
        tenant_id=tenant_id,
        event_id=event_id,
        event_type=event_type(to),
        aggregate_id=order_id,
        payload={
            "order_id": order_id,
            "tenant": tenant.slug if tenant else None,
            "from": order.status,
            "to": to,
            "actor": actor,
            "reason": reason,
            "at": row.created_at.isoformat(),
            "total": str(moved.total),
            "payment_method": moved.payment_method,
            **(payload or {}),
        },
    )
    return Transition(
        tenant_id=tenant_id,
        order_id=order_id,
        from_state=order.status,
        to_state=to,
        changed=True,
        actor=actor,
        reason=reason,
        transition_id=row.id,
        outbox_event_id=str(event_id),
        order=moved,
    )


async def transition(
    pool: Pool,
    tenant_id: int,
    order_id: int,
    to: OrderState,
    *,
    actor: str,
    reason: str | None = None,
    notifier: Notifier | None = None,
    notify: bool = True,
    payload: dict[str, Any] | None = None,
) -> Transition:
    """Move an order to `to`: checked, recorded with its outbox event in one transaction, then the customer told.

    `actor` says who moved it ("staff:ana", "customer", "asaas", "pos", "system"). Without a `notifier` (or if
    sending fails) the customer is told later by the jobs worker; `notify=False` when the caller's own reply
    already tells them (the conversation). Raises IllegalTransition or OrderNotFound; moving an order to the
    state it is in changes nothing (`changed` False), so replays are harmless.
    """
    async with pool.connection() as conn, conn.transaction():
        done = await transition_in(
            conn, tenant_id, order_id, to, actor=actor, reason=reason, notify=notify, payload=payload
        )
    await tell_after(pool, notifier, done)
    return done


async def tell_after(pool: Pool, notifier: Notifier | None, done: Transition) -> None:
    """After the commit: tell the customer now if we can; the move stands whatever happens here."""
    if notifier is None or not done.changed or done.transition_id is None:
        return
    try:
        await tell(pool, notifier, done.transition_id)
    except Exception:
        log.exception(
            "order %s moved to %s; telling the customer is left to the jobs worker", done.order_id, done.to_state
        )


async def advance(
    pool: Pool,
    tenant_id: int,
    order_id: int,
    *,
    actor: str,
    to: OrderState | None = None,
    reason: str | None = None,
    notifier: Notifier | None = None,
) -> Transition:
    """Staff's "next step" (or the step named by `to`)."""
    if to is None:
        async with pool.connection() as conn:
            order = await order_repo.by_id(conn, tenant_id, order_id)
        if order is None:
            raise OrderNotFound(tenant_id, order_id)
        to = next_state(order)
    return await transition(pool, tenant_id, order_id, to, actor=actor, reason=reason, notifier=notifier)


async def cancel(
    pool: Pool,
    tenant_id: int,
    order_id: int,
    *,
    actor: str,
    reason: str,
    notifier: Notifier | None = None,
    notify: bool = True,
) -> Transition:
    """Cancel an order (a reason is required: staff and the POS will read it)."""
    return await transition(
        pool, tenant_id, order_id, "cancelled", actor=actor, reason=reason, notifier=notifier, notify=notify
    )
