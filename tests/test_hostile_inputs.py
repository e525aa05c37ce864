"""Hostile inputs a fuzzer found (issue 16): each is refused with the right status and a reason naming the field,
changes nothing and queues nothing, and the answer is one the OpenAPI spec documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from api_support import PAY_SECRET, SHOPPER, Api, live_api, twilio_form
from redis.asyncio import Redis

from memory.db import Pool
from server.queue import InboundQueue, conversation_key
from tools.payments.simulated import WEBHOOK_PATH, page_signature

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def api(db: Pool, redis: Redis) -> AsyncIterator[Api]:
    async with live_api(db, redis) as api:
        yield api


async def refused(
    api: Api, response: httpx.Response, status: int, reason: str, before: dict[str, Any], route: tuple[str, str]
) -> None:
    """The answer is `status` with a reason containing `reason`, nothing changed, and the spec says it can happen."""
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert await api.state() == before
    method, path = route
    spec = (await api.http.get(f"{api.base}/openapi.json")).json()
    documented = spec["paths"][path][method.lower()]["responses"]
    assert str(status) in documented, f"{method} {path} answers {status}, the spec lists only {sorted(documented)}"
    schema = documented[str(status)]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorBody"}


# --- signatures that aren't ASCII: 403, never a traceback --------------------------------------------------------

NON_ASCII = ["%FF", "%C3%A9", "%E2%82%AC%00", "%00"]


@pytest.mark.parametrize("sig", NON_ASCII)
async def test_a_non_ascii_pay_page_signature_is_403(api: Api, sig: str) -> None:
    before = await api.state()
    ref = api.payment.provider_ref
    page = await api.http.get(f"{api.base}/pay/{ref}?sig={sig}")
    await refused(api, page, 403, "invalid payment link", before, ("GET", "/pay/{ref}"))
    pay = await api.http.post(f"{api.base}/pay/{ref}", content=f"sig={sig}".encode(), headers=FORM)
    await refused(api, pay, 403, "invalid payment link", before, ("POST", "/pay/{ref}"))


@pytest.mark.parametrize("sig", NON_ASCII)
async def test_a_non_ascii_media_signature_is_403(api: Api, sig: str) -> None:
    before = await api.state()
    signed = api.media.pix_qr_url("00020126580014br.gov.bcb.pix")
    assert (await api.http.get(signed)).status_code == 200
    forged = signed.split("&s=")[0] + f"&s={sig}"
    await refused(api, await api.http.get(forged), 403, "invalid media signature", before, ("GET", "/media/pix.png"))


@pytest.mark.parametrize("header", ["sha256=é".encode(), b"sha256=\xff", "sha256=€".encode()])
async def test_a_non_ascii_webhook_signature_is_403(api: Api, header: bytes) -> None:
    before = await api.state()
    answer = await api.http.post(
        api.base + WEBHOOK_PATH,
        content=api.event(),
        headers={b"Content-Type": b"application/json", b"X-Comanda-Signature": header},
    )
    await refused(api, answer, 403, "signature", before, ("POST", WEBHOOK_PATH))


# --- signed but impossible values: 400 naming the field ----------------------------------------------------------


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [("NaN", "-46.6"), ("-23.5", "NaN"), ("sNaN", "-46.6"), ("-NaN", "0"), ("Infinity", "0"), ("-23.5", "-inf")],
)
async def test_a_location_that_is_not_a_number_is_400_and_nothing_is_queued(
    api: Api, latitude: str, longitude: str
) -> None:
    before = await api.state()
    form = twilio_form("aqui", Latitude=latitude, Longitude=longitude)
    answer = await api.twilio(form)
    assert answer.status_code == 400, answer.text
    assert "Latitude/Longitude" in answer.json()["detail"]
    assert await api.state() == before


async def test_nul_bytes_are_dropped_from_a_message_that_is_queued(api: Api) -> None:
    # Postgres text can't hold NUL: a tool storing the customer's words (their name) fails on it and the customer
    # hears "tive um probleminha". The customer's message is kept, without the character
    form = twilio_form("quero\x00 uma pizza", ProfileName="Ana\x00", Latitude="-23.5", Longitude="-46.6")
    form |= {"Address": "Rua A\x00, 10", "ButtonText": "\x00Sim", "Custom\x00Field": "x\x00"}
    answer = await api.twilio(form)
    assert answer.status_code == 200, answer.text
    [queued] = await InboundQueue(api.redis).pending(conversation_key(api.tenant.id, SHOPPER))
    message = queued.message
    assert (message.body, message.profile_name, message.button_text) == ("quero uma pizza", "Ana", "Sim")
    assert message.location is not None and message.location.address == "Rua A, 10"
    assert message.extra["CustomField"] == "x"
    assert "\x00" not in message.text()


@pytest.mark.parametrize("amount", ['"9e99999"', '"1e30"', "1e30", "9e99999", "-1e30", "1" * 5000, '"-Infinity"'])
async def test_an_amount_that_is_not_money_is_400(api: Api, amount: str) -> None:
    before = await api.state()
    body = api.event(amount="AMOUNT").replace(b'"AMOUNT"', amount.encode())
    await refused(api, await api.webhook(body), 400, "amount", before, ("POST", WEBHOOK_PATH))


@pytest.mark.parametrize("ref", ["\x00", "abc\x00def", "ref\x00" + "f" * 28])
async def test_a_payment_ref_with_a_nul_byte_is_400(api: Api, ref: str) -> None:
    before = await api.state()
    answer = await api.webhook(api.event(payment_ref=ref))
    await refused(api, answer, 400, "payment_ref", before, ("POST", WEBHOOK_PATH))


@pytest.mark.parametrize("ref", ["\x00", "abc\x00def"])
async def test_a_signed_pay_link_with_a_nul_byte_is_400(api: Api, ref: str) -> None:
    before = await api.state()
    sig = page_signature(PAY_SECRET, ref)
    quoted = ref.replace("\x00", "%00")
    page = await api.http.get(f"{api.base}/pay/{quoted}?sig={sig}")
    await refused(api, page, 400, "ref", before, ("GET", "/pay/{ref}"))
    pay = await api.http.post(f"{api.base}/pay/{quoted}", data={"sig": sig})
    await refused(api, pay, 400, "ref", before, ("POST", "/pay/{ref}"))


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"event": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    ],
    ids=["array", "in-a-field", "objects"],
)
async def test_json_nested_100_000_deep_is_400(api: Api, body: bytes) -> None:
    before = await api.state()
    await refused(api, await api.webhook(body), 400, "nested", before, ("POST", WEBHOOK_PATH))


async def test_the_order_is_still_payable_after_all_that(api: Api) -> None:
    # the refusals above are refusals, not a broken route: the real event still settles the order
    assert (await api.webhook(api.event(payment_ref=api.payment.provider_ref + "\x00"))).status_code == 400
    paid = await api.webhook(api.event())
    assert paid.status_code == 200 and paid.json() == {"status": "paid", "order_id": api.order_id}


# --- what the API says it allows ------------------------------------------------------------------------------------

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


@pytest.mark.parametrize(("path", "form"), [("/pay/{ref}", True), (WEBHOOK_PATH, False), ("/media/pix.png", False)])
async def test_allow_names_exactly_the_methods_that_are_allowed(api: Api, path: str, form: bool) -> None:
    url = api.base + path.format(ref=api.payment.provider_ref)
    options = await api.http.request("OPTIONS", url)
    assert options.status_code in (200, 204), options.text
    allow = {m.strip() for m in options.headers["allow"].split(",")}
    really: set[str] = {"OPTIONS"}
    for method in METHODS:
        answer = await api.http.request(method, url, headers=FORM if form else None)
        if answer.status_code == 405:
            assert {m.strip() for m in answer.headers["allow"].split(",")} == allow
        else:
            really.add(method)
    assert allow == really
