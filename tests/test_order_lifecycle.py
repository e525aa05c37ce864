"""An order's life after checkout: the state machine, its outbox events, the customer's messages, staff commands."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conversation_support import demo_customer, open_chat
from typer.testing import CliRunner, Result

from comanda.cli_orders import orders_app
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import orders as order_repo
from memory.repos import outbound
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import Tenant, TenantFields
from prompts import catalog
from server.channels import ConsoleChannel
from server.jobs import JobDeps, run_jobs
from tools.orders import lifecycle
from tools.orders.lifecycle import IllegalTransition, OrderNotFound
from tools.orders.notify import tell_untold

CUSTOMER = "+5511987654321"
runner = CliRunner()


@dataclass
class Shop:
    pool: Pool
    tenant: Tenant
    customer_id: int

    async def order(self, *, method: str = "cash", status: str = "placed", locale: str | None = "pt-BR") -> int:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    """INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method,
                                           subtotal, delivery_fee, total, address, locale)
                       VALUES (%s, %s, gen_random_uuid()::text, %s, %s, 40.00, 5.00, 45.00, '{}', %s)
                       RETURNING id""",
                    (self.tenant.id, self.customer_id, status, method, locale),
                )
            ).fetchone()
        assert row is not None
        return int(row["id"])

    async def status(self, order_id: int) -> str:
        async with self.pool.connection() as conn:
            order = await order_repo.by_id(conn, self.tenant.id, order_id)
        assert order is not None
        return order.status

    async def events(self, order_id: int) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT event_type, payload FROM outbox WHERE tenant_id = %s AND aggregate_id = %s ORDER BY id",
                (self.tenant.id, order_id),
            )
            return list(await cur.fetchall())

    async def sent(self) -> list[str]:
        async with self.pool.connection() as conn:
            return [m.body for m in await outbound.list_for_phone(conn, self.tenant.id, CUSTOMER)]


@pytest.fixture
async def shop(db: Pool) -> Shop:
    async with db.connection() as conn:
        tenant = await tenant_repo.insert(
            conn, TenantFields(slug="nona", name="Cantina da Nona", whatsapp="+5511900000001")
        )
        row = await (
            await conn.execute(
                "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, 'Ana') RETURNING id",
                (tenant.id, CUSTOMER),
            )
        ).fetchone()
    assert row is not None
    return Shop(db, tenant, int(row["id"]))


@pytest.fixture
def cli_env(db: Pool, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COMANDA_MODEL", raising=False)
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)


async def cli(*args: str) -> Result:
    """The real CLI in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(lambda: runner.invoke(orders_app, list(args)))


async def test_staff_walk_a_cash_order_to_delivered_and_the_customer_hears_each_step(shop: Shop, cli_env: None) -> None:
    order_id = await shop.order(method="cash")
    for expected in ("preparing", "out_for_delivery", "delivered"):
        moved = await cli("advance", str(order_id), "--tenant", "nona")
        assert moved.exit_code == 0, moved.output
        assert f"→ {expected}" in moved.output
        assert await shop.status(order_id) == expected
    assert await shop.sent() == [
        catalog.text(f"order.notify.{s}", "pt-BR", order_id=order_id)
        for s in ("preparing", "out_for_delivery", "delivered")
    ]
    assert "saiu para entrega 🛵" in (await shop.sent())[1]
    events = await shop.events(order_id)
    assert [e["event_type"] for e in events] == ["order.preparing", "order.out_for_delivery", "order.delivered"]
    assert events[0]["payload"]["from"] == "placed" and events[0]["payload"]["actor"] == "staff:cli"
    # a delivered order has nowhere to go: refused, nothing written, nobody told
    again = await cli("advance", str(order_id), "--tenant", "nona")
    assert again.exit_code == 1 and "delivered" in again.output
    assert len(await shop.events(order_id)) == 3 and len(await shop.sent()) == 3
    shown = await cli("show", str(order_id), "--tenant", "nona")
    assert "out_for_delivery → delivered by staff:cli" in shown.output


async def test_illegal_moves_are_refused_with_a_typed_error_and_change_nothing(shop: Shop) -> None:
    order_id = await shop.order(method="pix", status="awaiting_payment")
    channel = ConsoleChannel(shop.pool)
    with pytest.raises(IllegalTransition) as refused:
        await lifecycle.transition(shop.pool, shop.tenant.id, order_id, "delivered", actor="staff:x", notifier=channel)
    assert (refused.value.from_state, refused.value.to_state) == ("awaiting_payment", "delivered")
    # "advance" won't mark an unpaid order paid by itself
    with pytest.raises(IllegalTransition, match="--to paid"):
        await lifecycle.advance(shop.pool, shop.tenant.id, order_id, actor="staff:x")
    with pytest.raises(OrderNotFound):
        await lifecycle.advance(shop.pool, shop.tenant.id + 1, order_id, actor="staff:x")
    assert await shop.status(order_id) == "awaiting_payment"
    assert await shop.events(order_id) == [] and await shop.sent() == []


async def test_pix_order_paid_by_hand_then_cancelled_with_a_reason(shop: Shop, cli_env: None) -> None:
    order_id = await shop.order(method="pix", status="awaiting_payment")
    refused = await cli("advance", str(order_id), "--tenant", "nona")
    assert refused.exit_code == 1 and "--to paid" in refused.output
    paid = await cli("advance", str(order_id), "--tenant", "nona", "--to", "paid", "--reason", "paid at the counter")
    assert paid.exit_code == 0, paid.output
    cancelled = await cli("cancel", str(order_id), "--tenant", "nona", "--reason", "out of cheese")
    assert cancelled.exit_code == 0, cancelled.output
    assert await shop.status(order_id) == "cancelled"
    [_, cancel_event] = await shop.events(order_id)
    assert cancel_event["event_type"] == "order.cancelled" and cancel_event["payload"]["reason"] == "out of cheese"
    assert (await shop.sent())[-1] == catalog.text("order.notify.cancelled", "pt-BR", order_id=order_id)
    bad = await cli("advance", str(order_id), "--tenant", "nona", "--to", "shipped")
    assert bad.exit_code == 2 and "not an order state" in bad.output


async def test_the_same_move_three_times_at_once_is_made_once(shop: Shop) -> None:
    order_id = await shop.order(method="pix", status="awaiting_payment")
    channel = ConsoleChannel(shop.pool)
    moves = await asyncio.gather(
        *(
            lifecycle.transition(shop.pool, shop.tenant.id, order_id, "paid", actor="asaas", notifier=channel)
            for _ in range(3)
        )
    )
    assert sorted(m.changed for m in moves) == [False, False, True]
    assert [e["event_type"] for e in await shop.events(order_id)] == ["order.paid"]
    assert len(await shop.sent()) == 1


async def test_customers_hear_about_their_order_in_their_language(shop: Shop) -> None:
    order_id = await shop.order(method="cash", locale="en")
    await lifecycle.advance(shop.pool, shop.tenant.id, order_id, actor="pos", notifier=ConsoleChannel(shop.pool))
    assert await shop.sent() == [f"Your order *#{order_id}* is being prepared 👨‍🍳"]


async def test_a_move_made_without_a_channel_is_told_later_exactly_once(shop: Shop) -> None:
    order_id = await shop.order(method="cash")
    await lifecycle.advance(shop.pool, shop.tenant.id, order_id, actor="pos")  # e.g. a crash before sending
    assert await shop.sent() == []
    channel = ConsoleChannel(shop.pool)
    told = await asyncio.gather(tell_untold(shop.pool, channel), tell_untold(shop.pool, channel))
    assert sum(told) >= 1
    assert await shop.sent() == [catalog.text("order.notify.preparing", "pt-BR", order_id=order_id)]
    assert await tell_untold(shop.pool, channel) == 0


# --- the customer asks -------------------------------------------------------------------------------------------


@pytest.fixture
async def demo(db: Pool, embedder: Embedder) -> Shop:
    """The demo restaurant with a registered customer and the graph's own tools and offline model."""
    tenant, customer_id = await demo_customer(db, embedder, CUSTOMER)
    return Shop(db, tenant, customer_id)


async def test_where_is_my_order_answers_in_words_and_how_long_ago(demo: Shop) -> None:
    order_id = await demo.order(method="cash")
    await lifecycle.advance(demo.pool, demo.tenant.id, order_id, actor="pos")
    chat = await open_chat(demo.pool, CUSTOMER)
    reply = await chat.say("cadê meu pedido?")
    assert reply == catalog.text(
        "order.status", "pt-BR", order_id=order_id, state="sendo preparado", ago="agora há pouco"
    ), chat.dump()
    reply = await chat.say("where is my order?")
    assert reply == f"Your order *#{order_id}* is *being prepared* (updated just now).", chat.dump()


async def test_cancel_my_order_cancels_an_unpaid_order(demo: Shop) -> None:
    order_id = await demo.order(method="pix", status="awaiting_payment")
    chat = await open_chat(demo.pool, CUSTOMER)
    reply = await chat.say("cancela meu pedido")
    assert reply == catalog.text("order.cancelled", "pt-BR", order_id=order_id), chat.dump()
    assert await demo.status(order_id) == "cancelled"
    [event] = await demo.events(order_id)
    assert event["event_type"] == "order.cancelled" and event["payload"]["actor"] == "customer"
    again = await chat.say("cancela meu pedido")
    assert again == catalog.text("order.already_cancelled", "pt-BR", order_id=order_id), chat.dump()


async def test_cancel_after_the_kitchen_started_goes_to_a_person(demo: Shop) -> None:
    order_id = await demo.order(method="cash")
    await lifecycle.advance(demo.pool, demo.tenant.id, order_id, actor="pos")
    chat = await open_chat(demo.pool, CUSTOMER)
    reply = await chat.say("quero cancelar meu pedido")
    assert reply == catalog.text("order.cancel_too_late", "pt-BR", order_id=order_id, state="sendo preparado"), (
        chat.dump()
    )
    assert await demo.status(order_id) == "preparing"
    assert await chat.runner.is_paused(chat.ctx)
    async with demo.pool.connection() as conn:
        ticket = await (
            await conn.execute("SELECT status, summary FROM handoff_tickets WHERE tenant_id = %s", (demo.tenant.id,))
        ).fetchone()
    assert ticket is not None and ticket["status"] == "open" and f"#{order_id}" in ticket["summary"]


# --- unpaid PIX: one reminder, then expiry, on Postgres-backed jobs ----------------------------------------------


async def _age(shop: Shop, order_id: int, minutes: int) -> None:
    async with shop.pool.connection() as conn:
        await conn.execute(
            "UPDATE orders SET status_changed_at = now() - make_interval(mins => %s) WHERE id = %s", (minutes, order_id)
        )


async def _until(check: Any) -> None:
    async with asyncio.timeout(20):
        while not await check():  # noqa: ASYNC110 - the database has no event to wait on
            await asyncio.sleep(0.2)


async def test_unpaid_pix_gets_one_reminder_then_expires_once_across_worker_restarts(
    shop: Shop, database_url: str
) -> None:
    order_id = await shop.order(method="pix", status="awaiting_payment")
    cash_id = await shop.order(method="cash")  # not waiting for a PIX: never reminded nor expired
    await _age(shop, order_id, 21)  # the default expiry is 30 min: the reminder is due at 20
    await _age(shop, cash_id, 300)
    deps = JobDeps(pool=shop.pool, notifier=ConsoleChannel(shop.pool))

    async def workers(n: int, check: Any, linger: float) -> None:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(run_jobs(database_url, deps, stop, cron="* * * * * *", name=f"w{i}")) for i in range(n)
        ]
        try:
            await _until(check)
            await asyncio.sleep(linger)  # more ticks: nothing may happen twice
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    async def reminded() -> bool:
        return len(await shop.sent()) >= 1

    await workers(1, reminded, 1.5)
    expected_reminder = catalog.text("order.pix_reminder", "pt-BR", order_id=order_id, total="R$ 45,00", minutes=9)
    assert await shop.sent() == [expected_reminder]

    await _age(shop, order_id, 31)  # restarted workers, two of them, after the expiry

    async def cancelled() -> bool:
        return await shop.status(order_id) == "cancelled"

    await workers(2, cancelled, 2.5)
    assert await shop.sent() == [expected_reminder, catalog.text("order.notify.expired", "pt-BR", order_id=order_id)]
    assert [e["event_type"] for e in await shop.events(order_id)] == ["order.cancelled"]
    assert await shop.status(cash_id) == "placed"
