"""Liveness and readiness: is the process up, and do Postgres and Redis answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from server.deadline import wait_quietly

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

_CHECK_TIMEOUT_S = 2.0


class Readiness(BaseModel):
    """Each dependency's state: "ok", "error: timeout" or "error: unavailable"."""

    postgres: str
    redis: str


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (no dependency is checked)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request) -> JSONResponse:
    """200 when Postgres and Redis both answer; 503 naming the one that failed otherwise.

    A failure reads "error: timeout" (no answer within 2 s) or "error: unavailable"; the details (addresses,
    driver messages) go to the log, not to whoever asks.
    """
    resources = request.app.state.resources
    checks: dict[str, asyncio.Task[None]] | None = getattr(request.app.state, "readiness_checks", None)
    if checks is None:
        checks = request.app.state.readiness_checks = {}

    async def pg() -> None:
        async with resources.pool.connection(timeout=_CHECK_TIMEOUT_S) as conn:
            await conn.execute("SELECT 1")

    async def redis() -> None:
        await resources.redis.ping()

    async def state(name: str, check: Callable[[], Coroutine[Any, Any, None]]) -> str:
        # a check still hanging from an earlier probe is waited on again, not doubled: a load balancer asking every
        # few seconds during an outage would otherwise take a pool connection each time
        task = checks.get(name)
        if task is None or task.done():
            task = checks[name] = asyncio.create_task(check(), name=f"readiness {name}")
            task.add_done_callback(_log_failure)
        await wait_quietly(task, _CHECK_TIMEOUT_S)
        if not task.done():
            log.warning("readiness: %s gave no answer within %g s", name, _CHECK_TIMEOUT_S)
            return "error: timeout"
        if task.cancelled() or task.exception() is not None:
            return "error: unavailable"
        return "ok"

    pg_state, redis_state = await asyncio.gather(state("postgres", pg), state("redis", redis))
    body = Readiness(postgres=pg_state, redis=redis_state)
    status = 200 if pg_state == redis_state == "ok" else 503
    return JSONResponse(body.model_dump(), status_code=status)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("%s: %s: %s", task.get_name(), type(exc).__name__, exc)
