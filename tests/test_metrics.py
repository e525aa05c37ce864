"""`GET /metrics` over real HTTP: the counters move with the webhooks Twilio sends, the gauges read the queue."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from channel_support import demo_tenant, post_signed, running_worker, twilio_form, wait_traces, webhook_app
from conftest import DEMO_MENU
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from support import live_server

from memory.db import Pool
from memory.embeddings import Embedder
from server.queue import QueueSettings, conversation_key
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

PHONE = "+5511999990042"


@pytest.fixture
async def api(db: Pool, redis: Redis, embedder: Embedder) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with live_server(webhook_app(db, redis)) as base, httpx.AsyncClient() as http:
        yield http, base


async def scrape(http: httpx.AsyncClient, base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await http.get(f"{base}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_an_accepted_webhook_a_retry_and_a_forgery_are_counted_and_the_queue_shows_the_wait(
    api: tuple[httpx.AsyncClient, str],
) -> None:
    http, base = api
    before = await scrape(http, base)
    form = twilio_form("quero uma pizza")
    assert (await post_signed(http, base, form)).status_code == 200
    assert (await post_signed(http, base, form)).status_code == 200  # Twilio's retry
    forged = await http.post(f"{base}/twilio/whatsapp", data=form, headers={"X-Twilio-Signature": "forged"})
    assert forged.status_code == 403
    after = await scrape(http, base)

    def moved(outcome: str, tenant: str) -> float:
        name = "comanda_webhooks_total"
        return value(after, name, outcome=outcome, tenant=tenant) - value(before, name, outcome=outcome, tenant=tenant)

    assert (moved("accepted", "demo"), moved("duplicate", "demo"), moved("forged", "")) == (1, 1, 1)
    # no worker runs here: the message waits, and the gauges read from Redis say so
    assert value(after, "comanda_queue_conversations_waiting") == 1
    assert value(after, "comanda_queue_oldest_age_seconds") >= 0
    assert value(after, "comanda_handoffs_open", tenant="demo") == 0


async def test_a_turn_is_counted_with_its_route_latency_and_sent_reply(
    api: tuple[httpx.AsyncClient, str], db: Pool, redis: Redis
) -> None:
    http, base = api
    before = await scrape(http, base)
    settings = QueueSettings(coalesce_window_ms=0)
    async with running_worker(db, redis, settings):
        assert (await post_signed(http, base, twilio_form("oi", phone=PHONE))).status_code == 200
        tenant = await demo_tenant(db)
        [trace] = await wait_traces(redis, conversation_key(tenant.id, PHONE), 1)
    after = await scrape(http, base)
    route = trace.route or "none"
    turns = "comanda_turns_total"
    assert value(after, turns, tenant="demo", route=route) - value(before, turns, tenant="demo", route=route) == 1
    count = "comanda_turn_seconds_count"
    assert value(after, count, route=route) - value(before, count, route=route) == 1
    assert value(after, "comanda_outbound_messages_24h", tenant="demo", status="sent") >= len(trace.replies) > 0
    assert value(after, "comanda_queue_conversations_waiting") == 0
