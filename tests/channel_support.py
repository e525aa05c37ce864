"""Helpers for the WhatsApp channel tests: Twilio-shaped forms, their signatures, the webhook app."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
from conversation_support import OPEN_CLOCK, make_runner
from fastapi import FastAPI
from redis.asyncio import Redis
from twilio.request_validator import RequestValidator

from graph.runner import ConversationRunner
from memory.db import Pool
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import Tenant
from server.app import Resources, create_app
from server.channels import ConsoleChannel
from server.media import MediaSigner
from server.media_in import MediaReader
from server.queue import InboundQueue, QueueSettings, stream_entries
from server.tenants import TenantDirectory
from server.turns import ConversationTurns, TurnTrace, trace_key, whole_answer
from server.twilio_webhook import TwilioWebhookDeps
from server.worker import Worker
from tools.context import TurnContext
from tools.payments.provider import PaymentProvider

TOKEN = "test-twilio-auth-token"
PUBLIC = "https://comanda.example.com"  # what Twilio sees; the tests reach the app on 127.0.0.1
DEMO_NUMBER = "+5511900000000"
CUSTOMER = "+5511999990001"


def new_sid() -> str:
    """A MessageSid in Twilio's shape."""
    return "SM" + uuid.uuid4().hex


def twilio_form(body: str = "oi", *, sid: str | None = None, phone: str = CUSTOMER, **extra: str) -> dict[str, str]:
    """The fields Twilio posts for an inbound WhatsApp text."""
    return {
        "MessageSid": sid or new_sid(),
        "AccountSid": "AC" + "1" * 32,
        "From": f"whatsapp:{phone}",
        "To": f"whatsapp:{DEMO_NUMBER}",
        "Body": body,
        "NumMedia": "0",
        "ProfileName": "Maria",
        "WaId": phone.lstrip("+"),
        "ApiVersion": "2010-04-01",
        **extra,
    }


def sign(form: dict[str, str], url: str, token: str = TOKEN) -> str:
    """X-Twilio-Signature for a POST of `form` to `url`, as Twilio computes it."""
    return RequestValidator(token).compute_signature(url, form)


async def post_signed(
    http: httpx.AsyncClient, base: str, form: dict[str, str], *, path: str = "/twilio/whatsapp", query: str = ""
) -> httpx.Response:
    """POST `form` to our app at `base`, signed for the public URL Twilio would have used."""
    suffix = f"{path}?{query}" if query else path
    return await http.post(base + suffix, data=form, headers={"X-Twilio-Signature": sign(form, PUBLIC + suffix)})


def webhook_app(pool: Pool, redis: Redis, settings: QueueSettings | None = None) -> FastAPI:
    """The API with the Twilio routes, configured with our public base URL."""
    deps = TwilioWebhookDeps(
        pool=pool,
        queue=InboundQueue(redis, settings or QueueSettings()),
        auth_token=TOKEN,
        public_base_url=PUBLIC,
        tenants=TenantDirectory(pool),
    )
    return create_app(Resources(pool=pool, redis=redis, twilio=deps))


async def wait_traces(redis: Redis, conv: str, n: int, timeout_s: float = 30.0) -> list[TurnTrace]:
    """The conversation's turn traces once there are at least `n` (fails after `timeout_s`)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        rows = stream_entries(await redis.xrange(trace_key("comanda", conv)))
        traces = [TurnTrace.model_validate_json(f["trace"]) for _, f in rows]
        if len(traces) >= n:
            return traces
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{len(traces)} turn(s) of {conv} after {timeout_s} s, expected {n}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_worker(
    pool: Pool,
    redis: Redis,
    settings: QueueSettings,
    runner: ConversationRunner | None = None,
    *,
    payments: PaymentProvider | None = None,
    media: MediaSigner | None = None,
    reader: MediaReader | None = None,
) -> AsyncIterator[Worker]:
    """An in-process queue worker on the real graph (offline model), replying through the console channel."""
    runner = runner or await make_runner(pool)

    def context_for(tenant: Tenant, phone: str) -> TurnContext:
        return TurnContext(pool=pool, tenant=tenant, phone=phone, payments=payments, clock=lambda: OPEN_CLOCK)

    turns = ConversationTurns(pool, runner, ConsoleChannel(pool), context_for, redis, media=media, reader=reader)
    worker = Worker(InboundQueue(redis, settings), turns, slots=4, whole_answer=whole_answer)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await task


async def demo_tenant(pool: Pool) -> Tenant:
    """The demo restaurant as stored."""
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    return tenant


async def replies_to(pool: Pool, phone: str = CUSTOMER) -> list[str]:
    """Everything sent to `phone`, oldest first."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT body FROM outbound_messages WHERE phone = %s ORDER BY id", (phone,))
        return [r["body"] for r in await cur.fetchall()]
