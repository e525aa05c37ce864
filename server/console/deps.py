"""What the console needs, handed in by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from graph.runner import ConversationRunner
from memory.db import Pool
from memory.repos.tenants import Tenant
from server.channels import OutboundChannel
from server.console.auth import LoginLimiter, Sessions, limits_uri
from server.console.events import EventHub
from server.queue import InboundQueue
from tools.context import TurnContext


@dataclass
class ConsoleDeps:
    """Pools, the queue (for the conversation lock), the runner (to resume), the outbound channel."""

    pool: Pool
    redis: Redis
    queue: InboundQueue
    runner: ConversationRunner
    context_for: Callable[[Tenant, str], TurnContext]
    channel: OutboundChannel
    public_base_url: str
    session_idle_s: int = 8 * 3600
    sessions: Sessions = field(init=False)
    limiter: LoginLimiter = field(init=False)
    events: EventHub = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = Sessions(self.redis, self.session_idle_s)
        self.limiter = LoginLimiter(limits_uri(self.redis))
        conninfo = self.pool.conninfo
        assert isinstance(conninfo, str), "the console listens on the pool's own database"
        self.events = EventHub(conninfo)

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over TLS when the console is served over https."""
        return self.public_base_url.startswith("https://")

    async def close(self) -> None:
        """Stop the live-update listener."""
        await self.events.close()
