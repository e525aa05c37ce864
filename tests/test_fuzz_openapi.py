"""Fuzz the whole HTTP API from its own `/openapi.json` with schemathesis: no input makes it answer 5xx, and every
answer is one the spec documents (status, content type, body schema).

The app is served over real HTTP on loopback (uvicorn in the test's event loop, on the test database and Redis);
schemathesis' Hypothesis strategies generate the requests in a worker thread, so the loop keeps serving. Most routes
check a signature before anything else, so a fuzzer left alone would only ever learn that its signatures are wrong:
some cases are signed with the test secrets (and some aimed at the one real payment) to reach what lies behind.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from api_support import PAY_SECRET, RESTAURANT, SHOPPER, Api, live_api, twilio_signature
from hypothesis import HealthCheck, given, settings
from redis.asyncio import Redis
from schemathesis import GenerationMode, checks

from memory.db import Pool
from tools.payments.simulated import SIGNATURE_HEADER, WEBHOOK_PATH, page_signature, webhook_signature

# examples per operation and generation mode (Hypothesis stops sooner when an operation has few inputs to vary).
# Negative cases (values the spec forbids) cost 0.1-0.6 s each to generate with schemathesis 4.15, positive ones
# 0.01-0.06 s: ~650 requests in all, about a minute on this machine when it is busy
EXAMPLES = {
    GenerationMode.POSITIVE: {"default": 25, "/pay/{ref}": 120, WEBHOOK_PATH: 150, "/media/pix.png": 100},
    GenerationMode.NEGATIVE: {"default": 25, "/pay/{ref}": 28, WEBHOOK_PATH: 35, "/media/pix.png": 40},
}
MIN_CASES = 500
# by name: schemathesis has moved the OpenAPI checks between modules across 4.x releases, its registry keeps them
checks.load_all_checks()
CHECKS = checks.CHECKS.get_by_names(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
# what a case is turned into before it is sent: left alone, signed as its target expects, or aimed at our payment
TAMPER = st.sampled_from(["as generated", "signed", "our payment"])

pytestmark = pytest.mark.slow


@pytest.fixture
async def api(db: Pool, redis: Redis) -> AsyncIterator[Api]:
    async with live_api(db, redis) as api:
        yield api


async def test_no_generated_request_makes_the_api_fail(api: Api) -> None:
    spec = (await api.http.get(f"{api.base}/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(spec)
    started = time.monotonic()
    seen = await asyncio.to_thread(_fuzz, schema, api)
    took = time.monotonic() - started
    total = sum(seen.values())
    print(f"\n{total} requests in {took:.0f} s:", ", ".join(f"{k} {n}" for k, n in sorted(seen.items())))
    assert total >= MIN_CASES
    # the fuzzer got past the signatures, or it tested nothing but our 403
    assert any(key.endswith(" 200") or key.endswith(" 303") for key in seen if key.startswith("POST /pay"))
    assert seen[f"POST {WEBHOOK_PATH} 200"] > 0 and seen[f"POST {WEBHOOK_PATH} 400"] > 0
    assert seen["GET /media/pix.png 200"] > 0
    assert seen["GET /pay/{ref} 200"] > 0


def _fuzz(schema: Any, api: Api) -> Counter[str]:
    """Run every operation's strategies, both positive and negative; returns how often each status was seen."""
    seen: Counter[str] = Counter()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            takes_input = any(operation.iter_parameters()) or bool(operation.body)
            # with no parameter and no body there is nothing to make invalid (Hypothesis says Unsatisfiable)
            modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input else (GenerationMode.POSITIVE,)
            for mode in modes:
                examples = EXAMPLES[mode].get(operation.path, EXAMPLES[mode]["default"])
                strategy = operation.as_strategy(generation_mode=mode)
                _run(strategy, examples, lambda c, t: _send(api, session, c, t, seen))
    return seen


def _run(strategy: Any, examples: int, send: Callable[[Any, str], None]) -> None:
    @given(case=strategy, tamper=TAMPER)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any, tamper: str) -> None:
        send(case, tamper)

    fuzz()


def _send(api: Api, session: requests.Session, case: Any, tamper: str, seen: Counter[str]) -> None:
    kwargs = case.as_transport_kwargs(base_url=api.base)
    if tamper != "as generated":
        _tamper(api, case, kwargs, ours=tamper == "our payment")
    response = session.request(**kwargs, timeout=30, allow_redirects=False)
    seen[f"{case.method.upper()} {case.path} {response.status_code}"] += 1
    case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)


def _tamper(api: Api, case: Any, kwargs: dict[str, Any], *, ours: bool) -> None:
    """Sign the request as its route expects (and, if `ours`, point it at the real payment)."""
    ref = api.payment.provider_ref
    if case.path == "/pay/{ref}":
        given = case.path_parameters.get("ref") if case.path_parameters else None
        if ours:
            kwargs["url"] = f"{api.base}/pay/{ref}"
        elif isinstance(given, str):
            ref = given
        else:
            return
        sig = page_signature(PAY_SECRET, ref)
        if case.method.upper() == "GET":
            kwargs["params"] = {**(kwargs.get("params") or {}), "sig": sig}
        elif isinstance(kwargs.get("data"), dict):
            kwargs["data"] = {**kwargs["data"], "sig": sig}
    elif case.path == WEBHOOK_PATH:
        if "json" in kwargs:
            event = kwargs.pop("json")
            if ours and isinstance(event, dict):
                event = {**event, "payment_ref": ref, "amount": str(api.payment.amount)}
            kwargs["data"] = json.dumps(event).encode()
        body = kwargs.get("data")
        if isinstance(body, bytes):
            kwargs["headers"] = {**kwargs["headers"], SIGNATURE_HEADER: webhook_signature(PAY_SECRET, body)}
    elif case.path == "/media/pix.png":
        code = (kwargs.get("params") or {}).get("c")
        if isinstance(code, str):
            signed = parse_qs(urlsplit(api.media.pix_qr_url(code)).query, keep_blank_values=True)
            kwargs["params"] = {**kwargs["params"], "c": signed["c"][0], "s": signed["s"][0]}
    elif case.path.startswith("/twilio/") and isinstance(kwargs.get("data"), dict):
        form = {str(k): str(v) for k, v in kwargs["data"].items()}
        kwargs["headers"] = {**kwargs["headers"], "X-Twilio-Signature": twilio_signature(form, case.path)}


# --- the Twilio webhook's form ---------------------------------------------------------------------------------------
# The webhook reads the raw form (its signature covers every field), so the spec can't describe it and schemathesis
# has nothing to vary there: these forms come from a strategy of Twilio's own fields, signed as Twilio signs them.

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)  # surrogates can't be sent at all
NUMBERISH = st.one_of(
    st.sampled_from(["NaN", "sNaN", "-nan", "NaN12", "inf", "-Infinity"]),  # what Decimal() takes but isn't a number
    st.sampled_from(["1e999999999", "-0", "90.0000001", " 1", "1_0", "", "99999999999", "١٢"]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(str),
    TEXT,
)
# a message Twilio could really send: text, sometimes a location or a picture
GOOD_FORM = st.tuples(
    st.fixed_dictionaries(
        {
            "MessageSid": st.uuids().map(lambda u: f"SM{u.hex}"),
            "From": st.just(f"whatsapp:{SHOPPER}"),
            "To": st.just(f"whatsapp:{RESTAURANT}"),
            "Body": TEXT,
        },
        optional={"ProfileName": TEXT},
    ),
    st.one_of(
        st.just({}),
        st.fixed_dictionaries(
            {
                "Latitude": st.decimals(-90, 90, places=6).map(str),
                "Longitude": st.decimals(-180, 180, places=6).map(str),
            }
        ),
        st.just({"NumMedia": "1", "MediaUrl0": "https://api.twilio.com/media/ME1"}),
    ),
).map(lambda parts: {**parts[0], **parts[1]})
# ... with some of its fields spoiled
SPOILED = {
    "MessageSid": TEXT,
    "From": st.one_of(TEXT, st.sampled_from(["whatsapp:", "whatsapp:+", f"{SHOPPER}\x00", "+0", "+999999999999999"])),
    "To": st.one_of(TEXT, st.just(f"whatsapp:{SHOPPER}")),
    "Body": st.text(max_size=2000).map(lambda t: t.encode("utf-8", "replace").decode()),
    "Latitude": NUMBERISH,
    "Longitude": NUMBERISH,
    "NumMedia": NUMBERISH,
    "MediaUrl0": TEXT,
    "MediaUrl1": TEXT,
    "MediaContentType0": TEXT,
    "Address": TEXT,
    "ButtonPayload": TEXT,
    "WaId": TEXT,
    "AccountSid": TEXT,
    "SomethingNew": TEXT,
}
# the fields the parser reads, more often than the ones it only keeps
SPOIL_ORDER = ["Latitude", "Longitude"] * 4 + ["NumMedia", "From", "To"] * 2 + sorted(SPOILED)
TWILIO_EXAMPLES = 250


async def test_no_signed_twilio_form_makes_the_webhook_fail(api: Api) -> None:
    seen = await asyncio.to_thread(_fuzz_twilio, api)
    print(f"\n{sum(seen.values())} signed Twilio forms:", dict(seen))
    assert set(seen) <= {200, 400, 404}, seen
    assert seen[200] > 0 and seen[400] > 0  # both sides of the parser were reached


def _fuzz_twilio(api: Api) -> Counter[int]:
    seen: Counter[int] = Counter()
    with requests.Session() as session:

        @given(form=GOOD_FORM, data=st.data())
        @settings(
            max_examples=TWILIO_EXAMPLES,
            deadline=None,
            database=None,
            print_blob=True,
            suppress_health_check=list(HealthCheck),
        )
        def post(form: dict[str, str], data: st.DataObject) -> None:
            for field in set(data.draw(st.lists(st.sampled_from(SPOIL_ORDER), max_size=3))):
                form[field] = data.draw(SPOILED[field], label=field)
            headers = {"X-Twilio-Signature": twilio_signature(form, "/twilio/whatsapp")}
            response = session.post(f"{api.base}/twilio/whatsapp", data=form, headers=headers, timeout=30)
            seen[response.status_code] += 1
            assert response.status_code < 500, (form, response.status_code, response.text)

        post()
    return seen
