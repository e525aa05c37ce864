"""Orders reach the kitchen and the kitchen answers: a conversation's order and payment arrive on the store's FIFO
queue (moto's server, the real boto3 client), and the POS's status updates come back through the order state
machine, telling the customer each step. Plus what the embedded mode shows without AWS."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import DEMO_MENU
from conversation_support import demo_customer, open_chat
from fastapi import FastAPI
from redis.asyncio import Redis
from relay_support import Moto, Store, assert_contract, fast_settings, fifo_queue, make_store, receive_all, sqs
from support import live_app
from typer.testing import CliRunner

from comanda.cli import app
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import orders as order_repo
from memory.repos import outbound, pos_updates
from memory.repos import outbox as outbox_repo
from memory.repos import tenants as tenant_repo
from prompts import catalog
from server.app import Resources, create_app
from server.channels import ConsoleChannel
from server.payments import PaymentDeps
from server.relay import OutboxRelay, StoreQueues
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.payments.simulated import SimulatedPayments

# the moto server fixture
pytest_plugins = ("relay_support",)
SECRET = b"relay-pos-secret"
runner = CliRunner()


def pos_says(moto: Moto, url: str, store: str, order_id: int, status: str, **extra: Any) -> str:
    """The POS sends a status update on the store's status queue; its update id."""
    update_id = extra.pop("update_id", None) or uuid.uuid4().hex
    body = json.dumps({"update_id": update_id, "order_id": order_id, "status": status, **extra})
    sqs(moto).send_message(QueueUrl=url, MessageBody=body, MessageGroupId=store, MessageDeduplicationId=update_id)
    return update_id


async def order_status(pool: Pool, tenant_id: int, order_id: int) -> str:
    async with pool.connection() as conn:
        order = await order_repo.by_id(conn, tenant_id, order_id)
    assert order is not None
    return order.status


async def wait_for(check: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def test_a_paid_conversation_order_reaches_the_kitchen_and_the_kitchen_walks_it_to_delivered(
    db: Pool, embedder: Embedder, redis: Redis, moto: Moto
) -> None:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    orders_url, status_url = fifo_queue(moto, "demo-pedidos"), fifo_queue(moto, "demo-status")
    async with db.connection() as conn:
        await outbox_repo.set_sqs_settings(conn, tenant.id, {"queue_url": orders_url, "status_queue_url": status_url})
    channel = ConsoleChannel(db)

    def make_app(base: str) -> FastAPI:
        return create_app(Resources(pool=db, redis=redis, payments=PaymentDeps(db, channel, SECRET, base)))

    async with live_app(make_app) as base:
        chat = await open_chat(db, "+5511999990001", payments=SimulatedPayments(base, SECRET), public_base_url=base)
        for text in ("oi", "João Silva", "Rua das Flores, 123, Apto 45, Jardim Primavera", "pular", "sim"):
            await chat.say(text)
        await chat.say("quero 1 pizza margherita grande sem manjericão e 2 sucos de laranja")
        await chat.say("fechar pedido")
        await chat.say("pix")
        reply = await chat.say("sim")
        [link] = re.findall(r"https?://\S+/pay/\S+", reply) or [None]
        assert link, chat.dump()
        async with httpx.AsyncClient(follow_redirects=True) as http:
            page = await http.get(link)
            sig = re.search(r'name="sig" value="([^"]+)"', page.text)
            assert sig, page.text[:300]
            assert (await http.post(link.split("?")[0], data={"sig": sig.group(1)})).status_code == 200

    stop = asyncio.Event()
    relay = OutboxRelay(db, fast_settings(moto), channel)
    running = asyncio.create_task(relay.run(stop))
    try:
        got = await asyncio.to_thread(receive_all, moto, orders_url, expect=3)
        events = [m["event"] for m in got]
        assert [e["type"] for e in events] == ["customer.created", "order.placed", "order.paid"], events
        for m in got:
            assert m["Attributes"]["MessageGroupId"] == "demo"
            assert m["Attributes"]["MessageDeduplicationId"] == m["event"]["event_id"]
            assert_contract(m["event"])
        placed, paid = events[1], events[2]
        order_id = placed["order"]["order_id"]
        pizza = next(ln for ln in placed["order"]["lines"] if "Margherita" in ln["name"])
        assert pizza["removed"] and any(o["choice"] == "Grande" for o in pizza["options"])
        assert placed["order"]["total"] == "101.50" and placed["order"]["payment_method"] == "pix"
        assert placed["order"]["address"]["street"] == "Rua das Flores"
        assert paid["order"]["status"] == "paid" and paid["payment"]["amount"] == "101.50"

        async with db.connection() as conn:
            before = len(await outbound.list_for_phone(conn, tenant.id, chat.ctx.phone))
        for step in ("preparing", "out_for_delivery", "delivered"):
            pos_says(moto, status_url, "demo", order_id, step)

            async def moved(step: str = step) -> bool:
                return await order_status(db, tenant.id, order_id) == step

            await wait_for(moved)
        async with db.connection() as conn:
            told = [m.body for m in await outbound.list_for_phone(conn, tenant.id, chat.ctx.phone)][before:]
        assert told == [
            catalog.text(f"order.notify.{s}", "pt-BR", order_id=order_id)
            for s in ("preparing", "out_for_delivery", "delivered")
        ]
        # and the kitchen hears the moves it made, as events by "pos"
        moves = await asyncio.to_thread(receive_all, moto, orders_url, expect=3)
        assert [(m["event"]["to_status"], m["event"]["actor"]) for m in moves] == [
            ("preparing", "pos"),
            ("out_for_delivery", "pos"),
            ("delivered", "pos"),
        ]
        # every status message was deleted once applied
        left = sqs(moto).get_queue_attributes(QueueUrl=status_url, AttributeNames=["All"])["Attributes"]
        assert left["ApproximateNumberOfMessages"] == "0" and left["ApproximateNumberOfMessagesNotVisible"] == "0"
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=15)


@pytest.fixture
async def store(db: Pool) -> Store:
    return await make_store(db, "nona", "+5511900000001")


async def test_unknown_orders_illegal_moves_and_garbage_are_dead_lettered_and_the_queue_keeps_draining(
    store: Store, moto: Moto, db: Pool
) -> None:
    status_url = fifo_queue(moto, "nona-status")
    await store.configure(None, status_url)
    order_id = await store.place()  # cash: placed
    pos_says(moto, status_url, "nona", 999_999, "preparing")
    pos_says(moto, status_url, "nona", order_id, "delivered")  # placed → delivered skips the kitchen
    sqs(moto).send_message(
        QueueUrl=status_url, MessageBody="{not json", MessageGroupId="nona", MessageDeduplicationId="garbage"
    )
    pos_says(moto, status_url, "nona", order_id, "rejected")  # no reason given: still a reason for the customer
    channel = ConsoleChannel(db)
    relay = OutboxRelay(db, fast_settings(moto), channel)
    queues = StoreQueues(status_queue_url=status_url)
    handled = 0
    deadline = time.monotonic() + 20
    while handled < 4 and time.monotonic() < deadline:
        handled += await relay.consume_once(store.tenant.id, queues)
    assert handled == 4
    async with db.connection() as conn:
        dead = sorted(await pos_updates.dead_letters(conn, store.tenant.id), key=lambda d: d.id)
        sent = [m.body for m in await outbound.list_for_phone(conn, store.tenant.id, store.phone)]
    assert [d.order_id for d in dead] == [999_999, order_id, None]
    assert "no order 999999" in dead[0].reason
    assert "placed" in dead[1].reason and "delivered" in dead[1].reason
    assert dead[2].reason.startswith("unreadable status update") and dead[2].body == "{not json"
    # the update after them was applied: the customer hears the order was cancelled
    assert await order_status(db, store.tenant.id, order_id) == "cancelled"
    assert sent == [catalog.text("order.notify.cancelled", "pt-BR", order_id=order_id)]
    left = sqs(moto).get_queue_attributes(QueueUrl=status_url, AttributeNames=["All"])["Attributes"]
    assert left["ApproximateNumberOfMessages"] == "0" and left["ApproximateNumberOfMessagesNotVisible"] == "0"


async def test_a_resent_update_changes_nothing_and_tells_nobody_twice(store: Store, moto: Moto, db: Pool) -> None:
    status_url = fifo_queue(moto, "nona-status")
    order_id = await store.place()
    channel = ConsoleChannel(db)
    relay = OutboxRelay(db, fast_settings(moto), channel)
    queues = StoreQueues(status_queue_url=status_url)
    update_id = pos_says(moto, status_url, "nona", order_id, "preparing")
    assert await relay.consume_once(store.tenant.id, queues) == 1
    # the POS sends it again after the 5-minute dedupe window (another dedupe id, the same update id)
    body = json.dumps({"update_id": update_id, "order_id": order_id, "status": "preparing"})
    sqs(moto).send_message(QueueUrl=status_url, MessageBody=body, MessageGroupId="nona", MessageDeduplicationId="x")
    assert await relay.consume_once(store.tenant.id, queues) == 1
    async with db.connection() as conn:
        sent = await outbound.list_for_phone(conn, store.tenant.id, store.phone)
        assert await pos_updates.dead_letters(conn, store.tenant.id) == []
    assert len(sent) == 1 and await order_status(db, store.tenant.id, order_id) == "preparing"


@pytest.fixture
def cli_env(db: Pool, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path / "data"))
    for name in ("COMANDA_MODEL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "COMANDA_POS"):
        monkeypatch.delenv(name, raising=False)


async def test_outbox_tail_follows_a_store_events_as_they_commit_without_aws(store: Store, cli_env: None) -> None:
    await store.place()  # before the tail starts: not shown
    tail = asyncio.create_task(
        asyncio.to_thread(
            lambda: runner.invoke(app, ["outbox", "tail", "--tenant", "nona", "--limit", "2", "--timeout", "60"])
        )
    )
    await asyncio.sleep(3)
    first = await store.place()
    second = await store.place(method="pix")
    done = await asyncio.wait_for(tail, timeout=90)
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.output.splitlines() if line.startswith("{")]
    assert [(e["type"], e["order"]["order_id"]) for e in lines] == [("order.placed", first), ("order.placed", second)]
    for event in lines:
        assert_contract(event)
    # nothing was published: with COMANDA_POS=outbox the events stay in Postgres
    assert all(r.published_at is None for r in await store.rows())


async def test_the_kitchen_accepting_an_order_moves_it_tells_the_customer_and_a_late_accept_moves_nothing(
    db: Pool, embedder: Embedder, moto: Moto, caplog: pytest.LogCaptureFixture
) -> None:
    tenant, customer_id = await demo_customer(db, embedder, "+5511987650001")
    store = Store(db, tenant, customer_id, "+5511987650001")
    status_url = fifo_queue(moto, "demo-status")
    order_id = await store.place()  # cash: placed, ready for the kitchen
    relay = OutboxRelay(db, fast_settings(moto), ConsoleChannel(db))
    queues = StoreQueues(status_queue_url=status_url)

    async def told() -> list[str]:
        async with db.connection() as conn:
            return [m.body for m in await outbound.list_for_phone(conn, tenant.id, store.phone)]

    accepted_id = pos_says(moto, status_url, "demo", order_id, "accepted")
    assert await relay.consume_once(tenant.id, queues) == 1
    assert await order_status(db, tenant.id, order_id) == "accepted"
    assert await told() == [catalog.text("order.notify.accepted", "pt-BR", order_id=order_id)]

    # the customer asks, in both languages, and hears the state the kitchen put it in
    chat = await open_chat(db, store.phone)
    reply = await chat.say("cadê meu pedido?")
    assert reply == catalog.text(
        "order.status", "pt-BR", order_id=order_id, state="aceito pelo restaurante", ago="agora há pouco"
    ), chat.dump()
    reply = await chat.say("where is my order?")
    assert reply == f"Your order *#{order_id}* is *accepted by the restaurant* (updated just now).", chat.dump()

    # the same acceptance resent after SQS's dedupe window: nothing moves, nobody is told twice
    body = json.dumps({"update_id": accepted_id, "order_id": order_id, "status": "accepted"})
    sqs(moto).send_message(QueueUrl=status_url, MessageBody=body, MessageGroupId="demo", MessageDeduplicationId="r1")
    assert await relay.consume_once(tenant.id, queues) == 1
    for step in ("preparing", "out_for_delivery"):
        pos_says(moto, status_url, "demo", order_id, step)
        assert await relay.consume_once(tenant.id, queues) == 1
    before = await told()
    # a second "accepted" and a stale "preparing" arrive after the driver left: recorded, ignored, logged
    with caplog.at_level("INFO", logger="tools.pos.updates"):
        pos_says(moto, status_url, "demo", order_id, "accepted")
        pos_says(moto, status_url, "demo", order_id, "preparing")
        handled = 0
        deadline = time.monotonic() + 20
        while handled < 2 and time.monotonic() < deadline:
            handled += await relay.consume_once(tenant.id, queues)
    assert handled == 2
    assert await order_status(db, tenant.id, order_id) == "out_for_delivery"
    assert await told() == before
    assert len(before) == 3  # accepted, preparing, out for delivery: one message each
    assert sum("ignored: the order is already out_for_delivery" in r.getMessage() for r in caplog.records) == 2
    async with db.connection() as conn:
        assert await pos_updates.dead_letters(conn, tenant.id) == []
        cur = await conn.execute(
            "SELECT status, outcome FROM pos_updates WHERE tenant_id = %s AND order_id = %s ORDER BY id",
            (tenant.id, order_id),
        )
        kept = [(r["status"], r["outcome"]) for r in await cur.fetchall()]
    assert kept == [
        ("accepted", "moved to accepted"),
        ("preparing", "moved to preparing"),
        ("out_for_delivery", "moved to out_for_delivery"),
        ("accepted", "ignored: order already out_for_delivery"),
        ("preparing", "ignored: order already out_for_delivery"),
    ]
    # the kitchen then finishes it: the order ends delivered
    pos_says(moto, status_url, "demo", order_id, "delivered")
    assert await relay.consume_once(tenant.id, queues) == 1
    assert await order_status(db, tenant.id, order_id) == "delivered"


async def test_an_accept_before_the_pix_is_paid_is_recorded_and_the_payment_moves_the_order(
    store: Store, moto: Moto, db: Pool
) -> None:
    status_url = fifo_queue(moto, "nona-status")
    order_id = await store.place(method="pix")  # awaiting_payment
    relay = OutboxRelay(db, fast_settings(moto), ConsoleChannel(db))
    pos_says(moto, status_url, "nona", order_id, "accepted")
    assert await relay.consume_once(store.tenant.id, StoreQueues(status_queue_url=status_url)) == 1
    assert await order_status(db, store.tenant.id, order_id) == "awaiting_payment"
    async with db.connection() as conn:
        assert await pos_updates.dead_letters(conn, store.tenant.id) == []
        assert await outbound.list_for_phone(conn, store.tenant.id, store.phone) == []
