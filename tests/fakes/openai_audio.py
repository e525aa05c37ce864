"""A loopback fake of OpenAI's transcription API (`POST /v1/audio/transcriptions`).

It checks what the API checks — the Bearer key, a multipart `file` whose name has a supported extension, a `model`
— and answers `{"text": ...}` or OpenAI's error shape, so the real `openai` client runs unmodified against it.
The words "spoken" in a file are whatever the test put in `transcripts` for its bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile
from support import live_server

# the formats the API accepts, by file extension
FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")


@dataclass
class FakeTranscriptions:
    """The fake's state: the key, what each audio says, how slow it is, what it was sent."""

    api_key: str = "sk-fake-transcriptions"
    transcripts: dict[bytes, str] = field(default_factory=dict)
    delay_s: float = 0.0
    seen: list[dict[str, Any]] = field(default_factory=list)  # model, filename, content type, size of each request


def _error(status: int, message: str, code: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}},
        status_code=status,
    )


def make_app(fake: FakeTranscriptions) -> FastAPI:
    """The fake API as an ASGI app."""
    app = FastAPI()

    @app.post("/v1/audio/transcriptions")
    async def transcriptions(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {fake.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        form = await request.form()
        upload, model = form.get("file"), form.get("model")
        if not isinstance(upload, UploadFile) or not isinstance(model, str) or not model:
            return _error(400, "'file' and 'model' are required.")
        name = upload.filename or ""
        if name.rsplit(".", 1)[-1].lower() not in FORMATS:
            return _error(400, f"Invalid file format. Supported formats: {list(FORMATS)}")
        audio = await upload.read()
        fake.seen.append({"model": model, "filename": name, "content_type": upload.content_type, "size": len(audio)})
        if fake.delay_s:
            await asyncio.sleep(fake.delay_s)
        return JSONResponse({"text": fake.transcripts.get(audio, "")})

    return app


@contextlib.asynccontextmanager
async def fake_transcriptions(fake: FakeTranscriptions | None = None) -> AsyncIterator[tuple[FakeTranscriptions, str]]:
    """Serve the fake on loopback; yields it and its base URL (what `base_url` of the client takes, with /v1)."""
    fake = fake or FakeTranscriptions()
    async with live_server(make_app(fake)) as base:
        yield fake, base + "/v1"
