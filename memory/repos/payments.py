"""Payments of orders (one per order and provider) and the provider's events about them.

Settling a paid payment moves its order, which only the order state machine does: `tools/payments/settlement.py`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from memory.db import Conn

PaymentStatus = Literal["pending", "paid", "failed", "refunded", "expired", "cancelled"]


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


_COLUMNS = (
    "id, tenant_id, order_id, provider, provider_ref, method, amount, status, pix_code, pay_url, created_at, paid_at"
)


def _payment(row: dict[str, Any] | None) -> Payment | None:
    return Payment.model_validate(row) if row else None


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
