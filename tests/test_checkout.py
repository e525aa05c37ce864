"""Checkout and order placement through the real tools, database and CLI: prices, change, idempotency, payments."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import DEMO_MENU
from tool_harness import call_tool, result
from typer.testing import CliRunner, Result

from comanda.cli_orders import orders_app
from graph.state import ConversationState
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import menu as menu_repo
from memory.repos import tenants as tenant_repo
from tools.cart.models import Cart, CartLine, ChosenOption
from tools.cart.pricing import unit_price
from tools.context import TurnContext
from tools.customers import service as customers
from tools.customers.models import AddressDraft, CustomerInfo, RegistrationDraft
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.orders.tools import PAYMENT_TOOLS
from tools.payments.provider import PaymentRequest, PaymentStart

PHONE = "+5511987654321"
FRIDAY_NIGHT = datetime(2025, 5, 16, 23, 0, tzinfo=UTC)  # 20:00 in São Paulo: the demo restaurant is open
runner = CliRunner()


class RecordingPix:
    """A PaymentProvider that hands out PIX codes and remembers every charge it was asked to start."""

    name = "testpay"

    def __init__(self, fail: bool = False) -> None:
        self.requests: list[PaymentRequest] = []
        self.fail = fail

    async def start(self, request: PaymentRequest) -> PaymentStart:
        self.requests.append(request)
        if self.fail:
            raise ConnectionError("provider unreachable")
        ref = f"ref-{request.order_id}-{len(self.requests)}"
        return PaymentStart(
            provider=self.name, provider_ref=ref, pix_code=f"000201PIX{ref}", pay_url=f"https://pay.test/{ref}"
        )


@pytest.fixture
async def ctx(db: Pool, embedder: Embedder) -> TurnContext:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    return TurnContext(pool=db, tenant=tenant, phone=PHONE, clock=lambda: FRIDAY_NIGHT)


async def registered(ctx: TurnContext) -> CustomerInfo:
    draft = RegistrationDraft(
        name="João Silva",
        address=AddressDraft(
            street="Rua das Flores",
            number="123",
            complement="Apto 45",
            neighborhood="Jardim Primavera",
            city="São Paulo",
            state="SP",
        ),
    )
    return await customers.confirm_registration(ctx.pool, ctx.tenant, PHONE, draft, None)


async def line(
    ctx: TurnContext,
    line_id: int,
    sku: str,
    qty: int,
    options: Sequence[tuple[str, str]] = (),
    removed: Sequence[str] = (),
) -> CartLine:
    async with ctx.pool.connection() as conn:
        item = await menu_repo.by_sku(conn, ctx.tenant.id, sku)
    assert item is not None
    deltas = {(g.group, c.name): c.price for g in item.options for c in g.choices}
    chosen = [ChosenOption(group=g, choice=c, price_delta=deltas[(g, c)]) for g, c in options]
    unit = unit_price(item, chosen)
    return CartLine(
        line_id=line_id,
        sku=sku,
        name=item.name,
        qty=qty,
        options=chosen,
        removed=list(removed),
        unit_price=unit,
        line_total=unit * qty,
    )


async def cart_state(ctx: TurnContext) -> ConversationState:
    """João (registered) with 1x X-Salada + bacon, sem cebola (R$ 37,90) and 1x Coca lata (R$ 7,00)."""
    customer = await registered(ctx)
    lines = [
        await line(ctx, 1, "BG-XSALADA", 1, [("Adicionais", "Bacon extra")], ["cebola"]),
        await line(ctx, 2, "BB-COCA-LATA", 1),
    ]
    return ConversationState(customer=customer, cart=Cart(lines=lines, revision=3, next_line_id=3))


async def run(
    ctx: TurnContext, state: ConversationState, tool_name: str, /, **args: Any
) -> tuple[ConversationState, dict[str, Any]]:
    new_state, messages = await call_tool(PAYMENT_TOOLS, tool_name, args, state=state, ctx=ctx)
    return new_state, result(messages)


async def count(db: Pool, table: str) -> int:
    async with db.connection() as conn:
        row = await (await conn.execute(f"SELECT count(*) AS n FROM {table}")).fetchone()
    assert row is not None
    return int(row["n"])


async def test_checkout_refuses_unregistered_customer_and_empty_cart(ctx: TurnContext) -> None:
    unknown = ConversationState(customer=CustomerInfo(phone=PHONE))
    _, res = await run(ctx, unknown, "checkout_summary")
    assert res["error"] == "not_registered"
    known = ConversationState(customer=await registered(ctx))
    _, res = await run(ctx, known, "checkout_summary")
    assert res["error"] == "empty_cart"
    _, res = await run(ctx, known, "place_order")
    assert res["error"] == "empty_cart"


async def test_summary_then_cash_with_change_then_order_placed_once(ctx: TurnContext, db: Pool) -> None:
    state = await cart_state(ctx)
    state, res = await run(ctx, state, "checkout_summary")
    assert res["kind"] == "checkout" and not res["ready"] and res["missing"] == ["payment_method"]
    assert res["lines"][0]["text"] == "1x X-Salada (Bacon extra; sem cebola) R$ 37,90"
    assert (res["subtotal_text"], res["delivery_fee_text"], res["total_text"]) == ("R$ 44,90", "R$ 7,50", "R$ 52,40")
    assert res["address_text"].startswith("Rua das Flores, 123, Apto 45 - Jardim Primavera")
    _, res = await run(ctx, state, "place_order")
    assert res["error"] == "missing_field" and res["fields"] == ["payment_method"]

    # "troco para 20": less than the total
    _, res = await run(ctx, state, "set_payment_method", method="cash", change_for="20")
    assert res["error"] == "invalid_field" and res["fields"] == ["change_for"] and "R$ 52,40" in res["message"]
    # "troco para 100"
    state, res = await run(ctx, state, "set_payment_method", method="cash", change_for="100")
    assert res["kind"] == "checkout" and res["ready"] and res["change_for_text"] == "R$ 100,00"
    assert state.checkout.awaiting_confirmation and state.awaiting == "payment.confirm"
    before = state

    state, res = await run(ctx, state, "place_order")
    assert res["kind"] == "order_placed" and res["status"] == "placed"
    assert res["total_text"] == "R$ 52,40" and res["change_text"] == "R$ 47,60"
    assert state.cart.is_empty and state.cart.revision == 4
    assert state.order is not None and state.order.id == res["order_id"] and state.checkout.payment_method is None

    # the same turn replayed (worker died after placing): the same order, nothing new
    _, again = await run(ctx, before, "place_order")
    assert again["order_id"] == res["order_id"]
    assert (
        await count(db, "orders") == 1
        and await count(db, "order_items") == 2
        and await count(db, "outbox WHERE event_type LIKE 'order.%'") == 1
    )

    async with db.connection() as conn:
        event = await (
            await conn.execute("SELECT event_type, payload FROM outbox WHERE event_type LIKE 'order.%'")
        ).fetchone()
    assert event is not None and event["event_type"] == "order.placed"
    payload = event["payload"]
    assert payload["customer"] == {
        "id": state.customer.id if state.customer else None,
        "name": "João Silva",
        "phone": PHONE,
    }
    assert payload["total"] == "52.40" and payload["change_for"] == "100.00" and payload["payment_method"] == "cash"
    assert payload["lines"][0]["options"] == [{"group": "Adicionais", "choice": "Bacon extra", "price_delta": "6.00"}]
    assert payload["lines"][0]["removed"] == ["cebola"] and payload["address"]["street"] == "Rua das Flores"

    _, status = await run(ctx, state, "order_status")
    assert status["kind"] == "order_status" and status["status"] == "placed"
    assert status["summary"] == "1x X-Salada, 1x Coca-Cola lata 350ml"
    async with db.connection() as conn:
        known = await customers.identify_customer(conn, ctx.tenant.id, PHONE)
    assert known.last_order is not None and known.last_order.summary == "1x X-Salada, 1x Coca-Cola lata 350ml"


async def test_place_order_needs_the_customer_to_confirm(ctx: TurnContext, db: Pool) -> None:
    state = await cart_state(ctx)
    state = state.model_copy(update={"checkout": state.checkout.model_copy(update={"payment_method": "cash"})})
    _, res = await run(ctx, state, "place_order")
    assert res["error"] == "not_confirmed"
    assert await count(db, "orders") == 0


async def test_order_uses_the_database_price_at_placement(ctx: TurnContext, db: Pool) -> None:
    state = await cart_state(ctx)
    state, _ = await run(ctx, state, "set_payment_method", method="cash")
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE menu_items SET price = 33.90 WHERE tenant_id = %s AND sku = 'BG-XSALADA'", (ctx.tenant.id,)
        )
    state, res = await run(ctx, state, "place_order")
    assert res["total"] == "54.40"  # 33.90 + 6.00 bacon + 7.00 coca + 7.50 delivery
    async with db.connection() as conn:
        rows = await (
            await conn.execute("SELECT sku, unit_price, options, removed FROM order_items ORDER BY position")
        ).fetchall()
    assert rows[0]["sku"] == "BG-XSALADA" and rows[0]["unit_price"] == Decimal("39.90")
    assert rows[0]["options"] == [{"group": "Adicionais", "choice": "Bacon extra", "price_delta": "6.00"}]
    assert rows[0]["removed"] == ["cebola"]
    assert rows[1]["sku"] == "BB-COCA-LATA" and rows[1]["options"] == [] and rows[1]["removed"] == []


async def test_pix_order_awaits_payment_and_starts_one_charge(ctx: TurnContext, db: Pool) -> None:
    provider = RecordingPix()
    ctx.payments = provider
    state = await cart_state(ctx)
    _, res = await run(ctx, state, "set_payment_method", method="pix", change_for="100")
    assert res["change_for"] is None  # change is for cash only
    state, _ = await run(ctx, state, "set_payment_method", method="pix")
    before = state
    state, res = await run(ctx, state, "place_order")
    assert res["status"] == "awaiting_payment" and not res["payment_failed"]
    assert res["pix_code"].startswith("000201") and res["pay_url"].startswith("https://pay.test/")
    assert provider.requests[0].amount == Decimal("52.40") and provider.requests[0].method == "pix"
    assert provider.requests[0].customer_phone == PHONE
    assert state.order is not None and state.order.pix_code == res["pix_code"]

    _, again = await run(ctx, before, "place_order")
    assert again["order_id"] == res["order_id"] and again["pix_code"] == res["pix_code"]
    assert len(provider.requests) == 1
    assert (
        await count(db, "orders") == 1
        and await count(db, "payments") == 1
        and await count(db, "outbox WHERE event_type LIKE 'order.%'") == 1
    )
    async with db.connection() as conn:
        pay = await (await conn.execute("SELECT provider, method, amount, status FROM payments")).fetchone()
    assert pay == {"provider": "testpay", "method": "pix", "amount": Decimal("52.40"), "status": "pending"}

    _, status = await run(ctx, state, "order_status")
    assert status["status"] == "awaiting_payment" and status["payment_status"] == "pending"
    assert status["pay_url"] == res["pay_url"]


async def test_payment_failure_keeps_the_order_and_cash_can_replace_it(ctx: TurnContext, db: Pool) -> None:
    ctx.payments = RecordingPix(fail=True)
    state = await cart_state(ctx)
    state, _ = await run(ctx, state, "set_payment_method", method="card")
    state, res = await run(ctx, state, "place_order")
    assert res["kind"] == "order_placed" and res["payment_failed"] and res["status"] == "awaiting_payment"
    assert res["message"] and state.awaiting == "payment.retry"
    assert await count(db, "payments") == 0

    state, res = await run(ctx, state, "set_payment_method", method="cash", change_for="60")
    assert res["kind"] == "order_placed" and res["status"] == "placed" and res["payment_method"] == "cash"
    assert res["change_text"] == "R$ 7,60" and state.order is not None and state.order.status == "placed"
    assert await count(db, "orders") == 1


async def cli(args: list[str]) -> Result:
    """Run the CLI in a thread: it starts its own event loop."""
    return await asyncio.to_thread(lambda: runner.invoke(orders_app, args))


@pytest.fixture
def cli_env(db: Pool, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COMANDA_MODEL", raising=False)


async def test_cli_lists_and_shows_orders(ctx: TurnContext, cli_env: None) -> None:
    state = await cart_state(ctx)
    state, _ = await run(ctx, state, "set_payment_method", method="cash", change_for="100")
    _, placed = await run(ctx, state, "place_order")
    order_id = str(placed["order_id"])

    listed = await cli(["list", "--tenant", "demo"])
    assert listed.exit_code == 0, listed.output
    assert order_id in listed.output and "João Silva" in listed.output and "R$ 52,40" in listed.output
    as_json = json.loads((await cli(["list", "--tenant", "demo", "--json"])).output)
    assert [o["id"] for o in as_json] == [placed["order_id"]] and as_json[0]["total"] == "52.40"

    shown = await cli(["show", order_id, "--tenant", "demo"])
    assert shown.exit_code == 0, shown.output
    for text in ("X-Salada", "Bacon extra", "sem cebola", "R$ 44,90", "R$ 7,50", "R$ 52,40", "Rua das Flores, 123"):
        assert text in shown.output, text
    assert "cash" in shown.output and "R$ 100,00" in shown.output and "R$ 47,60" in shown.output
    async with ctx.pool.connection() as conn:
        row = await (await conn.execute("SELECT created_at FROM orders")).fetchone()
    assert row is not None
    local = row["created_at"].astimezone(ZoneInfo("America/Sao_Paulo"))
    assert local.strftime("%d/%m/%Y %H:%M") in shown.output  # in the restaurant's time zone
    detail = json.loads((await cli(["show", order_id, "--tenant", "demo", "--json"])).output)
    assert detail["lines"][0]["removed"] == ["cebola"] and detail["address"]["neighborhood"] == "Jardim Primavera"

    missing = await cli(["show", "999", "--tenant", "demo"])
    assert missing.exit_code == 1
