"""Which payment parts a configuration gets: the simulated pay page exists only with the simulated provider."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from support import live_server

from comanda.settings import Settings
from comanda.wiring import outbound_channel, simulated_payment_routes
from memory.db import Pool
from server.app import Resources, create_app
from tools.payments.simulated import WEBHOOK_PATH


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None, **values)  # type: ignore[call-arg]


async def _status(settings: Settings, db: Pool, redis: Redis, method: str, path: str) -> int:
    routes = simulated_payment_routes(settings, db, outbound_channel(settings, db))
    async with live_server(create_app(Resources(pool=db, redis=redis, payments=routes))) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            return (await client.request(method, path)).status_code


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/pay/abc?sig=0123"), ("POST", "/pay/abc"), ("POST", WEBHOOK_PATH)],
)
async def test_the_simulated_pay_page_and_webhook_are_not_there_with_asaas(
    tmp_path: Path, db: Pool, redis: Redis, method: str, path: str
) -> None:
    assert await _status(_settings(tmp_path, payments="asaas"), db, redis, method, path) == 404
    # the same request reaches the simulated routes in the embedded mode (refused there for its bad signature)
    assert await _status(_settings(tmp_path, payments="simulated"), db, redis, method, path) in (403, 422)
