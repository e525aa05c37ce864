"""The webhook answers within Twilio's budget whatever Postgres and Redis do.

Postgres and Valkey are this module's own embedded servers (not the session's), because the tests freeze them
(SIGSTOP: sockets stay open and nothing answers, the way a hung server or a network partition looks to a client).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from channel_support import CUSTOMER, PUBLIC, TOKEN, post_signed, twilio_form
from redis.asyncio import Redis
from support import live_server

from comanda.embedded import EmbeddedServers, paused
from comanda.runtime import prepare_database, redis_client
from memory.db import Pool, open_pool
from server.app import Resources, create_app
from server.queue import InboundQueue, conversation_key
from server.tenants import TenantDirectory
from server.twilio_webhook import TwilioWebhookDeps

# Twilio gives up after 15 s; we promise an answer well within it
BUDGET_S = 6.0


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServers]:
    """Embedded Postgres (migrated, demo restaurant) and Valkey that only this module uses, and freezes."""
    embedded = EmbeddedServers(tmp_path_factory.mktemp("outages"))
    url = embedded.start_postgres()
    asyncio.run(prepare_database(url, seed_demo=True))
    embedded.start_redis()
    yield embedded
    embedded.stop()


@pytest.fixture
async def pool(servers: EmbeddedServers) -> AsyncIterator[Pool]:
    """The production pool on this module's Postgres (a new one per test: a frozen server spoils connections)."""
    p = await open_pool(servers.urls["database_url"], max_size=4, name="outages")
    yield p
    await p.close()


@pytest.fixture
async def redis(servers: EmbeddedServers) -> AsyncIterator[Redis]:
    """The production Redis client on this module's Valkey, emptied."""
    client = redis_client(servers.urls["redis_url"])
    await client.flushdb()
    yield client
    await client.aclose()


async def demo_id(pool: Pool) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM tenants WHERE slug = 'demo'")
        row = await cur.fetchone()
    assert row is not None
    return int(row["id"])


def app_for(pool: Pool, redis: Redis, tenants: TenantDirectory) -> Resources:
    deps = TwilioWebhookDeps(
        pool=pool, queue=InboundQueue(redis), auth_token=TOKEN, public_base_url=PUBLIC, tenants=tenants
    )
    return Resources(pool=pool, redis=redis, twilio=deps)


async def queued_sids(redis: Redis, tenant_id: int) -> list[str]:
    return [q.message.message_sid for q in await InboundQueue(redis).pending(conversation_key(tenant_id, CUSTOMER))]


async def timed_post(http: httpx.AsyncClient, base: str, form: dict[str, str]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await post_signed(http, base, form)
    return response, time.monotonic() - started


@pytest.mark.parametrize("expired", [False, True], ids=["cache-fresh", "cache-expired"])
async def test_a_known_restaurant_is_answered_from_the_cache_and_queued_while_postgres_is_frozen(
    servers: EmbeddedServers, pool: Pool, redis: Redis, expired: bool
) -> None:
    tenant_id = await demo_id(pool)
    tenants = TenantDirectory(pool, ttl_s=0.5)
    async with live_server(create_app(app_for(pool, redis, tenants))) as base, httpx.AsyncClient(timeout=30) as http:
        first = twilio_form("oi")
        assert (await post_signed(http, base, first)).status_code == 200
        if expired:
            # the case seen in production: the cached tenant had expired when Postgres stopped answering
            await asyncio.sleep(0.6)
        second = twilio_form("quero uma pizza")
        with paused(servers.postgres_pids()):
            response, elapsed = await timed_post(http, base, second)
            assert response.status_code == 200, response.text
            assert elapsed < BUDGET_S
            assert await queued_sids(redis, tenant_id) == [first["MessageSid"], second["MessageSid"]]


async def test_an_uncached_restaurant_gets_503_with_retry_after_and_twilios_retry_is_queued(
    servers: EmbeddedServers, pool: Pool, redis: Redis
) -> None:
    tenant_id = await demo_id(pool)
    async with (
        live_server(create_app(app_for(pool, redis, TenantDirectory(pool)))) as base,
        httpx.AsyncClient(timeout=30) as http,
    ):
        form = twilio_form("oi")
        with paused(servers.postgres_pids()):
            response, elapsed = await timed_post(http, base, form)
            assert response.status_code == 503, response.text
            assert int(response.headers["Retry-After"]) > 0
            assert elapsed < BUDGET_S
            assert await queued_sids(redis, tenant_id) == []
        # Postgres is back: Twilio's retry of the same message goes through, once
        retry = await post_signed(http, base, form)
        assert retry.status_code == 200
        assert await queued_sids(redis, tenant_id) == [form["MessageSid"]]


async def test_a_status_callback_gets_503_within_budget_while_postgres_is_frozen(
    servers: EmbeddedServers, pool: Pool, redis: Redis
) -> None:
    async with (
        live_server(create_app(app_for(pool, redis, TenantDirectory(pool)))) as base,
        httpx.AsyncClient(timeout=30) as http,
    ):
        form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "1" * 32}
        with paused(servers.postgres_pids()):
            started = time.monotonic()
            response = await post_signed(http, base, form, path="/twilio/status")
            assert response.status_code == 503
            assert "Retry-After" in response.headers
            assert time.monotonic() - started < BUDGET_S


async def test_readyz_answers_503_within_its_budget_while_postgres_is_frozen(
    servers: EmbeddedServers, pool: Pool, redis: Redis
) -> None:
    async with live_server(create_app(Resources(pool=pool, redis=redis))) as base, httpx.AsyncClient(timeout=30) as c:
        assert (await c.get(f"{base}/readyz")).status_code == 200
        with paused(servers.postgres_pids()):
            for _ in range(3):  # a load balancer keeps asking
                started = time.monotonic()
                down = await c.get(f"{base}/readyz")
                assert down.status_code == 503
                assert down.json()["postgres"].startswith("error")
                assert down.json()["redis"] == "ok"
                assert time.monotonic() - started < 4
        assert (await c.get(f"{base}/readyz")).status_code == 200


async def test_webhook_answers_503_within_budget_while_redis_is_frozen_and_the_retry_is_queued(
    servers: EmbeddedServers, pool: Pool, redis: Redis
) -> None:
    tenant_id = await demo_id(pool)
    async with (
        live_server(create_app(app_for(pool, redis, TenantDirectory(pool)))) as base,
        httpx.AsyncClient(timeout=30) as http,
    ):
        assert (await post_signed(http, base, twilio_form("oi"))).status_code == 200
        form = twilio_form("quero uma pizza")
        with paused(servers.redis_pids()):
            response, elapsed = await timed_post(http, base, form)
            assert response.status_code == 503, response.text
            assert int(response.headers["Retry-After"]) > 0
            assert elapsed < BUDGET_S
        retry = await post_signed(http, base, form)
        assert retry.status_code == 200
        sids = await queued_sids(redis, tenant_id)
        assert sids.count(form["MessageSid"]) == 1


async def test_webhook_answers_503_when_redis_is_down(pool: Pool, tmp_path: Path) -> None:
    own = EmbeddedServers(tmp_path)
    url = own.start_redis()
    client = redis_client(url)
    try:
        async with (
            live_server(create_app(app_for(pool, client, TenantDirectory(pool)))) as base,
            httpx.AsyncClient(timeout=30) as http,
        ):
            assert (await post_signed(http, base, twilio_form("oi"))).status_code == 200
            own.stop_redis()
            response, elapsed = await timed_post(http, base, twilio_form("quero uma pizza"))
            assert response.status_code == 503, response.text
            assert int(response.headers["Retry-After"]) > 0
            assert elapsed < BUDGET_S
            assert url.split("//")[1] not in response.text  # no internal address in the answer
    finally:
        await client.aclose()
        own.stop()
