"""What staff do to a handed-off conversation beyond its ticket row: reply to the customer, give it back to the bot.

Giving back: resolve its ticket and resume the graph while holding its queue lock.

Without the lock a customer message arriving at that instant could run as a turn of the still-paused graph (and be
filed on a ticket that is just closing) or run concurrently with the resume. Holding it, the message waits in the
conversation's stream and is answered by the bot right after.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

from graph.runner import ConversationRunner
from memory.db import Pool
from memory.repos import tenants as tenant_repo
from memory.repos.handoffs import HandoffTicket
from memory.repos.tenants import Tenant
from prompts import load_prompt_set
from server.channels import OutboundChannel
from server.queue import InboundQueue, conversation_key
from tools.context import TurnContext
from tools.handoff.service import get_ticket, resolve_ticket


class ConversationBusy(RuntimeError):
    """A turn of this conversation kept running past the wait; try again."""


async def give_back_to_bot(
    pool: Pool,
    queue: InboundQueue,
    runner: ConversationRunner,
    context_for: Callable[[Tenant, str], TurnContext],
    channel: OutboundChannel,
    ticket_id: int,
    *,
    tenant_id: int | None = None,
    wait_s: float = 15.0,
) -> tuple[HandoffTicket, list[str]]:
    """Resolve the ticket and resume its conversation (`Command(resume=...)`); the ticket and the bot's replies.

    `tenant_id` confines it to one restaurant (the console); raises TicketNotFound or ConversationBusy.
    """
    ticket = await get_ticket(pool, ticket_id, tenant_id=tenant_id)
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_id(conn, ticket.tenant_id)
    assert tenant is not None
    conv = conversation_key(tenant.id, ticket.phone)
    token = f"staff:{secrets.token_hex(8)}"
    deadline = time.monotonic() + wait_s
    # a running turn holds the lock for as long as it runs: wait for it rather than resume beside it
    while not await queue.hold(conv, token):
        if time.monotonic() > deadline:
            raise ConversationBusy(f"conversation of ticket {ticket_id} is busy")
        await asyncio.sleep(0.05)
    try:
        ticket = await resolve_ticket(pool, ticket_id, tenant_id=tenant_id)
        ctx = context_for(tenant, ticket.phone)
        if not await runner.is_paused(ctx):
            return ticket, []
        result = await runner.resume(ctx, {"ticket_id": ticket.id, "status": ticket.status})
        for reply in result.replies:
            await channel.send(tenant, ticket.phone, reply)
        return ticket, result.replies
    finally:
        await queue.release(conv, token)
        # a worker that met our lock dropped its notice: hand what came meanwhile to the workers again
        if await queue.has_pending(conv):
            await queue.notify(conv)


async def send_agent_reply(pool: Pool, ticket: HandoffTicket, text: str, agent: str, channel: OutboundChannel) -> int:
    """Deliver an agent's words to the customer, introduced as the agent's; the outbound message id.

    The channel applies WhatsApp's 24-hour rule (a template once the customer's window has closed).
    """
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_id(conn, ticket.tenant_id)
    assert tenant is not None
    prefix = load_prompt_set().reply("handoff.agent_prefix", tenant.locale, agent=agent)
    return await channel.send(tenant, ticket.phone, prefix + text, kind="agent")
