"""`POST /twilio/whatsapp` and `POST /twilio/status` over real HTTP, with the real Redis queue behind them."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from channel_support import CUSTOMER, PUBLIC, TOKEN, new_sid, post_signed, sign, twilio_form, webhook_app
from conftest import DEMO_MENU
from redis.asyncio import Redis
from support import live_server

from memory.db import Pool
from memory.embeddings import Embedder
from memory.privacy import PersonalDataFilter, mask_phone
from memory.repos import outbound
from server.queue import InboundQueue, conversation_key
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json


@pytest.fixture
async def demo(db: Pool, embedder: Embedder) -> Pool:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    return db


@pytest.fixture
async def api(demo: Pool, redis: Redis) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with live_server(webhook_app(demo, redis)) as base, httpx.AsyncClient() as http:
        yield http, base


async def queued(pool: Pool, redis: Redis, phone: str = CUSTOMER) -> list[str]:
    """The message sids waiting in the customer's conversation queue."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM tenants WHERE slug = 'demo'")
        row = await cur.fetchone()
    assert row is not None
    batch = await InboundQueue(redis).pending(conversation_key(row["id"], phone))
    return [q.message.message_sid for q in batch]


async def test_a_signed_message_is_queued_and_answered_with_empty_twiml(api, demo: Pool, redis: Redis) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    form = twilio_form("quero uma pizza")
    response = await post_signed(http, base, form)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.endswith("<Response/>")
    assert await queued(demo, redis) == [form["MessageSid"]]


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl", "forged"])
async def test_missing_or_forged_signatures_are_refused_and_nothing_is_queued(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis, signature: str | None
) -> None:
    http, base = api
    form = twilio_form()
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    response = await http.post(f"{base}/twilio/whatsapp", data=form, headers=headers)
    assert response.status_code == 403
    assert "signature" in response.json()["detail"].lower()
    assert await queued(demo, redis) == []


async def test_a_signature_with_another_token_or_a_tampered_body_is_refused(api, demo: Pool, redis: Redis) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    form = twilio_form("1 pizza")
    other = await http.post(
        f"{base}/twilio/whatsapp",
        data=form,
        headers={"X-Twilio-Signature": sign(form, PUBLIC + "/twilio/whatsapp", "x")},
    )
    signature = sign(form, PUBLIC + "/twilio/whatsapp")
    tampered = await http.post(
        f"{base}/twilio/whatsapp", data={**form, "Body": "100 pizzas"}, headers={"X-Twilio-Signature": signature}
    )
    assert (other.status_code, tampered.status_code) == (403, 403)
    assert await queued(demo, redis) == []


async def test_behind_a_proxy_the_public_url_is_what_counts(api, demo: Pool, redis: Redis) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    # Twilio signed https://comanda.example.com/twilio/whatsapp?tenant=x; we are reached on http://127.0.0.1:port
    form = twilio_form("oi")
    ok = await post_signed(http, base, form, query="tenant=x")
    assert ok.status_code == 200
    internal = twilio_form("oi")
    signed_for_internal = sign(internal, f"{base}/twilio/whatsapp")
    refused = await http.post(
        f"{base}/twilio/whatsapp", data=internal, headers={"X-Twilio-Signature": signed_for_internal}
    )
    assert refused.status_code == 403
    assert await queued(demo, redis) == [form["MessageSid"]]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"MessageSid": ""}, "MessageSid is missing"),
        ({"From": ""}, "From is missing"),
        ({"To": ""}, "To is missing"),
        ({"From": "whatsapp:banana"}, "From is not a phone number"),
        ({"NumMedia": "2", "MediaUrl0": "https://api.twilio.com/m/0"}, "MediaUrl1 is missing"),
        ({"NumMedia": "lots"}, "NumMedia is not a number"),
        ({"Latitude": "north", "Longitude": "-46.6"}, "Latitude/Longitude"),
    ],
)
async def test_malformed_forms_get_a_400_naming_the_field(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis, change: dict[str, str], reason: str
) -> None:
    http, base = api
    form = {k: v for k, v in {**twilio_form(), **change}.items() if v != ""}
    response = await post_signed(http, base, form)
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert await queued(demo, redis) == []


async def test_an_unknown_to_number_is_a_404_with_a_warning(api, demo: Pool, redis: Redis) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    form = twilio_form("oi", To="whatsapp:+5521988887777")
    # a handler as production installs them: every log line goes through the personal-data filter
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(PersonalDataFilter())
    webhook_log = logging.getLogger("comanda.webhook")
    webhook_log.addHandler(handler)
    try:
        response = await post_signed(http, base, form)
    finally:
        webhook_log.removeHandler(handler)
    assert response.status_code == 404
    assert "+5521988887777" in response.json()["detail"]
    # the warning names the number as every phone is logged, the restaurant's too (one filter for all lines)
    logged = out.getvalue()
    assert "no tenant has this number" in logged and mask_phone("+5521988887777") in logged, logged
    assert "+5521988887777" not in logged
    assert await queued(demo, redis) == []


async def test_twilio_retries_of_one_message_are_queued_once(api, demo: Pool, redis: Redis) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    form = twilio_form("oi")
    statuses = [(await post_signed(http, base, form)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert await queued(demo, redis) == [form["MessageSid"]]
    assert 24 * 3600 <= await redis.ttl(f"comanda:seen:{form['MessageSid']}") <= 48 * 3600


async def test_media_location_buttons_and_unknown_fields_survive_parsing(api, demo: Pool, redis: Redis) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    form = twilio_form(
        "",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME",
        MediaContentType0="image/jpeg",
        Latitude="-23.5614",
        Longitude="-46.6559",
        Address="Av. Paulista, 1000",
        Label="Trabalho",
        ButtonPayload="menu",
        ButtonText="Ver cardápio",
        ReferralNumMedia="0",
        SmsStatus="received",
    )
    assert (await post_signed(http, base, form)).status_code == 200
    async with demo.connection() as conn:
        cur = await conn.execute("SELECT id FROM tenants WHERE slug = 'demo'")
        tenant_id = (await cur.fetchone())["id"]  # type: ignore[index]
    [item] = await InboundQueue(redis).pending(conversation_key(tenant_id, CUSTOMER))
    m = item.message
    assert (m.from_phone, m.to_phone, m.profile_name, m.wa_id) == (CUSTOMER, "+5511900000000", "Maria", CUSTOMER[1:])
    assert m.media[0].content_type == "image/jpeg" and m.media[0].url.endswith("/ME")
    assert m.location is not None and str(m.location.latitude) == "-23.5614" and m.location.label == "Trabalho"
    assert (m.button_payload, m.button_text) == ("menu", "Ver cardápio")
    assert m.extra["SmsStatus"] == "received" and m.extra["ReferralNumMedia"] == "0"
    # the image is never words the conversation could store (the worker names it to the guard: server/media_in.py)
    assert m.text().splitlines() == ["Ver cardápio", "Trabalho, Av. Paulista, 1000"]


async def _outbound_row(pool: Pool, sid: str) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM tenants WHERE slug = 'demo'")
        tenant_id = (await cur.fetchone())["id"]  # type: ignore[index]
        row = await outbound.insert_message(
            conn, tenant_id=tenant_id, phone=CUSTOMER, body="Seu pedido saiu", provider_sid=sid, status="queued"
        )
    return row.id


async def _status(pool: Pool, row_id: int) -> tuple[str, str | None]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT status, error_code FROM outbound_messages WHERE id = %s", (row_id,))
        row = await cur.fetchone()
    assert row is not None
    return row["status"], row["error_code"]


async def test_status_callbacks_move_delivery_state_forward_only(api, demo: Pool) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    sid = new_sid()
    row_id = await _outbound_row(demo, sid)
    for status in ("sent", "read", "delivered"):  # Twilio may deliver "delivered" after "read"
        form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "1" * 32}
        assert (await post_signed(http, base, form, path="/twilio/status")).status_code == 204
    assert await _status(demo, row_id) == ("read", None)


async def test_a_failed_delivery_keeps_its_error_code(api, demo: Pool) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    sid = new_sid()
    row_id = await _outbound_row(demo, sid)
    form = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "63016"}
    assert (await post_signed(http, base, form, path="/twilio/status")).status_code == 204
    assert await _status(demo, row_id) == ("undelivered", "63016")


async def test_status_callbacks_need_a_signature_and_the_fields(api, demo: Pool) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    sid = new_sid()
    row_id = await _outbound_row(demo, sid)
    forged = await http.post(
        f"{base}/twilio/status",
        data={"MessageSid": sid, "MessageStatus": "failed"},
        headers={"X-Twilio-Signature": sign({"MessageSid": sid}, PUBLIC + "/twilio/status", TOKEN)},
    )
    missing = await post_signed(http, base, {"MessageSid": sid}, path="/twilio/status")
    unknown = await post_signed(http, base, {"MessageSid": sid, "MessageStatus": "teleported"}, path="/twilio/status")
    assert (forged.status_code, missing.status_code, unknown.status_code) == (403, 400, 400)
    assert await _status(demo, row_id) == ("queued", None)
