"""Handoff tickets (one open per conversation) and the messages exchanged while a human is in charge."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn

Sender = Literal["customer", "agent", "bot"]


class HandoffMessage(BaseModel):
    """One message of a handed-off conversation."""

    model_config = ConfigDict(frozen=True)

    id: int
    ticket_id: int
    sender: Sender
    body: str
    created_at: datetime


class HandoffTicket(BaseModel):
    """A conversation waiting for (or handled by) a human, with its messages when loaded."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    customer_id: int | None
    thread_id: str
    phone: str
    reason: str
    summary: str
    status: Literal["open", "resolved"]
    agent_id: int | None
    opened_at: datetime
    resolved_at: datetime | None
    customer_name: str | None = None
    claimed_at: datetime | None = None
    agent_name: str | None = None
    messages: list[HandoffMessage] = []


_TICKET = (
    "t.id, t.tenant_id, t.customer_id, t.thread_id, t.phone, t.reason, t.summary, t.status, t.agent_id, "
    "t.opened_at, t.resolved_at, c.name AS customer_name, t.claimed_at, a.name AS agent_name"
)
_FROM = "handoff_tickets t LEFT JOIN customers c ON c.id = t.customer_id LEFT JOIN agents a ON a.id = t.agent_id"


async def open_ticket(
    conn: Conn,
    *,
    tenant_id: int,
    thread_id: str,
    phone: str,
    customer_id: int | None,
    reason: str,
    summary: str,
) -> tuple[HandoffTicket, bool]:
    """Open a ticket for the conversation, or return the one already open; True if new."""
    cur = await conn.execute(
        """INSERT INTO handoff_tickets (tenant_id, customer_id, thread_id, phone, reason, summary)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, thread_id) WHERE status = 'open' DO NOTHING
           RETURNING id""",
        (tenant_id, customer_id, thread_id, phone, reason, summary),
    )
    created = await cur.fetchone() is not None
    ticket = await open_for_thread(conn, tenant_id, thread_id)
    assert ticket is not None
    return ticket, created


async def open_for_thread(conn: Conn, tenant_id: int, thread_id: str) -> HandoffTicket | None:
    """The conversation's open ticket, if any."""
    cur = await conn.execute(
        f"SELECT {_TICKET} FROM {_FROM} WHERE t.tenant_id = %s AND t.thread_id = %s AND t.status = 'open'",
        (tenant_id, thread_id),
    )
    row = await cur.fetchone()
    return HandoffTicket.model_validate(row) if row else None


async def add_message(
    conn: Conn, tenant_id: int, ticket_id: int, sender: Sender, body: str, *, message_sid: str | None = None
) -> HandoffMessage | None:
    """Append a message to a ticket; None when the customer's message `message_sid` is on it already (a replay)."""
    cur = await conn.execute(
        """INSERT INTO handoff_messages (tenant_id, ticket_id, sender, body, message_sid) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, message_sid) WHERE message_sid IS NOT NULL DO NOTHING
           RETURNING id, ticket_id, sender, body, created_at""",
        (tenant_id, ticket_id, sender, body, message_sid),
    )
    row = await cur.fetchone()
    return HandoffMessage.model_validate(row) if row is not None else None


async def list_tickets(
    conn: Conn, tenant_id: int, *, status: Literal["open", "resolved"] | None = "open", limit: int = 100
) -> list[HandoffTicket]:
    """The tenant's tickets (open ones by default), oldest open first."""
    where = "AND t.status = %s" if status else ""
    params: tuple[object, ...] = (tenant_id, status, limit) if status else (tenant_id, limit)
    cur = await conn.execute(
        f"SELECT {_TICKET} FROM {_FROM} WHERE t.tenant_id = %s {where} ORDER BY t.opened_at, t.id LIMIT %s",
        params,
    )
    return [HandoffTicket.model_validate(r) for r in await cur.fetchall()]


async def get(conn: Conn, ticket_id: int, *, tenant_id: int | None = None) -> HandoffTicket | None:
    """A ticket with its messages; `tenant_id` restricts it to one tenant (the agent console passes it)."""
    tenant_filter = "AND t.tenant_id = %s" if tenant_id is not None else ""
    params: tuple[object, ...] = (ticket_id, tenant_id) if tenant_id is not None else (ticket_id,)
    cur = await conn.execute(f"SELECT {_TICKET} FROM {_FROM} WHERE t.id = %s {tenant_filter}", params)
    row = await cur.fetchone()
    if row is None:
        return None
    cur = await conn.execute(
        """SELECT id, ticket_id, sender, body, created_at FROM handoff_messages
           WHERE tenant_id = %s AND ticket_id = %s ORDER BY created_at, id""",
        (row["tenant_id"], ticket_id),
    )
    messages = [HandoffMessage.model_validate(r) for r in await cur.fetchall()]
    return HandoffTicket.model_validate({**row, "messages": messages})


async def resolve(conn: Conn, ticket_id: int, *, tenant_id: int | None = None) -> bool:
    """Mark a ticket resolved; False if it was not open."""
    tenant_filter = "AND tenant_id = %s" if tenant_id is not None else ""
    params: tuple[object, ...] = (ticket_id, tenant_id) if tenant_id is not None else (ticket_id,)
    cur = await conn.execute(
        f"""UPDATE handoff_tickets SET status = 'resolved', resolved_at = now()
            WHERE id = %s {tenant_filter} AND status = 'open'""",
        params,
    )
    return cur.rowcount > 0


async def claim(conn: Conn, tenant_id: int, ticket_id: int, agent_id: int) -> bool:
    """Give an open ticket to this agent unless another agent holds it; True if it is theirs now."""
    # one UPDATE decides between two agents clicking at the same moment: the row lock makes the second one see
    # the first one's agent_id and match nothing
    cur = await conn.execute(
        """UPDATE handoff_tickets SET agent_id = %s, claimed_at = coalesce(claimed_at, now())
           WHERE tenant_id = %s AND id = %s AND status = 'open' AND (agent_id IS NULL OR agent_id = %s)""",
        (agent_id, tenant_id, ticket_id, agent_id),
    )
    return cur.rowcount > 0


class HandoffNote(BaseModel):
    """An internal note on a ticket: staff only, never sent to the customer."""

    model_config = ConfigDict(frozen=True)

    id: int
    ticket_id: int
    agent_name: str | None
    body: str
    created_at: datetime


async def add_note(conn: Conn, tenant_id: int, ticket_id: int, agent_id: int | None, body: str) -> None:
    """Keep an internal note on a ticket."""
    await conn.execute(
        "INSERT INTO handoff_notes (tenant_id, ticket_id, agent_id, body) VALUES (%s, %s, %s, %s)",
        (tenant_id, ticket_id, agent_id, body),
    )


async def notes(conn: Conn, tenant_id: int, ticket_id: int) -> list[HandoffNote]:
    """A ticket's internal notes, oldest first."""
    cur = await conn.execute(
        """SELECT n.id, n.ticket_id, a.name AS agent_name, n.body, n.created_at
           FROM handoff_notes n LEFT JOIN agents a ON a.id = n.agent_id
           WHERE n.tenant_id = %s AND n.ticket_id = %s ORDER BY n.id""",
        (tenant_id, ticket_id),
    )
    return [HandoffNote.model_validate(r) for r in await cur.fetchall()]
