"""Status updates from a store's POS: the ones applied (by the POS's id) and the ones we could not apply."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from memory.db import Conn


class DeadLetter(BaseModel):
    """A POS message that could not be applied, with the reason."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    sqs_message_id: str
    update_id: str | None
    order_id: int | None
    body: str
    reason: str
    received_at: datetime


async def record_applied(conn: Conn, tenant_id: int, update_id: str, order_id: int, status: str, outcome: str) -> bool:
    """Remember an update inside the transaction that applies it; False if it was applied before (a resend)."""
    cur = await conn.execute(
        """INSERT INTO pos_updates (tenant_id, update_id, order_id, status, outcome) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, update_id) DO NOTHING""",
        (tenant_id, update_id, order_id, status, outcome),
    )
    return cur.rowcount > 0


async def dead_letter(
    conn: Conn,
    tenant_id: int,
    *,
    sqs_message_id: str,
    body: str,
    reason: str,
    update_id: str | None = None,
    order_id: int | None = None,
) -> bool:
    """Keep a message we could not apply; a redelivery of the same SQS message is kept once."""
    cur = await conn.execute(
        """INSERT INTO pos_dead_letters (tenant_id, sqs_message_id, update_id, order_id, body, reason)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, sqs_message_id) DO NOTHING""",
        (tenant_id, sqs_message_id, update_id, order_id, body[:100_000], reason[:2000]),
    )
    return cur.rowcount > 0


async def dead_letters(conn: Conn, tenant_id: int | None = None, *, limit: int = 100) -> list[DeadLetter]:
    """The newest dead letters (of one store, or all)."""
    cur = await conn.execute(
        """SELECT id, tenant_id, sqs_message_id, update_id, order_id, body, reason, received_at
             FROM pos_dead_letters WHERE %s::bigint IS NULL OR tenant_id = %s ORDER BY id DESC LIMIT %s""",
        (tenant_id, tenant_id, limit),
    )
    return [DeadLetter.model_validate(r) for r in await cur.fetchall()]
