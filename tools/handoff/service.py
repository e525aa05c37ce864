"""Handing a conversation to a person: one open ticket per conversation, its messages, resolution."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage

from memory.db import Pool
from memory.repos import handoffs as handoff_repo
from memory.repos.handoffs import HandoffNote, HandoffTicket
from tools.cart.models import Cart
from tools.customers.models import CustomerInfo
from tools.memory.service import MemoryNote

SUMMARY_MESSAGES = 3  # the customer's last messages quoted in a built summary
SUMMARY_LIMIT = 600


class TicketNotFound(LookupError):
    """No ticket with this id."""


class TicketClosed(ValueError):
    """The ticket is already resolved."""


class TicketTaken(ValueError):
    """Another agent holds the ticket."""

    def __init__(self, ticket: HandoffTicket) -> None:
        super().__init__(f"ticket {ticket.id} is held by {ticket.agent_name or ticket.agent_id}")
        self.ticket = ticket


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)


def build_summary(
    customer: CustomerInfo | None,
    cart: Cart | None,
    messages: Sequence[BaseMessage],
    *,
    memories: Sequence[MemoryNote] = (),
    earlier: str | None = None,
) -> str:
    """A short summary for the agent: who, what we remember about them, what is in the cart, the customer's last
    messages, and what history trimming dropped before those."""
    lines: list[str] = []
    if customer is not None:
        lines.append(" ".join(p for p in (customer.name, customer.phone) if p))
    lines += memory_lines(memories)
    if cart is not None and not cart.is_empty:
        lines.append("cart: " + ", ".join(f"{ln.qty}x {ln.name}" for ln in cart.lines))
    said = [_text(m).strip() for m in messages if isinstance(m, HumanMessage)]
    lines += [f"> {s}" for s in said[-SUMMARY_MESSAGES:] if s]
    text = "\n".join(lines) or "-"
    text = text[:SUMMARY_LIMIT]
    if earlier:
        # the agent reads the recent part first; the older part is what the conversation no longer holds
        text += "\nearlier:\n" + earlier[-SUMMARY_LIMIT:]
    return text


def memory_lines(memories: Sequence[MemoryNote]) -> list[str]:
    """What we remember about the customer, allergies first, one line each."""
    return [f"{m.kind}: {m.text}" for m in memories]


async def open_handoff(
    pool: Pool, *, tenant_id: int, thread_id: str, phone: str, customer_id: int | None, reason: str, summary: str
) -> tuple[HandoffTicket, bool]:
    """Open the conversation's ticket (or return the one already open); True if it was opened now."""
    async with pool.connection() as conn:
        return await handoff_repo.open_ticket(
            conn,
            tenant_id=tenant_id,
            thread_id=thread_id,
            phone=phone,
            customer_id=customer_id,
            reason=reason.strip() or "-",
            summary=summary.strip() or "-",
        )


async def record_customer_message(
    pool: Pool, tenant_id: int, thread_id: str, body: str, *, message_sid: str | None = None
) -> HandoffTicket | None:
    """Store a customer's message on the conversation's open ticket, once per `message_sid`; None when no ticket
    is open."""
    async with pool.connection() as conn:
        ticket = await handoff_repo.open_for_thread(conn, tenant_id, thread_id)
        if ticket is None:
            return None
        await handoff_repo.add_message(conn, tenant_id, ticket.id, "customer", body, message_sid=message_sid)
        return await handoff_repo.get(conn, ticket.id, tenant_id=tenant_id)


async def get_ticket(pool: Pool, ticket_id: int, *, tenant_id: int | None = None) -> HandoffTicket:
    """A ticket with its messages (restricted to `tenant_id` when given)."""
    async with pool.connection() as conn:
        ticket = await handoff_repo.get(conn, ticket_id, tenant_id=tenant_id)
    if ticket is None:
        raise TicketNotFound(f"no ticket {ticket_id}")
    return ticket


async def record_agent_reply(pool: Pool, ticket_id: int, text: str, *, tenant_id: int | None = None) -> HandoffTicket:
    """Store an agent's reply on an open ticket (the caller sends it to the customer); returns the ticket."""
    body = text.strip()
    if not body:
        raise ValueError("empty reply")
    async with pool.connection() as conn:
        ticket = await handoff_repo.get(conn, ticket_id, tenant_id=tenant_id)
        if ticket is None:
            raise TicketNotFound(f"no ticket {ticket_id}")
        if ticket.status != "open":
            raise TicketClosed(f"ticket {ticket_id} is already resolved")
        await handoff_repo.add_message(conn, ticket.tenant_id, ticket.id, "agent", body)
        updated = await handoff_repo.get(conn, ticket_id)
    assert updated is not None
    return updated


async def resolve_ticket(pool: Pool, ticket_id: int, *, tenant_id: int | None = None) -> HandoffTicket:
    """Mark a ticket resolved (resolving twice is harmless); returns it. The caller resumes the bot."""
    async with pool.connection() as conn:
        await handoff_repo.resolve(conn, ticket_id, tenant_id=tenant_id)
        ticket = await handoff_repo.get(conn, ticket_id, tenant_id=tenant_id)
    if ticket is None:
        raise TicketNotFound(f"no ticket {ticket_id}")
    return ticket


async def open_tickets(pool: Pool, tenant_id: int) -> list[HandoffTicket]:
    """The restaurant's open tickets, the longest waiting first."""
    async with pool.connection() as conn:
        return await handoff_repo.list_tickets(conn, tenant_id, status="open")


async def claim_ticket(pool: Pool, tenant_id: int, ticket_id: int, agent_id: int) -> HandoffTicket:
    """Make the ticket this agent's; TicketTaken (naming the holder) if another agent has it."""
    async with pool.connection() as conn:
        ticket = await handoff_repo.get(conn, ticket_id, tenant_id=tenant_id)
        if ticket is None:
            raise TicketNotFound(f"no ticket {ticket_id}")
        if ticket.status != "open":
            raise TicketClosed(f"ticket {ticket_id} is already resolved")
        claimed = await handoff_repo.claim(conn, tenant_id, ticket_id, agent_id)
        ticket = await handoff_repo.get(conn, ticket_id, tenant_id=tenant_id)
    assert ticket is not None
    if not claimed:
        raise TicketTaken(ticket)
    return ticket


async def add_note(pool: Pool, tenant_id: int, ticket_id: int, agent_id: int | None, body: str) -> None:
    """Keep an internal note on one of the restaurant's tickets."""
    text = body.strip()
    if not text:
        raise ValueError("empty note")
    async with pool.connection() as conn:
        if await handoff_repo.get(conn, ticket_id, tenant_id=tenant_id) is None:
            raise TicketNotFound(f"no ticket {ticket_id}")
        await handoff_repo.add_note(conn, tenant_id, ticket_id, agent_id, text)


async def ticket_notes(pool: Pool, tenant_id: int, ticket_id: int) -> list[HandoffNote]:
    """A ticket's internal notes."""
    async with pool.connection() as conn:
        return await handoff_repo.notes(conn, tenant_id, ticket_id)
