"""What an agent's actions do beyond the ticket: their reply reaches the customer, and resolving resumes the bot."""

from __future__ import annotations

from comanda.settings import Settings
from comanda.wiring import build_conversation
from memory.db import Pool
from memory.repos import tenants as tenant_repo
from memory.repos.handoffs import HandoffTicket
from prompts import load_prompt_set
from server.channels import ConsoleChannel, OutboundChannel


async def send_agent_reply(
    pool: Pool, ticket: HandoffTicket, text: str, agent: str, channel: OutboundChannel | None = None
) -> None:
    """Deliver an agent's words to the customer, introduced as the agent's."""
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_id(conn, ticket.tenant_id)
    assert tenant is not None
    prefix = load_prompt_set().reply("handoff.agent_prefix", tenant.locale, agent=agent)
    await (channel or ConsoleChannel(pool)).send(tenant, ticket.phone, prefix + text, kind="agent")


async def give_back_to_bot(
    pool: Pool, settings: Settings, ticket: HandoffTicket, channel: OutboundChannel | None = None
) -> list[str]:
    """Resume the paused conversation (`Command(resume=...)`) and send the bot's replies; returns them."""
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_id(conn, ticket.tenant_id)
    assert tenant is not None
    conversation = await build_conversation(settings, pool)
    ctx = conversation.context(tenant, ticket.phone)
    if not await conversation.runner.is_paused(ctx):
        return []
    result = await conversation.runner.resume(ctx, {"ticket_id": ticket.id, "status": ticket.status})
    sender = channel or ConsoleChannel(pool)
    for reply in result.replies:
        await sender.send(tenant, ticket.phone, reply)
    return result.replies
