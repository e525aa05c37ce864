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


_COLUMNS = "id, tenant_id, event_id, event_type, aggregate_id, payload, created_at, published_at, attempts, last_error"


async def enqueue(
    conn: Conn, *, tenant_id: int, event_id: uuid.UUID, event_type: str, aggregate_id: int, payload: dict[str, Any]
) -> bool:
    """Write an event unless one with this id exists; True if written."""
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


async def mark_published(conn: Conn, outbox_id: int) -> None:
    """Record that the event reached its queue."""
    await conn.execute("UPDATE outbox SET published_at = now(), last_error = NULL WHERE id = %s", (outbox_id,))


async def mark_failed(conn: Conn, outbox_id: int, error: str) -> None:
    """Count a failed publish attempt and keep its error."""
    await conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = %s WHERE id = %s", (error[:1000], outbox_id)
    )
