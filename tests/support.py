"""Helpers for tests: serve an ASGI app on a real loopback port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import uvicorn
from conftest import free_port
from fastapi import FastAPI


@contextlib.asynccontextmanager
async def live_app(make_app: Callable[[str], FastAPI]) -> AsyncIterator[str]:
    """Serve the app `make_app(base_url)` with uvicorn on 127.0.0.1 in this event loop; yields its base URL.

    The factory gets the URL first because some apps must know their own public address (pay links, webhooks).
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(make_app(base), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield base
    finally:
        server.should_exit = True
        await task


def live_server(app: FastAPI) -> contextlib.AbstractAsyncContextManager[str]:
    """Serve a ready-made app on loopback; yields its base URL."""
    return live_app(lambda _base: app)
