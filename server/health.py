"""Liveness and readiness: is the process up, and do Postgres and Redis answer."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

router = APIRouter(tags=["health"])

_CHECK_TIMEOUT_S = 2.0


class Readiness(BaseModel):
    """Each dependency's state: "ok", or the error that made it fail."""

    postgres: str
    redis: str


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (no dependency is checked)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request) -> JSONResponse:
    """200 when Postgres and Redis both answer; 503 naming the one that failed otherwise."""
    resources = request.app.state.resources

    async def pg() -> str:
        async with resources.pool.connection() as conn:
            await conn.execute("SELECT 1")
        return "ok"

    async def redis() -> str:
        await resources.redis.ping()
        return "ok"

    results = await asyncio.gather(
        asyncio.wait_for(pg(), _CHECK_TIMEOUT_S), asyncio.wait_for(redis(), _CHECK_TIMEOUT_S), return_exceptions=True
    )
    pg_state, redis_state = (
        r if isinstance(r, str) else f"error: {type(r).__name__}: {r}".rstrip(": ") for r in results
    )
    body = Readiness(postgres=pg_state, redis=redis_state)
    status = 200 if pg_state == redis_state == "ok" else 503
    return JSONResponse(body.model_dump(), status_code=status)
