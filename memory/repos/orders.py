"""Orders with their lines (priced as placed) and the payments started for them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from memory.db import Conn


class OrderOption(BaseModel):
    """A chosen option as it was priced when the order was placed."""

    model_config = ConfigDict(frozen=True)

    group: str
    choice: str
    price_delta: Decimal


class OrderLineFields(BaseModel):
    """One order line to insert."""

    model_config = ConfigDict(frozen=True)

    menu_item_id: int
    sku: str
    name: str
    qty: int
    unit_price: Decimal
    line_total: Decimal
    options: list[OrderOption] = []
    removed: list[str] = []


class OrderItemRow(OrderLineFields):
    """A stored order line."""

    id: int
    order_id: int
    position: int


class NewOrder(BaseModel):
    """An order to insert; `idempotency_key` is unique per tenant."""

    model_config = ConfigDict(frozen=True)

    tenant_id: int
    customer_id: int
    idempotency_key: str
    status: str
    payment_method: str
    change_for: Decimal | None
    subtotal: Decimal
    delivery_fee: Decimal
    total: Decimal
    address_id: int | None
    address: dict[str, Any]
    locale: str | None = None


class OrderRow(BaseModel):
    """A stored order."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    customer_id: int
    idempotency_key: str
    status: str
    payment_method: str
    change_for: Decimal | None
    subtotal: Decimal
    delivery_fee: Decimal
    total: Decimal
    address_id: int | None
    address: dict[str, Any]
    notes: str | None
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    status_changed_at: datetime | None = None
    locale: str | None = None
    flagged_reason: str | None = None
    payment_reminded_at: datetime | None = None


class OrderListRow(OrderRow):
    """An order with who placed it, for operator listings."""

    customer_name: str | None
    customer_phone: str
    items_count: int


_ORDER = (
    "id, tenant_id, customer_id, idempotency_key, status, payment_method, change_for, subtotal, delivery_fee, "
    "total, address_id, address, notes, created_at, updated_at, paid_at, status_changed_at, locale, flagged_reason, "
    "payment_reminded_at"
)
_ITEM = "id, order_id, menu_item_id, sku, name, qty, unit_price, line_total, options, removed, position"


async def insert_order(conn: Conn, order: NewOrder) -> tuple[OrderRow, bool]:
    """Insert the order, or return the one already placed with the same idempotency key; `True` if new."""
    cur = await conn.execute(
        f"""INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method, change_for,
                                subtotal, delivery_fee, total, address_id, address, locale)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
            RETURNING {_ORDER}""",
        (
            order.tenant_id,
            order.customer_id,
            order.idempotency_key,
            order.status,
            order.payment_method,
            order.change_for,
            order.subtotal,
            order.delivery_fee,
            order.total,
            order.address_id,
            Jsonb(order.address),
            order.locale,
        ),
    )
    row = await cur.fetchone()
    if row is not None:
        return OrderRow.model_validate(row), True
    existing = await by_idempotency_key(conn, order.tenant_id, order.idempotency_key)
    assert existing is not None
    return existing, False


async def insert_items(conn: Conn, tenant_id: int, order_id: int, lines: list[OrderLineFields]) -> None:
    """Insert an order's lines in cart order."""
    async with conn.cursor() as cur:
        await cur.executemany(
            """INSERT INTO order_items (tenant_id, order_id, menu_item_id, sku, name, qty, unit_price, line_total,
                                        options, removed, position)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (
                    tenant_id,
                    order_id,
                    ln.menu_item_id,
                    ln.sku,
                    ln.name,
                    ln.qty,
                    ln.unit_price,
                    ln.line_total,
                    Jsonb([o.model_dump(mode="json") for o in ln.options]),
                    ln.removed,
                    i,
                )
                for i, ln in enumerate(lines)
            ],
        )


async def by_idempotency_key(conn: Conn, tenant_id: int, key: str) -> OrderRow | None:
    """The order placed by this checkout, if any."""
    cur = await conn.execute(
        f"SELECT {_ORDER} FROM orders WHERE tenant_id = %s AND idempotency_key = %s", (tenant_id, key)
    )
    row = await cur.fetchone()
    return OrderRow.model_validate(row) if row else None


async def by_id(conn: Conn, tenant_id: int, order_id: int) -> OrderRow | None:
    """One of the tenant's orders."""
    cur = await conn.execute(f"SELECT {_ORDER} FROM orders WHERE tenant_id = %s AND id = %s", (tenant_id, order_id))
    row = await cur.fetchone()
    return OrderRow.model_validate(row) if row else None


async def items(conn: Conn, tenant_id: int, order_id: int) -> list[OrderItemRow]:
    """An order's lines in the order they were added."""
    cur = await conn.execute(
        f"SELECT {_ITEM} FROM order_items WHERE tenant_id = %s AND order_id = %s ORDER BY position, id",
        (tenant_id, order_id),
    )
    return [OrderItemRow.model_validate(r) for r in await cur.fetchall()]


async def list_recent(conn: Conn, tenant_id: int, *, limit: int = 20) -> list[OrderListRow]:
    """The tenant's latest orders, newest first, with the customer's name and phone."""
    cols = ", ".join(f"o.{c.strip()}" for c in _ORDER.split(","))
    cur = await conn.execute(
        f"""SELECT {cols}, c.name AS customer_name, c.phone AS customer_phone,
                   (SELECT coalesce(sum(qty), 0) FROM order_items i WHERE i.order_id = o.id) AS items_count
            FROM orders o JOIN customers c ON c.id = o.customer_id
            WHERE o.tenant_id = %s ORDER BY o.created_at DESC, o.id DESC LIMIT %s""",
        (tenant_id, limit),
    )
    return [OrderListRow.model_validate(r) for r in await cur.fetchall()]


async def last_for_customer(conn: Conn, tenant_id: int, customer_id: int) -> OrderRow | None:
    """The customer's most recent order."""
    cur = await conn.execute(
        f"""SELECT {_ORDER} FROM orders WHERE tenant_id = %s AND customer_id = %s
            ORDER BY created_at DESC, id DESC LIMIT 1""",
        (tenant_id, customer_id),
    )
    row = await cur.fetchone()
    return OrderRow.model_validate(row) if row else None


async def set_payment_method(
    conn: Conn, tenant_id: int, order_id: int, *, method: str, change_for: Decimal | None, status: str
) -> OrderRow | None:
    """Switch an unpaid order to another payment method (after a failed charge)."""
    cur = await conn.execute(
        f"""UPDATE orders SET payment_method = %s, change_for = %s, status = %s, updated_at = now()
            WHERE tenant_id = %s AND id = %s AND status = 'awaiting_payment' RETURNING {_ORDER}""",
        (method, change_for, status, tenant_id, order_id),
    )
    row = await cur.fetchone()
    return OrderRow.model_validate(row) if row else None


# --- lifecycle ---------------------------------------------------------------------------------------------------


class TransitionRow(BaseModel):
    """One move of an order from a state to another, and whether its customer was told."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    order_id: int
    from_status: str
    to_status: str
    actor: str
    reason: str | None
    created_at: datetime
    notify: bool
    notified_at: datetime | None


_TRANSITION = "id, tenant_id, order_id, from_status, to_status, actor, reason, created_at, notify, notified_at"


async def lock(conn: Conn, tenant_id: int, order_id: int) -> OrderRow | None:
    """The order, locked until the end of the transaction (a concurrent move waits, then sees this one's result)."""
    cur = await conn.execute(
        f"SELECT {_ORDER} FROM orders WHERE tenant_id = %s AND id = %s FOR UPDATE", (tenant_id, order_id)
    )
    row = await cur.fetchone()
    return OrderRow.model_validate(row) if row else None


async def set_status(conn: Conn, tenant_id: int, order_id: int, status: str) -> OrderRow:
    """Move the order to `status` now (the lifecycle module decides whether it may)."""
    cur = await conn.execute(
        f"""UPDATE orders SET status = %s, status_changed_at = now(), updated_at = now(),
                   paid_at = CASE WHEN %s = 'paid' THEN coalesce(paid_at, now()) ELSE paid_at END
            WHERE tenant_id = %s AND id = %s RETURNING {_ORDER}""",
        (status, status, tenant_id, order_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return OrderRow.model_validate(row)


async def insert_transition(
    conn: Conn,
    *,
    tenant_id: int,
    order_id: int,
    from_status: str,
    to_status: str,
    actor: str,
    reason: str | None,
    notify: bool,
) -> TransitionRow:
    """Record a move (and, with `notify`, that its customer is still to be told)."""
    cur = await conn.execute(
        f"""INSERT INTO order_transitions (tenant_id, order_id, from_status, to_status, actor, reason, notify,
                                           notified_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN NULL ELSE now() END) RETURNING {_TRANSITION}""",
        (tenant_id, order_id, from_status, to_status, actor, reason, notify, notify),
    )
    row = await cur.fetchone()
    assert row is not None
    return TransitionRow.model_validate(row)


async def transitions(conn: Conn, tenant_id: int, order_id: int) -> list[TransitionRow]:
    """An order's moves, oldest first."""
    cur = await conn.execute(
        f"SELECT {_TRANSITION} FROM order_transitions WHERE tenant_id = %s AND order_id = %s ORDER BY id",
        (tenant_id, order_id),
    )
    return [TransitionRow.model_validate(r) for r in await cur.fetchall()]


async def get_transition(conn: Conn, transition_id: int) -> TransitionRow | None:
    """One move by id."""
    cur = await conn.execute(f"SELECT {_TRANSITION} FROM order_transitions WHERE id = %s", (transition_id,))
    row = await cur.fetchone()
    return TransitionRow.model_validate(row) if row else None


async def untold_transitions(conn: Conn, *, older_than_s: float = 0.0, limit: int = 100) -> list[TransitionRow]:
    """Moves whose customer hasn't been told yet (all tenants), oldest first."""
    cur = await conn.execute(
        f"""SELECT {_TRANSITION} FROM order_transitions
            WHERE notify AND notified_at IS NULL AND created_at <= now() - make_interval(secs => %s)
            ORDER BY id LIMIT %s""",
        (older_than_s, limit),
    )
    return [TransitionRow.model_validate(r) for r in await cur.fetchall()]


async def mark_told(conn: Conn, transition_id: int) -> None:
    """The customer was told of this move."""
    await conn.execute(
        "UPDATE order_transitions SET notified_at = now() WHERE id = %s AND notified_at IS NULL", (transition_id,)
    )


async def flag(conn: Conn, tenant_id: int, order_id: int, reason: str) -> bool:
    """Ask staff to look at the order (its status doesn't change); False if it was already flagged for this."""
    cur = await conn.execute(
        """UPDATE orders SET flagged_reason = %s, flagged_at = now(), updated_at = now()
            WHERE tenant_id = %s AND id = %s AND flagged_reason IS DISTINCT FROM %s""",
        (reason, tenant_id, order_id, reason),
    )
    return cur.rowcount > 0


class UnpaidPix(BaseModel):
    """An unpaid PIX order and how long it has waited, for the reminder and expiry jobs."""

    model_config = ConfigDict(frozen=True)

    tenant_id: int
    order_id: int
    waited_s: float
    expiry_minutes: int
    reminded: bool


async def unpaid_pix(conn: Conn, *, limit: int = 500) -> list[UnpaidPix]:
    """PIX orders still waiting for their payment (all tenants), the longest-waiting first."""
    cur = await conn.execute(
        """SELECT o.tenant_id, o.id AS order_id, extract(epoch FROM now() - o.status_changed_at) AS waited_s,
                  t.pix_expiry_minutes AS expiry_minutes, o.payment_reminded_at IS NOT NULL AS reminded
             FROM orders o JOIN tenants t ON t.id = o.tenant_id
            WHERE o.status = 'awaiting_payment' AND o.payment_method = 'pix'
            ORDER BY o.status_changed_at LIMIT %s""",
        (limit,),
    )
    return [UnpaidPix.model_validate(r) for r in await cur.fetchall()]


async def mark_reminded(conn: Conn, tenant_id: int, order_id: int) -> bool:
    """Claim the order's one payment reminder; False if it was already claimed (or the order moved on)."""
    cur = await conn.execute(
        """UPDATE orders SET payment_reminded_at = now()
            WHERE tenant_id = %s AND id = %s AND payment_reminded_at IS NULL AND status = 'awaiting_payment'""",
        (tenant_id, order_id),
    )
    return cur.rowcount > 0
