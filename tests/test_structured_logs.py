"""Structured JSON logs: a tool that crashes mid-turn leaves an ERROR line naming the turn, masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from channel_support import demo_tenant, post_signed, running_worker, twilio_form, wait_traces, webhook_app
from conftest import DEMO_MENU
from redis.asyncio import Redis
from support import live_server

from comanda.logs import MASK, configure_logging
from comanda.settings import Settings
from memory.db import Pool
from memory.embeddings import Embedder
from memory.privacy import customer_ref
from prompts import load_prompt_set
from server.queue import QueueSettings, conversation_key
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

PHONE = "+5511987650777"


@pytest.fixture
def log_lines(tmp_path: Path) -> Iterator[io.StringIO]:
    """Our processes' logging as `comanda serve` configures it (JSON), written to a buffer; undone afterwards."""
    root = logging.getLogger()
    level = root.level
    out = io.StringIO()
    handler = configure_logging(Settings(data_dir=tmp_path, log_format="json", secret_key="k"), stream=out)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for h in root.handlers:
            h.removeFilter(MASK)


@pytest.fixture
async def api(db: Pool, redis: Redis, embedder: Embedder) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with live_server(webhook_app(db, redis)) as base, httpx.AsyncClient() as http:
        yield http, base


async def test_a_crashing_tool_logs_an_error_line_with_the_turns_ids_and_its_exception(
    api: tuple[httpx.AsyncClient, str], db: Pool, redis: Redis, log_lines: io.StringIO
) -> None:
    http, base = api
    tenant = await demo_tenant(db)
    async with db.connection() as conn:
        # a real failure inside the tool: its query meets a table that isn't there
        await conn.execute("ALTER TABLE menu_items RENAME TO menu_items_away")
    form = twilio_form("tem algo vegetariano?", phone=PHONE)
    try:
        async with running_worker(db, redis, QueueSettings(coalesce_window_ms=0)):
            assert (await post_signed(http, base, form)).status_code == 200
            [trace] = await wait_traces(redis, conversation_key(tenant.id, PHONE), 1)
    finally:
        async with db.connection() as conn:
            await conn.execute("ALTER TABLE menu_items_away RENAME TO menu_items")
    assert load_prompt_set().reply("error.internal", "pt-BR") in trace.replies  # the customer got the apology
    text = log_lines.getvalue()
    lines: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines()]  # every line is one object
    errors = [line for line in lines if line["level"] == "error" and "menu_items" in line.get("exception", "")]
    assert errors, text[-3000:]
    error = errors[0]
    assert error["tenant"] == "demo"
    assert error["conversation"] == customer_ref(tenant.id, PHONE)
    assert error["message_sid"] == form["MessageSid"]
    assert error["turn_id"] and "Traceback" in error["exception"]
    assert PHONE not in text and PHONE.lstrip("+") not in text
