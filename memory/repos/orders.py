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


class OrderListRow(OrderRow):
    """An order with who placed it, for operator listings."""

    customer_name: str | None
    customer_phone: str
    items_count: int


_ORDER = (
    "id, tenant_id, customer_id, idempotency_key, status, payment_method, change_for, subtotal, delivery_fee, "
    "total, address_id, address, notes, created_at, updated_at, paid_at"
)
_ITEM = "id, order_id, menu_item_id, sku, name, qty, unit_price, line_total, options, removed, position"


async def insert_order(conn: Conn, order: NewOrder) -> tuple[OrderRow, bool]:
    """Insert the order, or return the one already placed with the same idempotency key; `True` if new."""
    cur = await conn.execute(
        f"""INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method, change_for,
                                subtotal, delivery_fee, total, address_id, address)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
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
