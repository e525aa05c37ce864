"""What an agent's actions do beyond the ticket: their reply reaches the customer, and resolving resumes the bot.

The work itself lives in `server.console.actions`, shared with the staff console; this wires it for the CLI.
"""

from __future__ import annotations

from redis.asyncio import Redis

from comanda.settings import Settings
from comanda.wiring import build_conversation, queue_settings
from memory.db import Pool
from memory.repos.handoffs import HandoffTicket
from server.channels import ConsoleChannel, OutboundChannel
from server.console import actions
from server.queue import InboundQueue


async def send_agent_reply(
    pool: Pool, ticket: HandoffTicket, text: str, agent: str, channel: OutboundChannel | None = None
) -> None:
    """Deliver an agent's words to the customer, introduced as the agent's."""
    await actions.send_agent_reply(pool, ticket, text, agent, channel or ConsoleChannel(pool))


async def give_back_to_bot(
    pool: Pool,
    redis: Redis,
    settings: Settings,
    ticket_id: int,
    channel: OutboundChannel | None = None,
    *,
    tenant_id: int | None = None,
) -> tuple[HandoffTicket, list[str]]:
    """Resolve the ticket and resume its conversation holding the conversation's queue lock (as the console does);
    the ticket and the bot's replies. Raises TicketNotFound or ConversationBusy."""
    conversation = await build_conversation(settings, pool)
    return await actions.give_back_to_bot(
        pool,
        InboundQueue(redis, queue_settings(settings)),
        conversation.runner,
        conversation.context,
        channel or ConsoleChannel(pool),
        ticket_id,
        tenant_id=tenant_id,
    )
