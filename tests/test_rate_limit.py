"""A phone flooding a restaurant: past the limit one polite reply, then silence; nothing more queued; counted."""

from __future__ import annotations

import asyncio

import httpx
from channel_support import PUBLIC, TOKEN, demo_tenant, post_signed, twilio_form
from fastapi import FastAPI
from redis.asyncio import Redis
from support import live_server
from test_metrics import scrape, value

from memory.db import Pool
from prompts import load_prompt_set
from server.abuse import PhoneRateLimit
from server.app import Resources, create_app
from server.channels import ConsoleChannel
from server.queue import InboundQueue, QueueSettings, conversation_key
from server.tenants import TenantDirectory
from server.twilio_webhook import TwilioWebhookDeps

FLOODER, NEIGHBOUR = "+5511988887777", "+5511988886666"


async def sent_to(pool: Pool, phone: str) -> list[str]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT body FROM outbound_messages WHERE phone = %s ORDER BY id", (phone,))
        return [r["body"] for r in await cur.fetchall()]


def limited_app(pool: Pool, redis: Redis, queue: InboundQueue, rate: str) -> FastAPI:
    """The webhook app with a phone rate limit of `rate` (a `limits` string like "3/2 seconds")."""
    deps = TwilioWebhookDeps(
        pool=pool,
        queue=queue,
        auth_token=TOKEN,
        public_base_url=PUBLIC,
        tenants=TenantDirectory(pool),
        limiter=PhoneRateLimit(redis, rate),
        notifier=ConsoleChannel(pool),
    )
    return create_app(Resources(pool=pool, redis=redis, twilio=deps))


async def test_a_flooding_phone_is_told_once_then_ignored_until_the_window_passes(demo: Pool, redis: Redis) -> None:
    queue = InboundQueue(redis, QueueSettings())
    tenant = await demo_tenant(demo)
    async with (
        live_server(limited_app(demo, redis, queue, "3/2 seconds")) as base,
        httpx.AsyncClient() as http,
    ):
        before = await scrape(http, base)
        answers = [await post_signed(http, base, twilio_form(f"msg {i}", phone=FLOODER)) for i in range(8)]
        neighbour = await post_signed(http, base, twilio_form("oi", phone=NEIGHBOUR))
        after = await scrape(http, base)
        # Twilio sees a normal answer every time: refusing would only make it retry
        assert [a.status_code for a in answers] == [200] * 8 and neighbour.status_code == 200
        assert len(await queue.pending(conversation_key(tenant.id, FLOODER))) == 3
        assert len(await queue.pending(conversation_key(tenant.id, NEIGHBOUR))) == 1  # another phone isn't limited
        polite = load_prompt_set().reply("limits.rate_limited", tenant.locale)
        assert await sent_to(demo, FLOODER) == [polite]  # once, not five times
        limited = "comanda_rate_limited_messages_total"
        assert (
            value(after, limited, tenant="demo", reply="replied")
            - value(before, limited, tenant="demo", reply="replied")
            == 1
        )
        assert (
            value(after, limited, tenant="demo", reply="silent") - value(before, limited, tenant="demo", reply="silent")
            == 4
        )

        await asyncio.sleep(2.2)  # the window passes: the phone is heard again
        again = await post_signed(http, base, twilio_form("voltei", phone=FLOODER))
        assert again.status_code == 200
        assert len(await queue.pending(conversation_key(tenant.id, FLOODER))) == 4


async def test_twilio_retries_of_one_message_count_once_and_keep_its_verdict(demo: Pool, redis: Redis) -> None:
    queue = InboundQueue(redis, QueueSettings())
    tenant = await demo_tenant(demo)
    conv = conversation_key(tenant.id, FLOODER)
    async with (
        live_server(limited_app(demo, redis, queue, "2/10 seconds")) as base,
        httpx.AsyncClient() as http,
    ):
        first = twilio_form("oi", phone=FLOODER)
        # delivered three times at once and retried twice: still one message of the customer's allowance
        await asyncio.gather(*(post_signed(http, base, first) for _ in range(3)))
        for _ in range(2):
            await post_signed(http, base, first)
        await post_signed(http, base, twilio_form("quero uma pizza", phone=FLOODER))
        assert [q.message.body for q in await queue.pending(conv)] == ["oi", "quero uma pizza"]
        # the third message is over the limit; its retries stay refused, quietly
        third = twilio_form("e uma coca", phone=FLOODER)
        for _ in range(3):
            await post_signed(http, base, third)
        assert len(await queue.pending(conv)) == 2
        assert await sent_to(demo, FLOODER) == [load_prompt_set().reply("limits.rate_limited", tenant.locale)]
