"""The README's quickstart: the demo `make run` seeds takes an order at any hour, and the sample script orders one."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from channel_support import PUBLIC, running_worker, webhook_app
from conftest import DEMO_MENU, ROOT, create_database
from redis.asyncio import Redis
from support import live_server
from test_chat_cli import NOW, chat

from comanda.runtime import prepare_database
from memory.db import Pool, open_pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from tools.menu.hours import is_open
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.payments.simulated import SimulatedPayments

EXAMPLE = ROOT / "examples" / "pedido-pizza.txt"


async def test_the_demo_make_run_seeds_is_open_at_four_in_the_morning_on_a_monday(pg_base_url: str) -> None:
    url = create_database(pg_base_url)
    await prepare_database(url, seed_demo=True)
    pool = await open_pool(url, max_size=1, name="seeded")
    try:
        async with pool.connection() as conn:
            demo = await tenant_repo.by_slug(conn, "demo")
    finally:
        await pool.close()
    assert demo is not None
    monday_4am = datetime(2026, 11, 23, 4, 0, tzinfo=ZoneInfo(demo.timezone))
    assert is_open(demo.hours, demo.timezone, monday_4am)
    # the fixture itself keeps a real week (tests and evals of closed hours use it)
    fixture = parse_json(DEMO_MENU.read_text()).restaurant
    assert fixture is not None and not is_open(fixture.hours, fixture.timezone, monday_4am)


async def test_the_readme_sample_conversation_orders_a_pizza_and_gets_a_pix_code(  # type: ignore[no-untyped-def]
    db: Pool, embedder: Embedder, redis: Redis, database_url: str, valkey_url: str, tmp_path: Path
) -> None:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    lines = [ln for ln in EXAMPLE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(EXAMPLE.read_text().splitlines()) <= 10
    payments = SimulatedPayments(PUBLIC, b"pay-secret")
    async with (
        live_server(webhook_app(db, redis, NOW)) as base,
        running_worker(db, redis, NOW, payments=payments),
    ):
        done = await chat(["--script", str(EXAMPLE), "--url", base], database_url, valkey_url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [ln[2:] for ln in done.stdout.splitlines() if ln.startswith("> ")] == lines
    async with db.connection() as conn:
        cur = await conn.execute(
            """SELECT o.status, o.total, p.pix_code FROM orders o JOIN payments p ON p.order_id = o.id"""
        )
        [order] = await cur.fetchall()
        cur = await conn.execute("SELECT name FROM order_items ORDER BY id")
        items = [r["name"] for r in await cur.fetchall()]
    assert order["status"] == "awaiting_payment"
    assert any("Margherita" in i for i in items) and any("Coca" in i for i in items), items
    assert order["pix_code"] in done.stdout  # the customer got the code to pay with
