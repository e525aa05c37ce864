"""LangSmith traces carry the conversation's shape, never the customer's phone, e-mail, CPF, street or PIX code.

(A name in the customer's own words has no shape a mask could find; as a field, `name`, it is masked.)

With `LANGSMITH_TRACING=true` the real `langsmith` client sends a whole conversation's runs (registration, an
order, a PIX payment) to a loopback fake of LangSmith's ingestion API; what reached it is searched.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import langsmith
import pytest
from conftest import DEMO_MENU
from conversation_support import open_chat
from fakes.langsmith_api import fake_langsmith
from langsmith import utils as ls_utils
from test_log_privacy import CPF, EMAIL, NAME, OPEN_ALL_DAY, PHONE, SCRIPT, STREET, leaks, personal_data

from comanda.logs import configure_logging
from comanda.settings import Settings
from graph.runner import ConversationRunner
from memory.db import Pool
from memory.embeddings import Embedder
from memory.privacy import customer_ref, mask_langsmith_traces
from memory.repos import tenants as tenant_repo
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.payments.simulated import SimulatedPayments


@pytest.fixture
def set_up_as_our_processes(tmp_path: Path) -> Iterator[Callable[[], None]]:
    """Calls what `comanda serve` and `comanda worker` call at start (`configure_logging`); undone afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)

    def set_up() -> None:
        # langsmith caches what it read of the environment (earlier tests ran without LANGSMITH_TRACING)
        ls_utils.get_env_var.cache_clear()  # type: ignore[attr-defined]  # an lru_cache under typing overloads
        configure_logging(Settings(data_dir=tmp_path, _env_file=None), stream=io.StringIO())

    yield set_up
    ls_utils.get_env_var.cache_clear()  # type: ignore[attr-defined]
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    # the process's client points at the fake, gone after the test; later tests trace nothing (env restored)
    langsmith.configure(client=None)


async def test_a_traced_conversation_reaches_langsmith_masked_with_its_structure(
    db: Pool, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, set_up_as_our_processes: Callable[[], None]
) -> None:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        await conn.execute("UPDATE tenants SET hours = %s::jsonb", (OPEN_ALL_DAY,))
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    async with fake_langsmith() as (fake, base):
        monkeypatch.setenv("LANGSMITH_TRACING", "true")
        monkeypatch.setenv("LANGSMITH_ENDPOINT", base)
        monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2_pt_fake")
        monkeypatch.setenv("LANGSMITH_PROJECT", "comanda-test")
        set_up_as_our_processes()
        chat = await open_chat(db, PHONE, payments=SimulatedPayments(base, b"trace-secret"), public_base_url=base)
        assert isinstance(chat.runner, ConversationRunner)
        for text in [*SCRIPT, "sim"]:
            await chat.say(text)
        client = mask_langsmith_traces()
        assert client is not None
        # the client posts from its own thread to the fake served by this event loop
        await asyncio.to_thread(client.flush)
    # the data did flow through the turns: the customer gave it and got the PIX code back
    said = chat.dump()
    assert EMAIL in said and CPF in said and STREET in said, said
    async with db.connection() as conn:
        cur = await conn.execute("SELECT pix_code FROM payments")
        payment = await cur.fetchone()
    assert payment and payment["pix_code"] in said, said
    posted = fake.text()
    assert fake.runs and fake.api_keys == {"lsv2_pt_fake"}
    # a name has no shape to find in the customer's own words ("Joaquina Bezerra"): the trace keeps what was said
    hidden = [v for v in personal_data(payment["pix_code"]) if v not in (NAME, NAME.split()[0])]
    assert not leaks(posted, hidden), {v: posted[posted.find(v) - 150 :][:200] for v in hidden if v in posted}
    # ...and reached LangSmith masked, in the places it was: the customer's words, tool arguments, the thread id
    assert "<email>" in posted and "<cpf>" in posted and "<address>" in posted
    assert customer_ref(tenant.id, PHONE) in posted
    # the structure survives: the graph's nodes, the tools the agents called, the run metadata
    names = {run.get("name") for run in fake.runs.values()}
    steps = {"router", "registration", "update_registration", "cart", "add_to_cart", "checkout_summary"}
    assert steps <= names, sorted(map(str, names))
    # the registration tool's arguments are there, the personal ones masked
    registered = [json.dumps(r.get("inputs")) for r in fake.runs.values() if r.get("name") == "update_registration"]
    assert any('"***"' in inputs for inputs in registered), registered
    assert any(run.get("extra", {}).get("metadata", {}).get("tenant") == "demo" for run in fake.runs.values())
