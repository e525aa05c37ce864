"""Payments of orders (one per order and provider) and their settlement: payment, order and POS event at once."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from memory.db import Conn
from memory.repos import orders as order_repo

PaymentStatus = Literal["pending", "paid", "failed", "refunded", "expired", "cancelled"]
# event ids are uuid5 under this namespace, so the same fact always gets the same id (the outbox dedupes on it)
OUTBOX_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://comanda.local/outbox")


class Payment(BaseModel):
    """A payment as stored."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    order_id: int
    provider: str
    provider_ref: str
    method: str
    amount: Decimal
    status: PaymentStatus
    pix_code: str | None
    pay_url: str | None
    created_at: datetime
    paid_at: datetime | None


class PaidOrder(BaseModel):
    """What settling a payment changed, with what the customer's notification needs."""

    model_config = ConfigDict(frozen=True)

    tenant_id: int
    order_id: int
    payment_id: int
    customer_phone: str
    total: Decimal
    order_status: str
    outbox_event_id: uuid.UUID | None


_COLUMNS = (
    "id, tenant_id, order_id, provider, provider_ref, method, amount, status, pix_code, pay_url, created_at, paid_at"
)


def _payment(row: dict[str, Any] | None) -> Payment | None:
    return Payment.model_validate(row) if row else None


def paid_event_id(tenant_id: int, order_id: int) -> uuid.UUID:
    """The outbox event id of "order `order_id` was paid": the same on every retry."""
    return uuid.uuid5(OUTBOX_NAMESPACE, f"{tenant_id}:{order_id}:paid")


async def insert_payment(
    conn: Conn,
    *,
    tenant_id: int,
    order_id: int,
    provider: str,
    provider_ref: str,
    method: str,
    amount: Decimal,
    pix_code: str | None = None,
    pay_url: str | None = None,
) -> Payment:
    """Record a started payment; if the order already has one with this provider and method, return that one."""
    cur = await conn.execute(
        f"""INSERT INTO payments (tenant_id, order_id, provider, provider_ref, method, amount, pix_code, pay_url)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (tenant_id, order_id, provider, method) DO NOTHING
            RETURNING {_COLUMNS}""",
        (tenant_id, order_id, provider, provider_ref, method, amount, pix_code, pay_url),
    )
    row = await cur.fetchone()
    if row is None:
        cur = await conn.execute(
            f"""SELECT {_COLUMNS} FROM payments
                WHERE tenant_id = %s AND order_id = %s AND provider = %s AND method = %s""",
            (tenant_id, order_id, provider, method),
        )
        row = await cur.fetchone()
    payment = _payment(row)
    assert payment is not None
    return payment


async def get_payment(conn: Conn, tenant_id: int, payment_id: int) -> Payment | None:
    """The tenant's payment with this id, if any."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM payments WHERE tenant_id = %s AND id = %s", (tenant_id, payment_id)
    )
    return _payment(await cur.fetchone())


async def for_order(conn: Conn, tenant_id: int, order_id: int) -> list[Payment]:
    """The order's payments, oldest first."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM payments WHERE tenant_id = %s AND order_id = %s ORDER BY id", (tenant_id, order_id)
    )
    return [Payment.model_validate(r) for r in await cur.fetchall()]


async def by_provider_ref(conn: Conn, provider: str, provider_ref: str) -> Payment | None:
    """The payment a provider's webhook or pay page names (refs are unique per provider, across tenants)."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM payments WHERE provider = %s AND provider_ref = %s", (provider, provider_ref)
    )
    return _payment(await cur.fetchone())


async def mark_paid(conn: Conn, tenant_id: int, payment_id: int, paid_at: datetime | None = None) -> bool:
    """Mark a pending (or failed) payment paid; False if it was already paid (or refunded, or unknown)."""
    cur = await conn.execute(
        """UPDATE payments SET status = 'paid', paid_at = coalesce(%s, now())
            WHERE tenant_id = %s AND id = %s AND status IN ('pending', 'failed')""",
        (paid_at, tenant_id, payment_id),
    )
    return cur.rowcount > 0


async def settle_paid(conn: Conn, tenant_id: int, payment_id: int, paid_at: datetime) -> PaidOrder | None:
    """In one transaction: payment paid, order paid, an "order.paid" outbox event; None if already settled."""
    async with conn.transaction():
        # the conditional UPDATE takes the row lock: a concurrent duplicate waits, then changes nothing
        if not await mark_paid(conn, tenant_id, payment_id, paid_at):
            return None
        payment = await get_payment(conn, tenant_id, payment_id)
        assert payment is not None
        # the same move as tools/orders/lifecycle.py's placed|awaiting_payment → paid (memory can't call tools);
        # the simulated webhook tells the customer itself, so the move is recorded as told
        cur = await conn.execute(
            """UPDATE orders o SET status = 'paid', paid_at = %s, updated_at = now(), status_changed_at = now()
                FROM (SELECT id, status FROM orders WHERE tenant_id = %s AND id = %s FOR UPDATE) before
                WHERE o.id = before.id AND before.status IN ('placed', 'awaiting_payment')
                RETURNING before.status AS from_status""",
            (paid_at, tenant_id, payment.order_id),
        )
        before = await cur.fetchone()
        moved = before is not None
        if before is not None:
            await order_repo.insert_transition(
                conn,
                tenant_id=tenant_id,
                order_id=payment.order_id,
                from_status=before["from_status"],
                to_status="paid",
                actor=payment.provider,
                reason=None,
                notify=False,
            )
        cur = await conn.execute(
            """SELECT o.status, o.total, c.phone FROM orders o JOIN customers c ON c.id = o.customer_id
                WHERE o.tenant_id = %s AND o.id = %s""",
            (tenant_id, payment.order_id),
        )
        order = await cur.fetchone()
        assert order is not None
        event_id = None
        # a cancelled or delivered order keeps its status (someone must refund or reconcile), and the POS
        # hears nothing new about it
        if moved:
            event_id = paid_event_id(tenant_id, payment.order_id)
            payload = {
                "order_id": payment.order_id,
                "payment_id": payment.id,
                "provider": payment.provider,
                "provider_ref": payment.provider_ref,
                "method": payment.method,
                "amount": str(payment.amount),
                "paid_at": paid_at.isoformat(),
            }
            await conn.execute(
                """INSERT INTO outbox (tenant_id, event_id, event_type, aggregate_id, payload)
                    VALUES (%s, %s, 'order.paid', %s, %s) ON CONFLICT (event_id) DO NOTHING""",
                (tenant_id, event_id, payment.order_id, Jsonb(payload)),
            )
        return PaidOrder(
            tenant_id=tenant_id,
            order_id=payment.order_id,
            payment_id=payment.id,
            customer_phone=order["phone"],
            total=order["total"],
            order_status=order["status"],
            outbox_event_id=event_id,
        )


async def close_pending(conn: Conn, tenant_id: int, order_id: int, status: PaymentStatus) -> list[Payment]:
    """End the order's pending payments (expired with the order, cancelled with it); returns those changed."""
    cur = await conn.execute(
        f"""UPDATE payments SET status = %s WHERE tenant_id = %s AND order_id = %s AND status = 'pending'
            RETURNING {_COLUMNS}""",
        (status, tenant_id, order_id),
    )
    return [Payment.model_validate(r) for r in await cur.fetchall()]


async def set_status(conn: Conn, tenant_id: int, payment_id: int, status: PaymentStatus) -> bool:
    """Record what the provider says happened to a payment (refunded, deleted); False if nothing changed."""
    cur = await conn.execute(
        "UPDATE payments SET status = %s WHERE tenant_id = %s AND id = %s AND status <> %s",
        (status, tenant_id, payment_id, status),
    )
    return cur.rowcount > 0


# --- a restaurant's provider account (tenants.asaas_settings) and its customers there -------------------------


async def provider_settings(conn: Conn, tenant_id: int) -> dict[str, Any]:
    """The restaurant's payment provider settings as stored (secrets possibly sealed)."""
    cur = await conn.execute("SELECT asaas_settings FROM tenants WHERE id = %s", (tenant_id,))
    row = await cur.fetchone()
    return dict(row["asaas_settings"]) if row else {}


async def set_provider_settings(conn: Conn, tenant_id: int, settings: dict[str, Any]) -> bool:
    """Replace the restaurant's payment provider settings; False if there is no such tenant."""
    cur = await conn.execute(
        "UPDATE tenants SET asaas_settings = %s, updated_at = now() WHERE id = %s", (Jsonb(settings), tenant_id)
    )
    return cur.rowcount > 0


async def provider_customer(conn: Conn, tenant_id: int, customer_id: int, provider: str) -> str | None:
    """The provider's id of our customer in this restaurant's account, once known."""
    cur = await conn.execute(
        """SELECT provider_customer_id FROM payment_customers
            WHERE tenant_id = %s AND customer_id = %s AND provider = %s""",
        (tenant_id, customer_id, provider),
    )
    row = await cur.fetchone()
    return str(row["provider_customer_id"]) if row else None


async def remember_provider_customer(
    conn: Conn, tenant_id: int, customer_id: int, provider: str, provider_customer_id: str
) -> None:
    """Keep the provider's id of our customer (the first one found wins)."""
    await conn.execute(
        """INSERT INTO payment_customers (tenant_id, customer_id, provider, provider_customer_id)
           VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        (tenant_id, customer_id, provider, provider_customer_id),
    )


# --- provider webhook events: stored first, processed after the answer --------------------------------------------


class PaymentEvent(BaseModel):
    """A provider's webhook event as stored."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    provider: str
    event_id: str
    event_type: str
    provider_ref: str | None
    payload: dict[str, Any]
    received_at: datetime
    processed_at: datetime | None
    outcome: str | None


_EVENT = "id, tenant_id, provider, event_id, event_type, provider_ref, payload, received_at, processed_at, outcome"


async def store_event(
    conn: Conn,
    *,
    tenant_id: int,
    provider: str,
    event_id: str,
    event_type: str,
    provider_ref: str | None,
    payload: dict[str, Any],
) -> PaymentEvent | None:
    """Store an event; None when its id was stored before (a replay)."""
    cur = await conn.execute(
        f"""INSERT INTO payment_events (tenant_id, provider, event_id, event_type, provider_ref, payload)
            VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING {_EVENT}""",
        (tenant_id, provider, event_id, event_type, provider_ref, Jsonb(payload)),
    )
    row = await cur.fetchone()
    return PaymentEvent.model_validate(row) if row else None


async def claim_event(conn: Conn, event_row_id: int) -> PaymentEvent | None:
    """Lock an unprocessed event for processing (inside a transaction); None if processed or being processed."""
    cur = await conn.execute(
        f"""SELECT {_EVENT} FROM payment_events WHERE id = %s AND processed_at IS NULL FOR UPDATE SKIP LOCKED""",
        (event_row_id,),
    )
    row = await cur.fetchone()
    return PaymentEvent.model_validate(row) if row else None


async def finish_event(conn: Conn, event_row_id: int, outcome: str) -> None:
    """Record what processing the event did."""
    await conn.execute(
        "UPDATE payment_events SET processed_at = now(), outcome = %s WHERE id = %s", (outcome[:200], event_row_id)
    )


async def unprocessed_events(conn: Conn, *, older_than_s: float = 0.0, limit: int = 100) -> list[int]:
    """Events stored but not processed (a crash after the 200), oldest first."""
    cur = await conn.execute(
        """SELECT id FROM payment_events WHERE processed_at IS NULL
            AND received_at <= now() - make_interval(secs => %s) ORDER BY id LIMIT %s""",
        (older_than_s, limit),
    )
    return [int(r["id"]) for r in await cur.fetchall()]
