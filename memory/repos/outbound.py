"""Messages sent to customers over an outbound channel, with their delivery state."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn

OutboundKind = Literal["reply", "notification", "agent"]
OutboundStatus = Literal["queued", "sent", "delivered", "read", "failed", "undelivered"]


class OutboundMessage(BaseModel):
    """An outbound message as stored."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    phone: str
    body: str
    media_url: str | None
    kind: OutboundKind
    status: OutboundStatus
    provider_sid: str | None
    error_code: str | None
    dedupe_key: str | None = None
    content_sid: str | None = None
    created_at: datetime
    updated_at: datetime


_COLUMNS = (
    "id, tenant_id, phone, body, media_url, kind, status, provider_sid, error_code, dedupe_key, content_sid,"
    " created_at, updated_at"
)
# delivery states only move forward (Twilio's callbacks can arrive out of order); failures end the story
_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "undelivered": 4, "failed": 4}


def _message(row: dict[str, Any] | None) -> OutboundMessage | None:
    return OutboundMessage.model_validate(row) if row else None


async def insert_message(
    conn: Conn,
    *,
    tenant_id: int,
    phone: str,
    body: str,
    kind: OutboundKind = "reply",
    media_url: str | None = None,
    status: OutboundStatus = "queued",
    provider_sid: str | None = None,
    dedupe_key: str | None = None,
    content_sid: str | None = None,
    error_code: str | None = None,
) -> OutboundMessage:
    """Record a message to `phone` (E.164); with a `dedupe_key` already used, the earlier row comes back instead."""
    cur = await conn.execute(
        f"""INSERT INTO outbound_messages
                (tenant_id, phone, body, media_url, kind, status, provider_sid, dedupe_key, content_sid, error_code)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
            RETURNING {_COLUMNS}""",
        (tenant_id, phone, body, media_url, kind, status, provider_sid, dedupe_key, content_sid, error_code),
    )
    message = _message(await cur.fetchone())
    if message is None:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM outbound_messages WHERE tenant_id = %s AND dedupe_key = %s",
            (tenant_id, dedupe_key),
        )
        message = _message(await cur.fetchone())
    assert message is not None
    return message


async def get_message(conn: Conn, tenant_id: int, message_id: int) -> OutboundMessage | None:
    """The tenant's outbound message with this id, if any."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM outbound_messages WHERE tenant_id = %s AND id = %s", (tenant_id, message_id)
    )
    return _message(await cur.fetchone())


async def list_for_phone(
    conn: Conn, tenant_id: int, phone: str, *, after_id: int = 0, limit: int = 100
) -> list[OutboundMessage]:
    """Messages sent to `phone` with an id above `after_id`, oldest first (a reader polls with the last id seen)."""
    cur = await conn.execute(
        f"""SELECT {_COLUMNS} FROM outbound_messages
            WHERE tenant_id = %s AND phone = %s AND id > %s ORDER BY id LIMIT %s""",
        (tenant_id, phone, after_id, limit),
    )
    return [OutboundMessage.model_validate(r) for r in await cur.fetchall()]


async def set_status(
    conn: Conn,
    tenant_id: int,
    message_id: int,
    status: OutboundStatus,
    *,
    provider_sid: str | None = None,
    error_code: str | None = None,
) -> bool:
    """Update a message's delivery state (and the provider's id once known); False if there is no such message."""
    cur = await conn.execute(
        """UPDATE outbound_messages
              SET status = %s, provider_sid = coalesce(%s, provider_sid), error_code = coalesce(%s, error_code),
                  updated_at = now()
            WHERE tenant_id = %s AND id = %s""",
        (status, provider_sid, error_code, tenant_id, message_id),
    )
    return cur.rowcount > 0


async def set_status_by_provider_sid(
    conn: Conn, provider_sid: str, status: OutboundStatus, error_code: str | None = None
) -> OutboundMessage | None:
    """Apply a provider's status callback; a state never moves backwards. None if no message has that sid."""
    cur = await conn.execute(
        f"""UPDATE outbound_messages
              SET status = CASE WHEN %(rank)s >= (CASE status {_rank_sql()} END) THEN %(status)s ELSE status END,
                  error_code = coalesce(%(error)s, error_code), updated_at = now()
            WHERE provider_sid = %(sid)s
        RETURNING {_COLUMNS}""",
        {"rank": _RANK[status], "status": status, "error": error_code, "sid": provider_sid},
    )
    return _message(await cur.fetchone())


def _rank_sql() -> str:
    return " ".join(f"WHEN '{name}' THEN {rank}" for name, rank in _RANK.items())


async def touch_window(conn: Conn, tenant_id: int, phone: str) -> None:
    """The customer just wrote: their 24-hour window for free-form messages opens again."""
    await conn.execute(
        """INSERT INTO conversation_windows (tenant_id, phone, last_inbound_at) VALUES (%s, %s, now())
           ON CONFLICT (tenant_id, phone) DO UPDATE SET last_inbound_at = excluded.last_inbound_at""",
        (tenant_id, phone),
    )


async def window_open(conn: Conn, tenant_id: int, phone: str, hours: int = 24) -> bool:
    """Whether the customer wrote in the last `hours` (WhatsApp accepts free-form messages only then)."""
    cur = await conn.execute(
        """SELECT 1 FROM conversation_windows
            WHERE tenant_id = %s AND phone = %s AND last_inbound_at > now() - make_interval(hours => %s)""",
        (tenant_id, phone, hours),
    )
    return await cur.fetchone() is not None
