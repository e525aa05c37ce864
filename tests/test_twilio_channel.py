"""Outbound through the real `twilio` Client against a loopback fake of Twilio's Messages API."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from channel_support import CUSTOMER, PUBLIC, TOKEN, demo_tenant, post_signed, twilio_form, wait_traces, webhook_app
from conftest import DEMO_MENU
from conversation_support import OPEN_CLOCK, make_runner
from fakes.twilio_api import FakeTwilio, fake_twilio
from redis.asyncio import Redis
from support import live_server

from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import outbound
from memory.repos.tenants import Tenant
from server.app import Resources, create_app
from server.media import MediaSigner
from server.queue import InboundQueue, QueueSettings, conversation_key
from server.turns import ConversationTurns
from server.twilio_channel import TwilioChannel, TwilioConfig, TwilioSendError
from server.worker import Worker
from tools.context import TurnContext
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

TEMPLATE = "HX" + "a" * 32


@pytest.fixture
async def demo(db: Pool, embedder: Embedder) -> Pool:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    return db


def config_for(fake: FakeTwilio, base: str, **extra: Any) -> TwilioConfig:
    """Our Twilio settings for the fake's account, with status callbacks to our public address."""
    return TwilioConfig(
        account_sid=fake.account_sid,
        auth_token=fake.auth_token,
        status_callback_url=f"{PUBLIC}/twilio/status",
        api_base_url=base,
        **extra,
    )


@pytest.fixture
async def twilio(demo: Pool) -> AsyncIterator[tuple[FakeTwilio, TwilioChannel, Tenant]]:
    async with fake_twilio() as (fake, base):
        channel = TwilioChannel(demo, config_for(fake, base, notification_content_sid=TEMPLATE, backoff_s=0.01))
        try:
            yield fake, channel, await demo_tenant(demo)
        finally:
            await channel.close()


async def rows(pool: Pool) -> list[outbound.OutboundMessage]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM outbound_messages ORDER BY id")
        ids = [r["id"] for r in await cur.fetchall()]
        tenant = await demo_tenant(pool)
        found = [await outbound.get_message(conn, tenant.id, i) for i in ids]
    return [m for m in found if m is not None]


def long_reply() -> str:
    paragraphs = []
    for p in range(10):
        sentences = [f"Parágrafo {p}, frase {s}: a pizza chega quentinha e bem embalada." for s in range(6)]
        paragraphs.append(" ".join(sentences))
    text = "\n\n".join(paragraphs)
    assert 3200 < len(text) <= 4800
    return text


async def test_a_long_reply_goes_as_ordered_parts_under_1600_characters(twilio, demo: Pool) -> None:  # type: ignore[no-untyped-def]
    fake, channel, tenant = twilio
    text = long_reply()
    await channel.send(tenant, CUSTOMER, text, dedupe_key="turn:SM1:0")
    bodies = [m["Body"] for m in fake.sent]
    assert len(bodies) == 3 and all(len(b) <= 1600 for b in bodies)
    assert "\n\n".join(bodies) == text  # cut between paragraphs, nothing lost, order kept
    assert all(m["To"] == f"whatsapp:{CUSTOMER}" and m["From"] == f"whatsapp:{tenant.whatsapp}" for m in fake.sent)
    assert all(m["StatusCallback"] == f"{PUBLIC}/twilio/status" for m in fake.sent)
    stored = await rows(demo)
    assert [r.provider_sid for r in stored] == [m["Sid"] for m in fake.sent]
    assert {r.status for r in stored} == {"queued"}


async def test_a_replayed_send_does_not_reach_the_customer_twice(twilio, demo: Pool) -> None:  # type: ignore[no-untyped-def]
    fake, channel, tenant = twilio
    for _ in range(2):
        await channel.send(tenant, CUSTOMER, "Seu pedido #7 foi confirmado!", dedupe_key="turn:SM2:0")
    assert len(fake.sent) == 1 and len(await rows(demo)) == 1


async def test_transient_errors_are_retried_with_backoff(twilio, demo: Pool) -> None:  # type: ignore[no-untyped-def]
    fake, channel, tenant = twilio
    fake.fail_next = [(503, 20503), (429, 20429)]
    await channel.send(tenant, CUSTOMER, "Oi!", dedupe_key="turn:SM3:0")
    assert fake.requests == 3 and [m["Body"] for m in fake.sent] == ["Oi!"]
    [row] = await rows(demo)
    assert row.provider_sid == fake.sent[0]["Sid"] and row.error_code is None


async def test_when_twilio_stays_down_the_turn_fails_and_a_retry_sends_once(twilio, demo: Pool, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, channel, tenant = twilio
    fake.fail_next = [(500, 20500)] * channel.config.max_attempts
    with caplog.at_level(logging.ERROR, logger="comanda.twilio"), pytest.raises(TwilioSendError):
        await channel.send(tenant, CUSTOMER, "Oi!", dedupe_key="turn:SM4:0")
    assert any("20500" in r.getMessage() for r in caplog.records)
    [row] = await rows(demo)
    assert row.status == "queued" and row.provider_sid is None  # not sent: the queue will replay the turn
    await channel.send(tenant, CUSTOMER, "Oi!", dedupe_key="turn:SM4:0")
    assert len(fake.sent) == 1 and (await rows(demo))[0].provider_sid == fake.sent[0]["Sid"]


async def test_a_permanent_error_is_recorded_with_its_code_and_the_rest_is_not_sent(  # type: ignore[no-untyped-def]
    twilio, demo: Pool, caplog
) -> None:
    fake, channel, tenant = twilio
    fake.fail_next = [(400, 63018)]
    with caplog.at_level(logging.ERROR, logger="comanda.twilio"):
        await channel.send(tenant, CUSTOMER, long_reply(), dedupe_key="turn:SM5:0")
    assert fake.sent == [] and fake.requests == 1
    [row] = await rows(demo)
    assert (row.status, row.error_code) == ("failed", "63018")
    assert any("63018" in r.getMessage() for r in caplog.records)


async def test_notifications_use_the_template_outside_the_24_hour_window(twilio, demo: Pool) -> None:  # type: ignore[no-untyped-def]
    fake, channel, tenant = twilio
    await channel.send(tenant, CUSTOMER, "Pagamento recebido! Pedido #3 em preparo.", kind="notification")
    [sent] = fake.sent
    assert sent["ContentSid"] == TEMPLATE and "Body" not in sent
    assert json.loads(sent["ContentVariables"]) == {"1": "Pagamento recebido! Pedido #3 em preparo."}
    async with demo.connection() as conn:
        await outbound.touch_window(conn, tenant.id, CUSTOMER)  # the customer writes: the window opens
    await channel.send(tenant, CUSTOMER, "Saiu para entrega!", kind="notification")
    assert fake.sent[1]["Body"] == "Saiu para entrega!" and "ContentSid" not in fake.sent[1]


async def test_without_a_template_a_message_outside_the_window_is_not_sent_and_says_why(  # type: ignore[no-untyped-def]
    twilio, demo: Pool, caplog
) -> None:
    fake, channel, tenant = twilio
    channel.config = channel.config.model_copy(update={"notification_content_sid": None})
    with caplog.at_level(logging.ERROR, logger="comanda.twilio"):
        await channel.send(tenant, CUSTOMER, "Pagamento recebido!", kind="notification")
    assert fake.requests == 0
    [row] = await rows(demo)
    assert (row.status, row.error_code) == ("failed", "63016")
    assert any("24-hour window" in r.getMessage() for r in caplog.records)


async def test_media_goes_with_the_first_part(twilio) -> None:  # type: ignore[no-untyped-def]
    fake, channel, tenant = twilio
    await channel.send(tenant, CUSTOMER, long_reply(), media_url=f"{PUBLIC}/media/pix.png?c=x&s=y")
    assert [m.get("MediaUrl") for m in fake.sent] == [[f"{PUBLIC}/media/pix.png?c=x&s=y"], None, None]


async def test_pix_qr_images_are_served_only_from_signed_urls(demo: Pool, redis: Redis) -> None:
    signer = MediaSigner(b"media-secret", "http://unused")
    app = create_app(Resources(pool=demo, redis=redis, media=signer))
    code = "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865406101.505802BR6304ABCD"
    async with live_server(app) as base, httpx.AsyncClient() as http:
        url = MediaSigner(b"media-secret", base).pix_qr_url(code)
        image = await http.get(url)
        forged = await http.get(MediaSigner(b"other", base).pix_qr_url(code))
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert forged.status_code == 403


async def test_a_customer_message_is_answered_over_twilio_and_delivery_is_tracked(  # type: ignore[no-untyped-def]
    demo: Pool, redis: Redis
) -> None:
    settings = QueueSettings(coalesce_window_ms=0)
    async with live_server(webhook_app(demo, redis, settings)) as base, httpx.AsyncClient() as http:
        # one Twilio account: its auth token authenticates our API calls and signs its webhooks to us
        fake = FakeTwilio(auth_token=TOKEN, callbacks=["sent", "delivered"], callback_base=(PUBLIC, base))
        async with fake_twilio(fake) as (_, twilio_base):
            channel = TwilioChannel(demo, config_for(fake, twilio_base))
            runner = await make_runner(demo)
            turns = ConversationTurns(
                demo,
                runner,
                channel,
                lambda t, p: TurnContext(pool=demo, tenant=t, phone=p, clock=lambda: OPEN_CLOCK),
                redis,
            )
            worker = Worker(InboundQueue(redis, settings), turns)
            stop = asyncio.Event()
            task = asyncio.create_task(worker.run(stop))
            try:
                await post_signed(http, base, twilio_form("oi"))
                tenant = await demo_tenant(demo)
                [trace] = await wait_traces(redis, conversation_key(tenant.id, CUSTOMER), 1)
                for _ in range(100):
                    if {r.status for r in await rows(demo)} == {"delivered"}:
                        break
                    await asyncio.sleep(0.05)
            finally:
                stop.set()
                await task
                await channel.close()
    assert [m["Body"] for m in fake.sent] == trace.replies
    assert [(r.status, r.provider_sid) for r in await rows(demo)] == [("delivered", fake.sent[0]["Sid"])]
