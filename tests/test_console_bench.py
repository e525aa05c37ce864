"""`bench console` measures what it says: every connected console gets every new ticket, and the figures add up."""

from __future__ import annotations

from redis.asyncio import Redis

from comanda.bench_console import run_console_bench
from memory.db import Pool
from memory.repos import handoffs as handoff_repo
from memory.repos import tenants as tenant_repo


async def test_every_console_gets_every_ticket_and_the_bench_leaves_no_ticket_open(db: Pool, redis: Redis) -> None:
    report = await run_console_bench(db, redis, consoles=25, tickets=3)
    assert report.expected == 75 and report.deliveries == 75
    assert 0 < report.p50_ms <= report.p95_ms <= report.max_ms < 5000
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "bench-console")
        assert tenant is not None
        assert await handoff_repo.list_tickets(conn, tenant.id, status="open") == []
        assert len(await handoff_repo.list_tickets(conn, tenant.id, status="resolved")) == 3
