"""A loopback fake of Twilio's Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`).

It also serves inbound media as Twilio does: `GET .../Messages/{sid}/Media/{id}` checks Basic auth and redirects
to the file's storage on another origin, which answers with the bytes (404 in Twilio's error shape for media it
doesn't hold).

It checks what Twilio checks before accepting a message — Basic auth with the account's SID and token, `To` and
`From`, a body, media or Content template, the 1,600-character body limit, JSON `ContentVariables` — answers
with Twilio's message resource (201) or its error shape (`code`, `message`, `more_info`, `status`), and can then
post signed status callbacks to `StatusCallback`, as Twilio does once a message is delivered.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from support import live_server
from twilio.request_validator import RequestValidator


@dataclass
class FakeTwilio:
    """The fake's state: the account, what it accepted, the failures a test queued up."""

    account_sid: str = "AC" + "f" * 32
    auth_token: str = "fake-twilio-token"
    sent: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[tuple[int, int]] = field(default_factory=list)  # (HTTP status, Twilio error code)
    requests: int = 0
    callbacks: list[str] | None = None  # statuses to post to StatusCallback after each accepted message
    callback_base: tuple[str, str] | None = None  # (public base, where it really is): we play the proxy
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # inbound media by id: (bytes, Content-Type or None for a file served without one)
    media: dict[str, tuple[bytes, str | None]] = field(default_factory=dict)
    media_fetches: list[str] = field(default_factory=list)  # ids fetched with the right credentials
    storage_base: str = ""  # where the media's storage is served

    def media_url(self, base: str, media_id: str, message_sid: str = "MM" + "0" * 32) -> str:
        """The MediaUrl Twilio would post for this media."""
        return f"{base}/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}/Media/{media_id}"

    def error(self, status: int, code: int, message: str) -> JSONResponse:
        """Twilio's error body."""
        return JSONResponse(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status_code=status,
        )


def make_app(fake: FakeTwilio) -> FastAPI:
    """The fake API as an ASGI app."""
    app = FastAPI()

    @app.get("/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_id}", response_model=None)
    async def media(account_sid: str, message_sid: str, media_id: str, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
        if request.headers.get("authorization") != expected or account_sid != fake.account_sid:
            return fake.error(401, 20003, "Authenticate")
        if media_id not in fake.media:
            return fake.error(404, 20404, f"The requested resource {request.url.path} was not found")
        fake.media_fetches.append(media_id)
        return RedirectResponse(f"{fake.storage_base}/media-storage/{media_id}", status_code=307)

    @app.post("/2010-04-01/Accounts/{account_sid}/Messages.json")
    async def create(account_sid: str, request: Request) -> JSONResponse:
        fake.requests += 1
        expected = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
        if request.headers.get("authorization") != expected or account_sid != fake.account_sid:
            return fake.error(401, 20003, "Authenticate")
        if fake.fail_next:
            status, code = fake.fail_next.pop(0)
            return fake.error(status, code, "scripted failure")
        form = await request.form()
        data: dict[str, Any] = {k: form.getlist(k) if k == "MediaUrl" else form[k] for k in form}
        for name in ("To", "From"):
            if not str(data.get(name, "")).startswith("whatsapp:+"):
                return fake.error(400, 21211, f"Invalid '{name}' Phone Number: {data.get(name)}")
        body = str(data.get("Body", ""))
        if not body and not data.get("MediaUrl") and not data.get("ContentSid"):
            return fake.error(400, 21619, "A text message body or media urls must be specified.")
        if len(body) > 1600:
            return fake.error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if "ContentVariables" in data:
            try:
                json.loads(str(data["ContentVariables"]))
            except ValueError:
                return fake.error(400, 21656, "The ContentVariables Parameter is invalid.")
        sid = "SM" + uuid.uuid4().hex
        data["Sid"] = sid
        fake.sent.append(data)
        if fake.callbacks and data.get("StatusCallback"):
            # later, as Twilio does: the sender has stored the sid by then
            task = asyncio.create_task(_callbacks(fake, str(data["StatusCallback"]), sid, data))
            fake.tasks.add(task)
            task.add_done_callback(fake.tasks.discard)
        return JSONResponse(
            {
                "sid": sid,
                "account_sid": fake.account_sid,
                "to": data["To"],
                "from": data["From"],
                "body": body,
                "status": "queued",
                "num_media": str(len(data.get("MediaUrl") or [])),
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "price": None,
                "error_code": None,
                "error_message": None,
                "uri": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json",
                "date_created": "Sun, 22 Nov 2026 01:00:00 +0000",
                "date_updated": "Sun, 22 Nov 2026 01:00:00 +0000",
                "date_sent": None,
                "messaging_service_sid": None,
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}/Media.json"},
            },
            status_code=201,
        )

    return app


def make_storage(fake: FakeTwilio) -> FastAPI:
    """The media's storage, on another origin than the API (as Twilio's CDN is)."""
    app = FastAPI()

    @app.get("/media-storage/{media_id}")
    async def storage(media_id: str, request: Request) -> Response:
        # a signed storage URL takes no other credentials: sending Twilio's along is refused (as S3 refuses them)
        if "authorization" in request.headers:
            return Response(status_code=400)
        if media_id not in fake.media:
            return Response(status_code=403)
        body, content_type = fake.media[media_id]
        response = Response(body)
        if content_type is not None:
            response.headers["content-type"] = content_type
        return response

    return app


async def _callbacks(fake: FakeTwilio, url: str, sid: str, data: dict[str, Any]) -> None:
    await asyncio.sleep(0.2)
    target = url
    if fake.callback_base:
        target = url.replace(fake.callback_base[0], fake.callback_base[1], 1)
    async with httpx.AsyncClient() as http:
        for status in fake.callbacks or []:
            form = {
                "MessageSid": sid,
                "MessageStatus": status,
                "AccountSid": fake.account_sid,
                "To": str(data["To"]),
                "From": str(data["From"]),
                "ApiVersion": "2010-04-01",
            }
            signature = RequestValidator(fake.auth_token).compute_signature(url, form)
            await http.post(target, data=form, headers={"X-Twilio-Signature": signature})


@contextlib.asynccontextmanager
async def fake_twilio(fake: FakeTwilio | None = None) -> AsyncIterator[tuple[FakeTwilio, str]]:
    """Serve a fake Twilio on loopback; yields it and its base URL."""
    fake = fake or FakeTwilio()
    async with live_server(make_storage(fake)) as storage, live_server(make_app(fake)) as base:
        fake.storage_base = storage
        yield fake, base
