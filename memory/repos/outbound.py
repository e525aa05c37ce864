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
    created_at: datetime
    updated_at: datetime


_COLUMNS = "id, tenant_id, phone, body, media_url, kind, status, provider_sid, error_code, created_at, updated_at"


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
) -> OutboundMessage:
    """Record a message to `phone` (E.164)."""
    cur = await conn.execute(
        f"""INSERT INTO outbound_messages (tenant_id, phone, body, media_url, kind, status, provider_sid)
            VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}""",
        (tenant_id, phone, body, media_url, kind, status, provider_sid),
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
