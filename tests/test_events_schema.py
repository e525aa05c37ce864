"""The POS event contract: exported JSON Schemas match the models, and customer events reach the outbox."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import jsonschema
import pytest
from conftest import DEMO_MENU, ROOT
from tool_harness import call_tool, result

from graph.state import ConversationState
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import outbox as outbox_repo
from memory.repos import tenants as tenant_repo
from tools.context import TurnContext
from tools.customers.models import CustomerInfo
from tools.customers.tools import REGISTRATION_TOOLS
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.pos.events import SCHEMA_DIR, render, schema_text, schemas

PHONE = "+5511987654321"


def test_exported_schemas_are_the_models_schemas() -> None:
    expected = schemas()
    on_disk = {p.name for p in SCHEMA_DIR.glob("*.json")}
    assert on_disk == set(expected), "docs/events/ has stale or missing files: run python -m tools.pos.events --write"
    for name, schema in expected.items():
        assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == schema_text(schema), (
            f"docs/events/{name} is stale: run python -m tools.pos.events --write"
        )
    for event in ("order.placed", "order.paid", "order.status_changed", "customer.created", "customer.updated"):
        assert f"{event}.v1.json" in on_disk


def test_the_check_command_passes_on_the_committed_schemas() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.pos.events", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_schema_refuses_what_the_contract_forbids() -> None:
    placed = (SCHEMA_DIR / "order.placed.v1.json").read_text()
    schema = __import__("json").loads(placed)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "order.placed", "event_id": "x"}, schema)


@pytest.fixture
async def ctx(db: Pool, embedder: Embedder) -> TurnContext:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    return TurnContext(pool=db, tenant=tenant, phone=PHONE)


async def run(ctx: TurnContext, state: ConversationState, name: str, /, **args: Any) -> ConversationState:
    new_state, messages = await call_tool(REGISTRATION_TOOLS, name, args, state=state, ctx=ctx)
    assert "error" not in result(messages), result(messages)
    return new_state


async def customer_events(ctx: TurnContext) -> list[dict[str, Any]]:
    async with ctx.pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM outbox WHERE event_type LIKE 'customer.%%' ORDER BY id")
        ids = [r["id"] for r in await cur.fetchall()]
        rows = [e for e in await outbox_repo.listing(conn, limit=100) if e.id in ids]
    rows.sort(key=lambda e: e.id)
    out = []
    for row in rows:
        event = render(row, ctx.tenant.slug, None).model_dump(mode="json")
        jsonschema.validate(event, __import__("json").loads((SCHEMA_DIR / f"{row.event_type}.v1.json").read_text()))
        out.append(event)
    return out


async def test_registration_and_data_changes_write_customer_events_once(ctx: TurnContext) -> None:
    state = ConversationState(customer=CustomerInfo(phone=PHONE))
    state = await run(ctx, state, "update_registration", name="João Silva")
    state = await run(ctx, state, "update_registration", street="Rua das Flores", number="123", neighborhood="Centro")
    state = await run(ctx, state, "update_registration", no_email=True)
    state = await run(ctx, state, "confirm_registration")
    state = await run(ctx, state, "confirm_registration")  # a replayed confirmation is not news
    [created] = await customer_events(ctx)
    assert created["type"] == "customer.created" and created["store"] == "demo"
    assert created["customer"]["name"] == "João Silva" and created["customer"]["phone"] == PHONE
    assert created["customer"]["default_address"]["street"] == "Rua das Flores"

    state = await run(ctx, state, "update_customer", email="joao@example.com")
    state = await run(ctx, state, "update_customer", email="joao@example.com")  # same data: nothing new
    events = await customer_events(ctx)
    assert [e["type"] for e in events] == ["customer.created", "customer.updated"]
    assert events[1]["changed"] == ["email"] and events[1]["customer"]["email"] == "joao@example.com"
    assert events[0]["event_id"] != events[1]["event_id"]
