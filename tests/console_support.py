"""The staff console on loopback, beside the Twilio webhook and a real queue worker on the offline model, over the
demo restaurant and a second one (for isolation): what the console tests and the browser tests drive."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from channel_support import PUBLIC, TOKEN, post_signed, running_worker, twilio_form
from conversation_support import OPEN_CLOCK, make_runner
from redis.asyncio import Redis
from support import live_app

from memory.db import Pool
from memory.repos import handoffs as handoff_repo
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import Tenant, TenantFields
from server.app import Resources, create_app
from server.channels import ConsoleChannel
from server.console import auth
from server.console.deps import ConsoleDeps
from server.media_in import MediaReader
from server.queue import InboundQueue, QueueSettings
from server.tenants import TenantDirectory
from server.twilio_webhook import TwilioWebhookDeps
from tools.context import TurnContext

PASSWORD = "senha-forte-123"
CUSTOMER = "+5511999990001"  # the customer who writes to the demo restaurant
QUEUE = QueueSettings(coalesce_window_ms=0, lock_ttl_ms=5000)


@dataclass
class Staff:
    """A staff account with its password."""

    email: str
    name: str
    tenant: Tenant


@dataclass
class ConsoleStack:
    """The live app, its console dependencies and the two restaurants."""

    base: str
    pool: Pool
    redis: Redis
    deps: ConsoleDeps
    demo: Tenant
    other: Tenant

    async def staff(self, tenant: Tenant, name: str, role: auth.Role = "agent") -> Staff:
        """An account that went through its setup link."""
        email = f"{name.lower()}@{tenant.slug}.example.com"
        link = await auth.add_agent(
            self.pool, tenant_slug=tenant.slug, email=email, name=name, role=role, public_base_url=self.base
        )
        assert await auth.setup_account(self.pool, link.url.rsplit("/", 1)[1], PASSWORD) is not None
        return Staff(email, name, tenant)

    @contextlib.asynccontextmanager
    async def client(self, who: Staff | None = None) -> AsyncIterator[httpx.AsyncClient]:
        """An HTTP client (cookie jar), logged in as `who` when given."""
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            if who is not None:
                r = await login(http, who.tenant.slug, who.email, PASSWORD)
                assert r.status_code == 303 and r.headers["location"] == "/console/inbox", r.text
            yield http


def hidden_csrf(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def login(http: httpx.AsyncClient, slug: str, email: str, password: str) -> httpx.Response:
    """Open the login page (for its CSRF token) and post the form."""
    page = await http.get("/console/login")
    data = {"restaurant": slug, "email": email, "password": password, "csrf": hidden_csrf(page.text)}
    return await http.post("/console/login", data=data)


@contextlib.asynccontextmanager
async def console_stack(
    pool: Pool,
    redis: Redis,
    *,
    idle_s: int = 3600,
    public_base_url: str | None = None,
    reader: MediaReader | None = None,
) -> AsyncIterator[ConsoleStack]:
    """Webhook + console + a worker, served on loopback; the demo menu must be imported already."""
    async with pool.connection() as conn:
        demo = await tenant_repo.by_slug(conn, "demo")
        other = await tenant_repo.insert(
            conn, TenantFields(slug="nona", name="Cantina da Nona", whatsapp="+5511900000009")
        )
    assert demo is not None
    runner = await make_runner(pool)

    def context_for(tenant: Tenant, phone: str) -> TurnContext:
        return TurnContext(pool=pool, tenant=tenant, phone=phone, payments=None, clock=lambda: OPEN_CLOCK)

    holder: list[ConsoleDeps] = []

    def make(base: str) -> object:
        deps = ConsoleDeps(
            pool=pool,
            redis=redis,
            queue=InboundQueue(redis, QUEUE),
            runner=runner,
            context_for=context_for,
            channel=ConsoleChannel(pool),
            public_base_url=public_base_url or base,
            session_idle_s=idle_s,
        )
        holder.append(deps)
        twilio = TwilioWebhookDeps(
            pool=pool,
            queue=InboundQueue(redis, QUEUE),
            auth_token=TOKEN,
            public_base_url=PUBLIC,
            tenants=TenantDirectory(pool),
        )
        return create_app(Resources(pool=pool, redis=redis, twilio=twilio, console=deps))

    async with running_worker(pool, redis, QUEUE, runner, reader=reader), live_app(make) as base:  # type: ignore[arg-type]
        try:
            yield ConsoleStack(base, pool, redis, holder[0], demo, other)
        finally:
            await holder[0].close()


async def wait_for(probe: object, timeout_s: float = 20.0) -> object:
    """Poll an async callable until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await probe()  # type: ignore[operator]
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"nothing after {timeout_s} s")
        await asyncio.sleep(0.05)


async def sent_to(pool: Pool, phone: str = CUSTOMER) -> list[str]:
    """What the customer was sent, oldest first."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT body FROM outbound_messages WHERE phone = %s ORDER BY id", (phone,))
        return [r["body"] for r in await cur.fetchall()]


async def open_ticket_by_whatsapp(stack: ConsoleStack, text: str = "quero falar com um atendente") -> int:
    """The customer asks for a person through the signed webhook; the worker opens the ticket."""
    async with httpx.AsyncClient() as http:
        r = await post_signed(http, stack.base, twilio_form("oi"))
        assert r.status_code == 200
        await wait_for(lambda: sent_to(stack.pool))
        r = await post_signed(http, stack.base, twilio_form(text))
        assert r.status_code == 200

    async def ticket() -> int | None:
        async with stack.pool.connection() as conn:
            found = await handoff_repo.list_tickets(conn, stack.demo.id)
        return found[0].id if found else None

    return int(await wait_for(ticket))  # type: ignore[call-overload]
