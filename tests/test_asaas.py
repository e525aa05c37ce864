"""Asaas end to end: our real client against a contract-faithful fake of Asaas on loopback, our real webhook over
HTTP, the conversation with the offline model, and the staff CLI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import DEMO_MENU
from conversation_support import Chat, open_chat
from cryptography.fernet import Fernet
from fakes.asaas_api import FakeAsaas, asaas_app
from redis.asyncio import Redis
from support import live_server
from typer.testing import CliRunner

from comanda.cli import app as cli_app
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import outbox as outbox_repo
from memory.repos import payments as payment_repo
from memory.repos import tenants as tenant_repo
from prompts import catalog
from server.app import Resources, create_app
from server.asaas_webhook import AsaasWebhookDeps
from server.channels import ConsoleChannel
from tools.customers import service as customers
from tools.customers.models import AddressDraft, RegistrationDraft
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.orders import unpaid
from tools.payments.asaas import AsaasPayments
from tools.payments.keys import KeyBox
from tools.pos.events import OrderPaid, render

PHONE = "+5511987654321"
CPF = "529.982.247-25"  # valid check digits
API_KEY = "$aact_test_nona_0123456789"
TOKEN = "whsec-nona-0123456789-abcdefghijklmnop"
KEK = Fernet.generate_key().decode()
runner = CliRunner()


@dataclass
class Env:
    pool: Pool
    fake: FakeAsaas
    provider: AsaasPayments
    webhook_url: str
    tenant_id: int
    http: httpx.AsyncClient

    async def chat(self) -> Chat:
        return await open_chat(self.pool, PHONE, payments=self.provider)

    async def one(self, sql: str, *args: Any) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(sql, args)).fetchone()
        assert row is not None
        return dict(row)

    async def order(self) -> dict[str, Any]:
        return await self.one("SELECT * FROM orders ORDER BY id DESC LIMIT 1")

    async def notifications(self) -> list[str]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT body FROM outbound_messages WHERE phone = %s AND kind = 'notification' ORDER BY id", (PHONE,)
            )
            return [r["body"] for r in await cur.fetchall()]

    async def events(self, order_id: int) -> list[str]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT event_type FROM outbox WHERE aggregate_id = %s AND event_type LIKE 'order.%%' ORDER BY id",
                (order_id,),
            )
            return [r["event_type"] for r in await cur.fetchall()]

    async def fire(self, event: str, payment_id: str, **kw: Any) -> httpx.Response:
        return await self.fake.fire(self.webhook_url, kw.pop("token", TOKEN), event, payment_id, **kw)

    async def processed(self) -> None:
        """Wait until every stored webhook event was processed (processing runs after the 200)."""
        async with asyncio.timeout(10):
            while (await self.one("SELECT count(*) AS n FROM payment_events WHERE processed_at IS NULL"))["n"]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)


def _cli(*args: str, **env: str) -> Any:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return runner.invoke(cli_app, list(args))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
async def env(
    db: Pool, embedder: Embedder, redis: Redis, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Env]:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COMANDA_PAYMENTS", "asaas")
    monkeypatch.setenv("COMANDA_ASAAS_KEY_ENCRYPTION_KEY", KEK)
    connected = await asyncio.to_thread(
        _cli,
        *("tenants", "payments", "--tenant", "demo", "--provider", "asaas"),
        *("--api-key-env", "NONA_ASAAS_KEY", "--webhook-token-env", "NONA_ASAAS_TOKEN", "--sandbox"),
        NONA_ASAAS_KEY=API_KEY,
        NONA_ASAAS_TOKEN=TOKEN,
    )
    assert connected.exit_code == 0, connected.output
    # never printed, never stored in plain text
    assert API_KEY not in connected.output and TOKEN not in connected.output and "encrypted" in connected.output
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
        assert tenant is not None
        stored = json.dumps(await payment_repo.provider_settings(conn, tenant.id))
    assert API_KEY not in stored and TOKEN not in stored
    await customers.confirm_registration(
        db,
        tenant,
        PHONE,
        RegistrationDraft(
            name="Ana Souza",
            address=AddressDraft(
                street="Rua das Flores", number="123", neighborhood="Centro", city="São Paulo", state="SP"
            ),
        ),
        None,
    )
    fake = FakeAsaas(keys={API_KEY})
    keys = KeyBox(KEK)
    webhook = create_app(
        Resources(pool=db, redis=redis, asaas=AsaasWebhookDeps(pool=db, keys=keys, notifier=ConsoleChannel(db)))
    )
    async with live_server(asaas_app(fake)) as asaas_base, live_server(webhook) as base, httpx.AsyncClient() as http:
        fake.base_url = asaas_base
        provider = AsaasPayments(db, keys, base_url=f"{asaas_base}/v3", http=http, backoff_s=0.01, timeout_s=1.0)
        yield Env(db, fake, provider, f"{base}/webhooks/asaas/demo", tenant.id, http)


async def order_by_pix(env: Env, chat: Chat) -> str:
    """Coca and checkout by PIX through the conversation; the first time, the CPF is asked for."""
    await chat.say("quero 2 coca lata")
    reply = await chat.say("fechar pedido")
    assert "pix" in reply.lower(), chat.dump()
    return await chat.say("pix")


async def test_new_customer_gives_cpf_once_pays_by_pix_and_follows_the_order_to_delivery(env: Env) -> None:
    chat = await env.chat()
    reply = await order_by_pix(env, chat)
    assert reply == catalog.text("order.ask_cpf", "pt-BR"), chat.dump()
    bad = await chat.say("123.456.789-00")
    assert bad == catalog.text("order.invalid_cpf", "pt-BR"), chat.dump()
    reply = await chat.say(CPF)
    assert "confirmar" in reply.lower(), chat.dump()
    reply = await chat.say("sim")
    [charge] = env.fake.payments.values()
    order = await env.order()
    assert charge["externalReference"] == str(order["id"]) and charge["billingType"] == "PIX"
    assert Decimal(str(charge["value"])) == order["total"]  # the amount comes from the order, never the chat
    [customer] = env.fake.customers.values()
    assert customer["cpfCnpj"] == "52998224725" and customer["externalReference"] == str(order["customer_id"])
    assert f"pix.asaas.com/qr/{charge['id']}" in reply, chat.dump()  # the copy-and-paste code, sent as text

    env.fake.set_status(charge["id"], "RECEIVED")
    answer = await env.fire("PAYMENT_RECEIVED", charge["id"])
    assert answer.status_code == 200 and answer.json() == {"received": True, "duplicate": False}
    await env.processed()
    assert (await env.order())["status"] == "paid"
    assert await env.notifications() == [catalog.text("order.notify.paid", "pt-BR", order_id=order["id"])]
    assert await env.events(order["id"]) == ["order.placed", "order.paid"]
    # the POS hears who was paid how much, as the relay renders the event (it lacked method and paid_at before)
    async with env.pool.connection() as conn:
        [paid_row] = [
            e
            for e in await outbox_repo.listing(conn, tenant_id=env.tenant_id)
            if e.event_type == "order.paid" and e.aggregate_id == order["id"]
        ]
        snapshots = await outbox_repo.order_snapshots(conn, env.tenant_id, [order["id"]])
    paid = render(paid_row, "demo", snapshots[order["id"]])
    assert isinstance(paid, OrderPaid) and paid.payment is not None, paid
    assert (paid.payment.provider, paid.payment.provider_ref, paid.payment.method) == ("asaas", charge["id"], "pix")
    assert paid.payment.amount == f"{order['total']:.2f}"

    for _ in range(3):
        moved = await asyncio.to_thread(_cli, "orders", "advance", str(order["id"]), "--tenant", "demo")
        assert moved.exit_code == 0, moved.output
    assert (await env.order())["status"] == "delivered"
    assert (await env.notifications())[1:] == [
        catalog.text(f"order.notify.{s}", "pt-BR", order_id=order["id"])
        for s in ("preparing", "out_for_delivery", "delivered")
    ]

    # the next order doesn't ask for the CPF again, and reuses the Asaas customer
    second = await order_by_pix(env, chat)
    assert "confirmar" in second.lower(), chat.dump()
    assert len(env.fake.customers) == 1


async def test_card_pays_by_the_invoice_link_and_confirmed_then_received_pays_once(env: Env) -> None:
    chat = await env.chat()
    await chat.say("quero 2 coca lata")
    await chat.say("fechar pedido")
    assert await chat.say("cartão") == catalog.text("order.ask_cpf", "pt-BR"), chat.dump()
    await chat.say(CPF)
    reply = await chat.say("sim")
    [charge] = env.fake.payments.values()
    assert charge["billingType"] == "CREDIT_CARD" and charge["invoiceUrl"] in reply, chat.dump()
    for event in ("PAYMENT_CONFIRMED", "PAYMENT_RECEIVED"):
        assert (await env.fire(event, charge["id"])).status_code == 200
    await env.processed()
    order = await env.order()
    assert order["status"] == "paid"
    assert await env.events(order["id"]) == ["order.placed", "order.paid"]
    assert len(await env.notifications()) == 1


async def _placed_pix(env: Env) -> tuple[dict[str, Any], dict[str, Any]]:
    chat = await env.chat()
    await order_by_pix(env, chat)
    await chat.say(CPF)
    await chat.say("sim")
    [charge] = env.fake.payments.values()
    return await env.order(), charge


async def test_an_unpaid_pix_is_reminded_once_then_expires_and_its_charge_is_withdrawn(env: Env) -> None:
    order, charge = await _placed_pix(env)
    channel = ConsoleChannel(env.pool)
    async with env.pool.connection() as conn:
        await conn.execute(
            "UPDATE orders SET status_changed_at = now() - interval '21 minutes' WHERE id = %s", (order["id"],)
        )
    for _ in range(2):
        await unpaid.sweep(env.pool, channel, void=env.provider.cancel)
    reminder = catalog.text("order.pix_reminder", "pt-BR", order_id=order["id"], total="R$ 21,50", minutes=9)
    assert await env.notifications() == [reminder]
    async with env.pool.connection() as conn:
        await conn.execute(
            "UPDATE orders SET status_changed_at = now() - interval '31 minutes' WHERE id = %s", (order["id"],)
        )
    report = await unpaid.sweep(env.pool, channel, void=env.provider.cancel)
    assert report.expired == [order["id"]]
    assert (await env.order())["status"] == "cancelled"
    assert env.fake.payments[charge["id"]]["deleted"]  # nobody can pay it any more
    assert await env.notifications() == [reminder, catalog.text("order.notify.expired", "pt-BR", order_id=order["id"])]
    # Asaas's own PAYMENT_DELETED for it changes nothing more
    assert (await env.fire("PAYMENT_DELETED", charge["id"])).status_code == 200
    await env.processed()
    assert len(await env.notifications()) == 2


async def test_a_refund_at_asaas_refunds_the_order_and_tells_the_customer(env: Env) -> None:
    order, charge = await _placed_pix(env)
    await env.fire("PAYMENT_RECEIVED", charge["id"])
    await env.processed()  # Asaas sends a queue's events one after the other, each after our 200
    await env.fire("PAYMENT_REFUNDED", charge["id"])
    await env.processed()
    assert (await env.order())["status"] == "refunded"
    assert await env.events(order["id"]) == ["order.placed", "order.paid", "order.refunded"]
    assert (await env.notifications())[-1] == catalog.text("order.notify.refunded", "pt-BR", order_id=order["id"])


async def test_a_webhook_replayed_three_times_at_once_moves_the_order_once(env: Env) -> None:
    order, charge = await _placed_pix(env)
    answers = await asyncio.gather(
        *(env.fire("PAYMENT_RECEIVED", charge["id"], event_id="evt_same&1") for _ in range(3))
    )
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True, True]
    await env.processed()
    assert await env.events(order["id"]) == ["order.placed", "order.paid"]
    assert len(await env.notifications()) == 1


async def test_wrong_or_another_restaurants_token_is_401_and_changes_nothing(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    _, charge = await _placed_pix(env)
    caplog.set_level(logging.WARNING, logger="comanda.asaas")
    async with env.pool.connection() as conn:
        other = await tenant_repo.insert(
            conn, tenant_repo.TenantFields(slug="outra", name="Outra", whatsapp="+5511900000009")
        )
        await payment_repo.set_provider_settings(
            conn, other.id, {"provider": "asaas", "api_key": "k", "webhook_token": "other-restaurant-token"}
        )
    for token in (None, "wrong", "other-restaurant-token", "tökén".encode()):
        answer = await env.fire("PAYMENT_RECEIVED", charge["id"], token=token)
        assert answer.status_code == 401, token
    # the other restaurant's own token is only good at its own URL
    other_url = env.webhook_url.replace("/demo", "/outra")
    assert (
        await env.fake.fire(other_url, "other-restaurant-token", "PAYMENT_RECEIVED", charge["id"])
    ).status_code == 200
    await env.processed()
    assert (await env.order())["status"] == "awaiting_payment"
    assert (await env.one("SELECT count(*) AS n FROM payment_events WHERE tenant_id = %s", env.tenant_id))["n"] == 0
    assert any("'demo'" in m for m in caplog.messages) and not any(TOKEN in m for m in caplog.messages)


async def test_an_amount_that_does_not_match_flags_the_order_and_does_not_pay_it(env: Env) -> None:
    _, charge = await _placed_pix(env)
    assert (await env.fire("PAYMENT_RECEIVED", charge["id"], value=1.00)).status_code == 200
    await env.processed()
    flagged = await env.order()
    assert flagged["status"] == "awaiting_payment" and "R$ 1,00" in flagged["flagged_reason"]
    assert await env.notifications() == []


async def test_bad_bodies_are_400_and_unknown_payments_200(env: Env) -> None:
    headers = {"asaas-access-token": TOKEN, "Content-Type": "application/json"}
    not_json = await env.http.post(env.webhook_url, content=b"{nope", headers=headers)
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["detail"]
    no_id = await env.http.post(env.webhook_url, content=b'{"event": "PAYMENT_RECEIVED"}', headers=headers)
    assert no_id.status_code == 400 and "id" in no_id.json()["detail"]
    unknown = {"id": "evt_x", "event": "PAYMENT_RECEIVED", "payment": {"id": "pay_nobody", "value": 10}}
    answer = await env.http.post(env.webhook_url, content=json.dumps(unknown), headers=headers)
    assert answer.status_code == 200
    await env.processed()
    row = await env.one("SELECT outcome FROM payment_events WHERE event_id = 'evt_x'")
    assert row["outcome"] == "unknown_payment"


@pytest.mark.parametrize("fault", ["fail_500", "timeout", "lose_response"])
async def test_asaas_faults_at_charge_creation_end_with_one_charge(env: Env, fault: str) -> None:
    setattr(env.fake.faults, fault, 2)
    env.fake.faults.delay_s = 3.0  # past our 1 s timeout
    order, charge = await _placed_pix(env)
    assert order["status"] == "awaiting_payment"
    assert len(env.fake.payments_for(str(order["id"]))) == 1
    [payment] = await _payments(env, order["id"])
    assert payment["provider_ref"] == charge["id"]


async def _payments(env: Env, order_id: int) -> list[dict[str, Any]]:
    async with env.pool.connection() as conn:
        cur = await conn.execute("SELECT provider_ref, status FROM payments WHERE order_id = %s", (order_id,))
        return list(await cur.fetchall())


async def test_a_crash_between_creating_the_charge_and_saving_it_charges_once(env: Env) -> None:
    chat = await env.chat()
    await order_by_pix(env, chat)
    await chat.say(CPF)
    env.fake.faults.lose_response = 5  # every create "fails" after creating: as if we died before saving
    env.provider.attempts = 1
    reply = await chat.say("sim")
    order = await env.order()
    assert reply == catalog.text("order.payment_unavailable", "pt-BR", order_id=order["id"]), chat.dump()
    assert await _payments(env, order["id"]) == []
    env.fake.faults.lose_response = 0
    env.provider.attempts = 3
    reply = await chat.say("pix")  # "try again": the charge made before is found, not made again
    [charge] = env.fake.payments_for(str(order["id"]))
    assert f"pix.asaas.com/qr/{charge['id']}" in reply, chat.dump()
    assert [p["provider_ref"] for p in await _payments(env, order["id"])] == [charge["id"]]


async def test_asaas_down_offers_cash_and_keeps_the_order(env: Env) -> None:
    chat = await env.chat()
    await order_by_pix(env, chat)
    await chat.say(CPF)
    env.fake.faults.fail_500 = 10
    reply = await chat.say("sim")
    order = await env.order()
    assert reply == catalog.text("order.payment_unavailable", "pt-BR", order_id=order["id"]), chat.dump()
    assert order["status"] == "awaiting_payment" and env.fake.payments == {}
    reply = await chat.say("dinheiro")
    assert (await env.order())["status"] == "placed" and re.search(r"dinheiro", reply, re.I), chat.dump()
