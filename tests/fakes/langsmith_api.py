"""A loopback fake of LangSmith's run ingestion, for what the real `langsmith.Client` posts when tracing is on.

The client asks `GET /info` once, then sends runs in batches from its background thread: `POST /runs/multipart`
(one form part per run and per field: `post.<id>`, `post.<id>.inputs`, `patch.<id>.outputs`...), or
`POST /runs/batch` (`{"post": [...], "patch": [...]}`), or one run at a time (`POST /runs`, `PATCH /runs/<id>`).
The fake keeps every body as received (`raw`, what left the process) and the runs put together from it (`runs`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import zstandard
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile
from support import live_server


@dataclass
class FakeLangSmith:
    """Every request body that reached the fake, and the runs they describe (by run id)."""

    raw: list[str] = field(default_factory=list)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    api_keys: set[str] = field(default_factory=set)

    def text(self) -> str:
        """All that was posted, as one text to search."""
        return "\n".join(self.raw)

    def _merge(self, run: dict[str, Any], run_id: str | None = None) -> None:
        key = str(run_id or run.get("id"))
        self.runs.setdefault(key, {}).update(run)


def make_app(fake: FakeLangSmith) -> FastAPI:
    """The ingestion endpoints the client uses."""
    app = FastAPI()

    @app.get("/info")
    async def info() -> dict[str, Any]:
        # no instance flags: the client sends plain (uncompressed) multipart, in batches of its default size
        return {"version": "0.10.0"}

    async def body_of(request: Request) -> bytes:
        fake.api_keys.add(request.headers.get("x-api-key", ""))
        body = await request.body()
        if request.headers.get("content-encoding") == "zstd":
            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        fake.raw.append(body.decode("utf-8", errors="replace"))
        return body

    @app.post("/runs/multipart")
    async def multipart(request: Request) -> JSONResponse:
        await body_of(request)
        form = await request.form()
        for name, value in form.multi_items():
            data = await value.read() if isinstance(value, UploadFile) else value.encode()
            _op, run_id, *part = name.split(".")
            decoded = json.loads(data)
            fake._merge({part[0]: decoded} if part else decoded, run_id)
        return JSONResponse({}, status_code=202)

    @app.post("/runs/batch")
    async def batch(request: Request) -> JSONResponse:
        ops = json.loads(await body_of(request))
        for run in [*ops.get("post", []), *ops.get("patch", [])]:
            fake._merge(run)
        return JSONResponse({}, status_code=202)

    @app.post("/runs")
    async def create(request: Request) -> JSONResponse:
        fake._merge(json.loads(await body_of(request)))
        return JSONResponse({}, status_code=202)

    @app.patch("/runs/{run_id}")
    async def update(run_id: str, request: Request) -> JSONResponse:
        fake._merge(json.loads(await body_of(request)), run_id)
        return JSONResponse({}, status_code=202)

    return app


@contextlib.asynccontextmanager
async def fake_langsmith() -> AsyncIterator[tuple[FakeLangSmith, str]]:
    """Serve a fresh fake on loopback; yields it and its base URL (what LANGSMITH_ENDPOINT names)."""
    fake = FakeLangSmith()
    async with live_server(make_app(fake)) as base:
        yield fake, base
