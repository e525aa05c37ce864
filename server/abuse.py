"""A phone flooding a restaurant: a per-phone message rate limit per restaurant, on Redis through `limits`.

Past the limit the customer hears one polite sentence, then nothing until the window has passed: answering every
extra message would let a flood make us flood back (and pay Twilio for it). Refused messages never reach the queue,
so a flood costs no turn, no model call and no worker time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

Verdict = Literal["ok", "reply", "silent"]


def storage_uri(redis: Redis) -> str:
    """The `limits` storage URI of the Redis our client talks to (the queue's Redis)."""
    kw = redis.connection_pool.connection_kwargs
    if kw.get("path"):
        return f"async+redis+unix://{kw['path']}"
    auth = f":{kw['password']}@" if kw.get("password") else ""
    return f"async+redis://{auth}{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


@dataclass
class PhoneRateLimit:
    """At most `limit` (the `limits` notation: "20/minute") messages from one phone to one restaurant."""

    redis: Redis
    limit: str = "20/minute"
    prefix: str = "comanda"
    item: RateLimitItem = field(init=False)

    def __post_init__(self) -> None:
        self.item = parse(self.limit)
        # a moving window: a burst right at a fixed window's edge can't get twice the limit through
        self._limiter = MovingWindowRateLimiter(RedisStorage(storage_uri(self.redis), implementation="redispy"))

    async def check(self, tenant_id: int, phone: str, message_sid: str) -> Verdict:
        """Count this message once, whatever the number of deliveries of it; `reply` for the first one over the
        limit in a window, `silent` for the rest.

        Twilio retries a message (and may deliver it several times at once): a retry must neither count again nor
        get another verdict than the first delivery's, or a customer's one message would eat their allowance.
        """
        seen = f"{self.prefix}:ratelimit-seen:{message_sid}"
        if not await self.redis.set(seen, "ok", nx=True, ex=max(self.item.get_expiry(), 3600)):
            earlier = await self.redis.get(seen)
            # accepted before: the queue's own dedupe answers it; refused before: refused again, quietly
            return "ok" if earlier in (b"ok", "ok") else "silent"
        verdict = await self._verdict(tenant_id, phone)
        if verdict != "ok":
            await self.redis.set(seen, verdict, xx=True, keepttl=True)
        return verdict

    async def _verdict(self, tenant_id: int, phone: str) -> Verdict:
        if await self._limiter.hit(self.item, "phone", str(tenant_id), phone):
            return "ok"
        # one notice per window: SET NX lasts as long as the window, so the next flood gets its notice again
        told = f"{self.prefix}:ratelimit-told:{tenant_id}:{phone}"
        first = await self.redis.set(told, "1", nx=True, ex=self.item.get_expiry())
        return "reply" if first else "silent"
