"""Builds the staff console's dependencies (the composition root's part of `/console`)."""

from __future__ import annotations

from redis.asyncio import Redis

from comanda.settings import Settings
from comanda.wiring import build_conversation, queue_settings
from memory.db import Pool
from server.channels import OutboundChannel
from server.console.deps import ConsoleDeps
from server.queue import InboundQueue


async def build_console(settings: Settings, pool: Pool, redis: Redis, channel: OutboundChannel) -> ConsoleDeps:
    """The console over the same pool, Redis, queue and outbound channel as the webhook and the worker."""
    conversation = await build_conversation(settings, pool)
    return ConsoleDeps(
        pool=pool,
        redis=redis,
        queue=InboundQueue(redis, queue_settings(settings)),
        runner=conversation.runner,
        context_for=conversation.context,
        channel=channel,
        public_base_url=settings.public_base_url,
    )
