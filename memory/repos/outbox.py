"""The transactional outbox: events written with the change they describe, published to the POS later."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from memory.db import Conn

# fixed namespace so an event's id depends only on what it is about (a replay writes the same id)
EVENT_NAMESPACE = uuid.UUID("5b0f7c1e-2a59-4d3e-9a57-6f0c2d7f8a11")


def event_id(*parts: object) -> uuid.UUID:
    """A deterministic event id (uuid5) from what identifies the event, e.g. (tenant_id, "order.placed", order_id)."""
    return uuid.uuid5(EVENT_NAMESPACE, ":".join(str(p) for p in parts))


class OutboxEvent(BaseModel):
    """An event waiting to be (or already) published."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    event_id: uuid.UUID
    event_type: str
    aggregate_id: int
    payload: dict[str, Any]
    created_at: datetime
    published_at: datetime | None
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None = None
    stuck_at: datetime | None = None
    sqs_message_id: str | None = None


_COLUMNS = (
    "id, tenant_id, event_id, event_type, aggregate_id, payload, created_at, published_at, attempts, last_error, "
    "next_attempt_at, stuck_at, sqs_message_id"
)
# the first key of the advisory lock a relay holds on a store while it publishes that store's rows
RELAY_LOCK_KEY = 1_100_011
# the first key of the transaction lock a writer holds on a store from its outbox insert to its commit
WRITE_LOCK_KEY = 1_100_012


async def enqueue(
    conn: Conn, *, tenant_id: int, event_id: uuid.UUID, event_type: str, aggregate_id: int, payload: dict[str, Any]
) -> bool:
    """Write an event unless one with this id exists; True if written.

    Call it inside the transaction that makes the change. It takes the store's write lock until that commits, so a
    store's rows commit in id order: without it, a transaction that took id 7 and committed after the one that took
    id 8 let the relay publish 8 first, and the kitchen saw one store's events out of order.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(%s, %s::int)", (WRITE_LOCK_KEY, tenant_id))
    cur = await conn.execute(
        """INSERT INTO outbox (tenant_id, event_id, event_type, aggregate_id, payload)
           VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING""",
        (tenant_id, event_id, event_type, aggregate_id, Jsonb(payload)),
    )
    return cur.rowcount > 0


async def for_aggregate(conn: Conn, tenant_id: int, aggregate_id: int) -> list[OutboxEvent]:
    """Every event about one aggregate (e.g. an order), oldest first."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM outbox WHERE tenant_id = %s AND aggregate_id = %s ORDER BY id",
        (tenant_id, aggregate_id),
    )
    return [OutboxEvent.model_validate(r) for r in await cur.fetchall()]


async def unpublished(conn: Conn, *, limit: int = 100) -> list[OutboxEvent]:
    """Events not yet published, oldest first (all tenants: the relay serves them all)."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT %s", (limit,))
    return [OutboxEvent.model_validate(r) for r in await cur.fetchall()]


async def mark_published(conn: Conn, outbox_id: int, sqs_message_id: str | None = None) -> None:
    """Record that the event reached its queue."""
    await conn.execute(
        "UPDATE outbox SET published_at = clock_timestamp(), last_error = NULL, sqs_message_id = %s WHERE id = %s",
        (sqs_message_id, outbox_id),
    )


async def mark_published_many(conn: Conn, published: list[tuple[int, str | None]]) -> None:
    """Record that these events reached their queue (outbox id, SQS message id)."""
    await conn.execute(
        """UPDATE outbox o SET published_at = clock_timestamp(), last_error = NULL, sqs_message_id = v.mid
             FROM unnest(%s::bigint[], %s::text[]) AS v(id, mid) WHERE o.id = v.id""",
        ([i for i, _ in published], [m for _, m in published]),
    )


async def mark_failed(
    conn: Conn, outbox_id: int, error: str, *, retry_in_s: float = 0.0, max_attempts: int | None = None
) -> bool:
    """Count a failed publish attempt, keep its error and when to try again; True if the row is now stuck."""
    cur = await conn.execute(
        """UPDATE outbox SET attempts = attempts + 1, last_error = %s,
                  next_attempt_at = now() + make_interval(secs => %s),
                  stuck_at = CASE WHEN %s::int IS NOT NULL AND attempts + 1 >= %s::int THEN now() END
            WHERE id = %s RETURNING stuck_at""",
        (error[:1000], retry_in_s, max_attempts, max_attempts, outbox_id),
    )
    row = await cur.fetchone()
    return bool(row and row["stuck_at"] is not None)


async def note_error(conn: Conn, outbox_ids: list[int], error: str) -> None:
    """Keep the error of a publish that failed for reasons not the rows' own (SQS unreachable): no attempt counted."""
    await conn.execute(
        "UPDATE outbox SET last_error = %s WHERE id = ANY(%s) AND published_at IS NULL", (error[:1000], outbox_ids)
    )


class Claim(BaseModel):
    """One store's oldest due rows, locked by this relay's transaction until it commits."""

    model_config = ConfigDict(frozen=True)

    tenant_id: int
    store: str
    sqs_settings: dict[str, Any]
    events: list[OutboxEvent]


async def claim(conn: Conn, *, limit: int = 10, skip_tenants: list[int] | None = None) -> Claim | None:
    """Inside the caller's transaction: lock one store no other relay holds and its oldest due rows.

    One store at a time per relay (the advisory lock) keeps a store's events in id order even with several
    relays: two relays splitting one store's rows could otherwise send a later event first. The rows
    themselves are claimed FOR UPDATE SKIP LOCKED, so nothing locked elsewhere is ever waited on or sent twice.
    """
    cur = await conn.execute(
        """WITH due AS MATERIALIZED (
               SELECT tenant_id, min(id) AS first FROM outbox
                WHERE published_at IS NULL AND stuck_at IS NULL AND next_attempt_at <= now()
                  AND NOT (tenant_id = ANY(%s))
                GROUP BY tenant_id ORDER BY first),
           -- the lock is tried store by store, oldest first, and stops at the first taken: a filter under an
           -- outer ORDER BY would run for every due store and lock them all for this one relay
           pick AS (SELECT tenant_id FROM due WHERE pg_try_advisory_xact_lock(%s, tenant_id::int) LIMIT 1)
           SELECT t.id, t.slug, t.sqs_settings FROM pick JOIN tenants t ON t.id = pick.tenant_id""",
        (skip_tenants or [], RELAY_LOCK_KEY),
    )
    tenant = await cur.fetchone()
    if tenant is None:
        return None
    cur = await conn.execute(
        f"""SELECT {_COLUMNS} FROM outbox
             WHERE tenant_id = %s AND published_at IS NULL AND stuck_at IS NULL AND next_attempt_at <= now()
             ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
        (tenant["id"], limit),
    )
    events = [OutboxEvent.model_validate(r) for r in await cur.fetchall()]
    if not events:
        return None
    return Claim(tenant_id=tenant["id"], store=tenant["slug"], sqs_settings=tenant["sqs_settings"], events=events)


async def order_snapshots(conn: Conn, tenant_id: int, order_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The orders the events are about, with customer and lines, in one query (the relay renders from them)."""
    cur = await conn.execute(
        """SELECT o.id, o.status, o.customer_id, c.name AS customer_name, c.phone AS customer_phone, o.address,
                  o.subtotal, o.delivery_fee, o.total, o.payment_method, o.change_for, o.created_at,
                  coalesce((SELECT json_agg(json_build_object(
                              'sku', i.sku, 'name', i.name, 'qty', i.qty, 'unit_price', i.unit_price::text,
                              'line_total', i.line_total::text, 'options', i.options, 'removed', i.removed)
                              ORDER BY i.position, i.id)
                              FROM order_items i WHERE i.tenant_id = o.tenant_id AND i.order_id = o.id),
                           '[]'::json) AS lines
             FROM orders o JOIN customers c ON c.id = o.customer_id
            WHERE o.tenant_id = %s AND o.id = ANY(%s)""",
        (tenant_id, order_ids),
    )
    return {int(r["id"]): dict(r) for r in await cur.fetchall()}


async def after(conn: Conn, tenant_id: int, after_id: int, *, limit: int = 100) -> list[OutboxEvent]:
    """One store's events written after `after_id`, oldest first (`comanda outbox tail`)."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM outbox WHERE tenant_id = %s AND id > %s ORDER BY id LIMIT %s",
        (tenant_id, after_id, limit),
    )
    return [OutboxEvent.model_validate(r) for r in await cur.fetchall()]


async def last_id(conn: Conn, tenant_id: int) -> int:
    """The id of a store's newest event (0 if none)."""
    cur = await conn.execute("SELECT coalesce(max(id), 0) AS n FROM outbox WHERE tenant_id = %s", (tenant_id,))
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def listing(
    conn: Conn, *, tenant_id: int | None = None, stuck: bool = False, pending: bool = False, limit: int = 100
) -> list[OutboxEvent]:
    """Events, newest first: all, only the stuck ones, or only the ones not yet published (stuck included)."""
    where = ["TRUE"]
    params: list[Any] = []
    if tenant_id is not None:
        where.append("tenant_id = %s")
        params.append(tenant_id)
    if stuck:
        where.append("stuck_at IS NOT NULL AND published_at IS NULL")
    if pending:
        where.append("published_at IS NULL")
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM outbox WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s", (*params, limit)
    )
    return [OutboxEvent.model_validate(r) for r in await cur.fetchall()]


async def release_stuck(conn: Conn, *, tenant_id: int | None = None, ids: list[int] | None = None) -> int:
    """Give stuck rows another round of attempts (after the cause was fixed); how many."""
    cur = await conn.execute(
        """UPDATE outbox SET stuck_at = NULL, attempts = 0, next_attempt_at = now()
            WHERE stuck_at IS NOT NULL AND published_at IS NULL
              AND (%s::bigint IS NULL OR tenant_id = %s) AND (%s::bigint[] IS NULL OR id = ANY(%s))""",
        (tenant_id, tenant_id, ids, ids),
    )
    return cur.rowcount


async def counts(conn: Conn) -> dict[str, int]:
    """Pending (due or waiting to retry) and stuck rows, across stores."""
    cur = await conn.execute(
        """SELECT count(*) FILTER (WHERE stuck_at IS NULL) AS pending,
                  count(*) FILTER (WHERE stuck_at IS NOT NULL) AS stuck
             FROM outbox WHERE published_at IS NULL"""
    )
    row = await cur.fetchone()
    return {"pending": int(row["pending"]), "stuck": int(row["stuck"])} if row else {"pending": 0, "stuck": 0}


async def set_sqs_settings(conn: Conn, tenant_id: int, settings: dict[str, Any]) -> None:
    """A store's SQS queues (`tenants.sqs_settings`): where its events go and where its POS answers."""
    await conn.execute(
        "UPDATE tenants SET sqs_settings = %s, updated_at = now() WHERE id = %s", (Jsonb(settings), tenant_id)
    )


async def sqs_settings_of(conn: Conn) -> dict[int, tuple[str, dict[str, Any]]]:
    """Every store with SQS settings: id → (slug, settings)."""
    cur = await conn.execute("SELECT id, slug, sqs_settings FROM tenants WHERE sqs_settings <> '{}'::jsonb")
    return {int(r["id"]): (r["slug"], r["sqs_settings"]) for r in await cur.fetchall()}


async def customer_row(conn: Conn, tenant_id: int, customer_id: int | None, phone: str) -> dict[str, Any] | None:
    """A customer (by id, else by phone) with the default address, row-locked: what customer events describe."""
    cur = await conn.execute(
        """SELECT c.id, c.phone, c.name, c.email,
                  (SELECT to_jsonb(a) - 'id' - 'tenant_id' - 'customer_id' - 'created_at' - 'label'
                     FROM addresses a WHERE a.tenant_id = c.tenant_id AND a.id = c.default_address_id) AS address
             FROM customers c
            WHERE c.tenant_id = %s AND (c.id = %s OR (%s::bigint IS NULL AND c.phone = %s))
            FOR UPDATE OF c""",
        (tenant_id, customer_id, customer_id, phone),
    )
    row = await cur.fetchone()
    return dict(row) if row else None
