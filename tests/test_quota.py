"""A restaurant over its monthly conversation quota: new customers get a polite message and reach staff; usage shows."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import httpx
import pytest
from channel_support import PUBLIC, TOKEN, demo_tenant, post_signed, twilio_form
from conftest import DEMO_MENU
from redis.asyncio import Redis
from support import live_server
from test_metrics import scrape, value
from test_rate_limit import sent_to
from typer.testing import CliRunner

from comanda.cli import app
from memory.db import Conn, Pool
from memory.embeddings import Embedder
from memory.repos import handoffs, usage
from prompts import load_prompt_set
from server.app import Resources, create_app
from server.channels import ConsoleChannel
from server.queue import InboundQueue, QueueSettings, conversation_key
from server.tenants import TenantDirectory
from server.twilio_webhook import TwilioWebhookDeps
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

FIRST, SECOND, LATE = "+5511977770001", "+5511977770002", "+5511977770003"


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COMANDA_MODEL", raising=False)


async def test_over_quota_a_new_customer_is_told_politely_and_their_message_goes_to_staff(
    db: Pool, redis: Redis, embedder: Embedder, cli_env: None
) -> None:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    tenant = await demo_tenant(db)
    set_quota = await asyncio.to_thread(CliRunner().invoke, app, ["usage", "--tenant", "demo", "--set-quota", "2"])
    assert set_quota.exit_code == 0, set_quota.output
    queue = InboundQueue(redis, QueueSettings())
    deps = TwilioWebhookDeps(
        pool=db,
        queue=queue,
        auth_token=TOKEN,
        public_base_url=PUBLIC,
        tenants=TenantDirectory(db),
        notifier=ConsoleChannel(db),
    )
    async with (
        live_server(create_app(Resources(pool=db, redis=redis, twilio=deps))) as base,
        httpx.AsyncClient() as http,
    ):
        before = await scrape(http, base)
        for phone, text in [
            (FIRST, "oi"),
            (SECOND, "oi"),
            (FIRST, "quero uma pizza"),
            (LATE, "tem pizza de calabresa?"),
        ]:
            assert (await post_signed(http, base, twilio_form(text, phone=phone))).status_code == 200
        assert (await post_signed(http, base, twilio_form("alguém aí?", phone=LATE))).status_code == 200
        after = await scrape(http, base)

    # the two conversations the plan pays for go on (the first customer's second message included)
    assert len(await queue.pending(conversation_key(tenant.id, FIRST))) == 2
    assert len(await queue.pending(conversation_key(tenant.id, SECOND))) == 1
    # the third customer's messages reach a person, not the bot, and the customer is told once
    assert await queue.pending(conversation_key(tenant.id, LATE)) == []
    assert await sent_to(db, LATE) == [load_prompt_set().reply("limits.over_quota", tenant.locale)]
    async with db.connection() as conn:
        ticket = await handoffs.open_for_thread(conn, tenant.id, conversation_key(tenant.id, LATE))
        assert ticket is not None and ticket.reason == "over_quota"
        cur = await conn.execute("SELECT body FROM handoff_messages WHERE ticket_id = %s ORDER BY id", (ticket.id,))
        assert [r["body"] for r in await cur.fetchall()] == ["tem pizza de calabresa?", "alguém aí?"]
    over = "comanda_over_quota_messages_total"
    assert value(after, over, tenant="demo") - value(before, over, tenant="demo") == 2

    shown = await asyncio.to_thread(CliRunner().invoke, app, ["usage", "--tenant", "demo"])
    assert shown.exit_code == 0, shown.output
    assert "2 conversation(s), quota 2, 0 left" in shown.output
    async with db.connection() as conn:
        assert (await usage.month_usage(conn, tenant.id, (await _today(conn)))).conversations == 2


async def _today(conn: Conn) -> date:
    cur = await conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date AS d")
    row = await cur.fetchone()
    assert row is not None
    return row["d"]


def test_usage_of_an_unknown_restaurant_or_month_is_an_error(cli_env: None) -> None:
    assert CliRunner().invoke(app, ["usage", "--tenant", "nope"]).exit_code == 1
    assert CliRunner().invoke(app, ["usage", "--tenant", "demo", "--month", "11/2026"]).exit_code == 2
