"""Whole conversations with the offline model, through the real graph and Postgres checkpoints."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
import pytest
from conftest import DEMO_MENU
from conversation_support import Chat, open_chat
from support import live_app

from memory.db import Pool
from memory.embeddings import Embedder
from server.app import Resources, create_app
from server.channels import ConsoleChannel
from server.payments import PaymentDeps
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.payments.simulated import SimulatedPayments

SECRET = b"test-secret"


@pytest.fixture
async def demo(db: Pool, embedder: Embedder) -> Pool:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    return db


async def _one(pool: Pool, sql: str, *args: object) -> dict:  # type: ignore[type-arg]
    async with pool.connection() as conn:
        cur = await conn.execute(sql, args)
        row = await cur.fetchone()
    assert row is not None, sql
    return row


async def register(chat: Chat, name: str = "João Silva") -> None:
    """The registration dialogue of a new customer, asserting each question."""
    await chat.say("oi")
    assert chat.last and chat.last.state and chat.last.state.awaiting == "registration.name", chat.dump()
    reply = await chat.say(name)
    assert "endereço" in reply.lower(), chat.dump()
    reply = await chat.say("Rua das Flores, 123, Apto 45, Jardim Primavera")
    assert "e-mail" in reply.lower(), chat.dump()
    reply = await chat.say("pular")
    assert "Rua das Flores" in reply and "sim" in reply.lower(), chat.dump()
    reply = await chat.say("sim")
    assert "cadastro" in reply.lower(), chat.dump()


async def test_new_customer_orders_and_pays_by_pix(demo: Pool, redis) -> None:  # type: ignore[no-untyped-def]
    channel = ConsoleChannel(demo)

    def make_app(base: str):  # type: ignore[no-untyped-def]
        deps = PaymentDeps(demo, channel, SECRET, base)
        return create_app(Resources(pool=demo, redis=redis, payments=deps))

    async with live_app(make_app) as base:
        chat = await open_chat(demo, "+5511999990001", payments=SimulatedPayments(base, SECRET), public_base_url=base)
        await register(chat)
        reply = await chat.say("tem algo vegetariano?")
        assert "Margherita" in reply, chat.dump()
        reply = await chat.say("quero 1 pizza margherita grande sem manjericão e 2 sucos de laranja")
        assert "Margherita" in reply and "Suco" in reply, chat.dump()
        reply = await chat.say("ver carrinho")
        # Margherita 54.00 + Grande 16.00, two juices 2 x 12.00, delivery 7.50: from the menu file
        assert "Total: R$ 101,50" in reply, chat.dump()
        reply = await chat.say("fechar pedido")
        assert "pix" in reply.lower(), chat.dump()
        reply = await chat.say("pix")
        assert "confirma" in reply.lower() or "sim" in reply.lower(), chat.dump()
        reply = await chat.say("sim")
        links = re.findall(r"https?://\S+/pay/\S+", reply)
        assert links, chat.dump()
        order = await _one(demo, "SELECT id, status, total, subtotal, delivery_fee FROM orders")
        assert order["status"] == "awaiting_payment"
        async with httpx.AsyncClient(follow_redirects=True) as http:
            page = await http.get(links[0])
            assert page.status_code == 200
            sig = re.search(r'name="sig" value="([^"]+)"', page.text)
            assert sig, page.text[:500]
            paid = await http.post(links[0].split("?")[0], data={"sig": sig.group(1)})
            assert paid.status_code == 200
        paid_order = await _one(demo, "SELECT status FROM orders WHERE id = %s", order["id"])
        assert paid_order["status"] == "paid"
        outbox = await _one(demo, "SELECT count(*) AS n FROM outbox WHERE event_type = 'order.placed'")
        assert outbox["n"] == 1
        total = await _one(demo, "SELECT total FROM orders WHERE id = %s", order["id"])
        assert total["total"] == Decimal("101.50")
        told = await _one(
            demo, "SELECT body FROM outbound_messages WHERE phone = %s AND kind = 'notification'", chat.ctx.phone
        )
        assert "#" in told["body"]
