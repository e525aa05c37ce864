"""Handoff: one open ticket per conversation, its summary and messages, and the operator's CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from tool_harness import call_tool, result
from typer.testing import CliRunner, Result

from comanda.cli_handoff import handoff_app
from graph.state import ConversationState
from memory.db import Pool
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import TenantFields
from tools.cart.models import Cart, CartLine
from tools.context import TurnContext
from tools.customers.models import CustomerInfo
from tools.handoff.service import TicketClosed, get_ticket, record_agent_reply, record_customer_message, resolve_ticket
from tools.handoff.tools import HANDOFF_TOOLS

PHONE = "+5511987654321"
runner = CliRunner()


@pytest.fixture
async def ctx(db: Pool) -> TurnContext:
    async with db.connection() as conn:
        tenant = await tenant_repo.insert(
            conn, TenantFields(slug="demo", name="Brasa & Forno", whatsapp="+5511900000000")
        )
    return TurnContext(pool=db, tenant=tenant, phone=PHONE)


def talking_state() -> ConversationState:
    cart = Cart(
        lines=[CartLine(line_id=1, sku="BG-XSALADA", name="X-Salada", qty=2, unit_price="31.90", line_total="63.80")],
        revision=1,
        next_line_id=2,
    )
    return ConversationState(
        customer=CustomerInfo(phone=PHONE, name="João Silva"),
        cart=cart,
        messages=[
            HumanMessage("oi, meu pedido de ontem veio frio"),
            AIMessage("Poxa, sinto muito! Quer que eu chame um atendente?"),
            HumanMessage("quero falar com uma pessoa"),
        ],
    )


async def run(ctx: TurnContext, state: ConversationState, **args: Any) -> tuple[ConversationState, dict[str, Any]]:
    new_state, messages = await call_tool(HANDOFF_TOOLS, "request_human", args, state=state, ctx=ctx)
    return new_state, result(messages)


async def open_tickets(db: Pool) -> int:
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM handoff_tickets WHERE status = 'open'")).fetchone()
    assert row is not None
    return int(row["n"])


async def test_request_human_twice_keeps_one_open_ticket_with_a_built_summary(ctx: TurnContext, db: Pool) -> None:
    state, res = await run(ctx, talking_state(), reason="complaint")
    assert res["kind"] == "handoff_opened" and not res["already_open"]
    assert state.handoff is True
    _, again = await run(ctx, talking_state(), reason="complaint", summary="customer insists")
    assert again["ticket_id"] == res["ticket_id"] and again["already_open"]
    assert await open_tickets(db) == 1

    ticket = await get_ticket(db, res["ticket_id"])
    assert ticket.thread_id == ctx.thread_id and ticket.phone == PHONE and ticket.reason == "complaint"
    # no summary from the model: who, the cart, and what the customer said
    assert "João Silva" in ticket.summary and "2x X-Salada" in ticket.summary
    assert "> quero falar com uma pessoa" in ticket.summary and "sinto muito" not in ticket.summary

    # after it is resolved, a new request opens a new ticket
    await resolve_ticket(db, ticket.id)
    _, third = await run(ctx, talking_state(), reason="asked for a human", summary="wants to change the address")
    assert third["ticket_id"] != ticket.id and not third["already_open"]
    assert (await get_ticket(db, third["ticket_id"])).summary == "wants to change the address"


async def test_messages_replies_and_resolution(ctx: TurnContext, db: Pool) -> None:
    _, res = await run(ctx, talking_state(), reason="complaint", summary="cold food")
    ticket = await record_customer_message(db, ctx.tenant.id, ctx.thread_id, "alguém aí?")
    assert ticket is not None and [m.sender for m in ticket.messages] == ["customer"]
    ticket = await record_agent_reply(db, res["ticket_id"], "Oi João, aqui é a Carla. Vou resolver!")
    assert [(m.sender, m.body) for m in ticket.messages][-1] == ("agent", "Oi João, aqui é a Carla. Vou resolver!")
    resolved = await resolve_ticket(db, res["ticket_id"])
    assert resolved.status == "resolved" and resolved.resolved_at is not None
    with pytest.raises(TicketClosed):
        await record_agent_reply(db, res["ticket_id"], "mais uma coisa")
    assert await record_customer_message(db, ctx.tenant.id, ctx.thread_id, "obrigado") is None


async def cli(args: list[str]) -> Result:
    """Run the CLI in a thread: it starts its own event loop."""
    return await asyncio.to_thread(lambda: runner.invoke(handoff_app, args))


@pytest.fixture
def cli_env(db: Pool, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COMANDA_MODEL", raising=False)


async def test_cli_list_show_reply_resolve(ctx: TurnContext, cli_env: None, db: Pool) -> None:
    _, res = await run(ctx, talking_state(), reason="complaint")
    ticket_id = str(res["ticket_id"])

    listed = await cli(["list", "--tenant", "demo"])
    assert listed.exit_code == 0, listed.output
    assert ticket_id in listed.output and "complaint" in listed.output and "João Silva" in listed.output
    as_json = json.loads((await cli(["list", "--tenant", "demo", "--json"])).output)
    assert [t["id"] for t in as_json] == [res["ticket_id"]]

    replied = await cli(["reply", ticket_id, "Oi João, já vou verificar."])
    assert replied.exit_code == 0, replied.output
    shown = await cli(["show", ticket_id])
    assert "agent: Oi João, já vou verificar." in shown.output and "> quero falar com uma pessoa" in shown.output

    resolved = await cli(["resolve", ticket_id])
    assert resolved.exit_code == 0 and "resolved" in resolved.output
    assert json.loads((await cli(["list", "--tenant", "demo", "--json"])).output) == []
    refused = await cli(["reply", ticket_id, "ainda aí?"])
    assert refused.exit_code == 1 and "already resolved" in refused.output
    assert (await cli(["show", "999"])).exit_code == 1
    assert (await get_ticket(db, res["ticket_id"])).status == "resolved"
