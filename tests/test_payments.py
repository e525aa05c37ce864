"""Payments end to end: PIX BR Codes, the signed pay page, its real HTTP webhook, the customer's notification."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from payment_support import start_pix
from support import live_server

from memory.db import Pool
from memory.repos import orders as order_repo
from memory.repos import outbound
from memory.repos import payments as payments_repo
from memory.repos import tenants as tenants_repo
from memory.repos.payments import Payment
from memory.repos.tenants import Tenant, TenantFields
from prompts import catalog
from server.channels import ConsoleChannel
from server.payments import PaymentDeps, payments_router
from tools.orders import lifecycle
from tools.payments.pix import brcode, crc16, crc_ok
from tools.payments.provider import PaymentProvider, PaymentRequest
from tools.payments.simulated import (
    SIGNATURE_HEADER,
    WEBHOOK_PATH,
    SimulatedPayments,
    page_signature,
    webhook_signature,
)

SECRET = b"test-secret-for-simulated-payments"
CUSTOMER = "+5511987654321"


# --- PIX BR Code --------------------------------------------------------------------------------------------------


def test_crc16_is_ccitt_false() -> None:
    # the standard check value of CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF)
    assert crc16(b"123456789") == 0x29B1


def test_brcode_reproduces_the_central_bank_manual_example() -> None:
    # Manual do BR Code (Banco Central), static example without amount nor txid
    expected = (
        "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
        "5913Fulano de Tal6008BRASILIA62070503***63041D3D"
    )
    assert brcode("123e4567-e12b-12d1-a456-426655440000", None, "Fulano de Tal", "BRASILIA", "") == expected


def test_brcode_with_amount_names_and_txid() -> None:
    code = brcode(
        "123e4567-e12b-12d1-a456-426655440000",
        Decimal("99.5"),
        "Pizzaria São João da Vila Madalena Ltda",
        "São José dos Campos",
        "0123456789abcdef0123456789abcdef",
    )
    assert "540599.50" in code  # field 54, length 05, "99.50"
    assert "5925Pizzaria Sao Joao da Vila" in code  # ASCII, cut at 25
    assert "6015Sao Jose dos Ca" in code  # ASCII, cut at 15
    assert "62290525" + "0123456789abcdef012345678" in code  # txid cut at 25
    assert code.startswith("000201") and code[-8:-4] == "6304"
    assert crc_ok(code)
    assert not crc_ok(code[:-1] + ("0" if code[-1] != "0" else "1"))


async def test_simulated_start_gives_a_signed_page_and_a_pix_code_for_pix_only() -> None:
    provider: PaymentProvider = SimulatedPayments("https://pay.example.com/", SECRET)
    request = PaymentRequest(
        tenant_id=1,
        order_id=7,
        amount=Decimal("99.50"),
        method="pix",
        customer_name="Ana",
        customer_phone=CUSTOMER,
        description="Pedido #7",
        merchant_name="Cantina da Nona",
        merchant_city="São Paulo",
    )
    pix = await provider.start(request)
    assert pix.provider == "simulated" and len(pix.provider_ref) == 32
    assert (
        pix.pay_url == f"https://pay.example.com/pay/{pix.provider_ref}?sig={page_signature(SECRET, pix.provider_ref)}"
    )
    assert pix.pix_code is not None and crc_ok(pix.pix_code)
    assert "0014br.gov.bcb.pix" in pix.pix_code and "540599.50" in pix.pix_code
    assert f"0525{pix.provider_ref[:25]}" in pix.pix_code
    assert "5915Cantina da Nona6009Sao Paulo" in pix.pix_code
    card = await provider.start(request.model_copy(update={"method": "card"}))
    assert card.pix_code is None and card.pay_url is not None
    assert card.provider_ref != pix.provider_ref


# --- pay page and webhook over real HTTP -------------------------------------------------------------------------


@dataclass
class Shop:
    base: str
    tenant: Tenant
    order_id: int
    payment: Payment
    http: httpx.AsyncClient
    pool: Pool

    def page_url(self) -> str:
        return f"{self.base}/pay/{self.payment.provider_ref}?sig={page_signature(SECRET, self.payment.provider_ref)}"

    async def webhook(self, payload: dict[str, Any] | bytes, *, signature: str | None = "sign") -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            headers[SIGNATURE_HEADER] = webhook_signature(SECRET, body)
        elif signature is not None:
            headers[SIGNATURE_HEADER] = signature
        return await self.http.post(f"{self.base}{WEBHOOK_PATH}", content=body, headers=headers)

    def event(self, **changes: Any) -> dict[str, Any]:
        event = {
            "event": "PAYMENT_RECEIVED",
            "payment_ref": self.payment.provider_ref,
            "amount": "99.50",
            "paid_at": datetime(2025, 5, 1, 20, 30, tzinfo=UTC).isoformat(),
        }
        return {**event, **changes}

    async def state(self) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            order = await (
                await conn.execute("SELECT status, paid_at FROM orders WHERE id = %s", (self.order_id,))
            ).fetchone()
            payment = await payments_repo.get_payment(conn, self.tenant.id, self.payment.id)
            events = await (
                await conn.execute("SELECT event_id, event_type, aggregate_id, payload FROM outbox ORDER BY id")
            ).fetchall()
            sent = await outbound.list_for_phone(conn, self.tenant.id, CUSTOMER)
        assert order is not None and payment is not None
        return {"order": order, "payment": payment, "outbox": events, "sent": sent}


@pytest.fixture
async def shop(db: Pool) -> AsyncIterator[Shop]:
    """A restaurant with an order of R$ 99,50 awaiting a PIX payment, behind a live server."""
    async with db.connection() as conn:
        tenant = await tenants_repo.insert(
            conn, TenantFields(slug="nona", name="Cantina da Nona", whatsapp="+5511900000001")
        )
        customer = await (
            await conn.execute(
                "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, 'Ana') RETURNING id",
                (tenant.id, CUSTOMER),
            )
        ).fetchone()
        assert customer is not None
        order = await (
            await conn.execute(
                """INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method,
                                       subtotal, delivery_fee, total, address)
                   VALUES (%s, %s, 'k1', 'awaiting_payment', 'pix', 92.50, 7.00, 99.50, '{}') RETURNING id""",
                (tenant.id, customer["id"]),
            )
        ).fetchone()
        assert order is not None
    deps = PaymentDeps(pool=db, channel=ConsoleChannel(db), secret=SECRET, public_base_url="")
    app = FastAPI()
    app.include_router(payments_router(deps))
    async with live_server(app) as base, httpx.AsyncClient(timeout=10) as http:
        deps.public_base_url = base  # the webhook goes out to the live URL, like a provider would call us
        payment = await start_pix(db, base, SECRET, tenant, order["id"], CUSTOMER)
        assert (
            payment.pay_url == f"{base}/pay/{payment.provider_ref}?sig={page_signature(SECRET, payment.provider_ref)}"
        )
        yield Shop(base=base, tenant=tenant, order_id=order["id"], payment=payment, http=http, pool=db)


async def _assert_nothing_changed(shop: Shop) -> None:
    state = await shop.state()
    assert state["order"]["status"] == "awaiting_payment" and state["order"]["paid_at"] is None
    assert state["payment"].status == "pending"
    assert state["outbox"] == [] and state["sent"] == []


async def test_pay_page_shows_the_order_and_refuses_forged_or_unknown_links(shop: Shop) -> None:
    page = await shop.http.get(shop.page_url())
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Cantina da Nona" in html
    assert f"Pedido #{shop.order_id}" in html
    assert "R$ 99,50" in html
    assert "PIX" in html and shop.payment.pix_code is not None and shop.payment.pix_code in html
    assert "Copiar código" in html and "Pagar" in html and "Pago ✓" not in html
    # no external assets: everything is inline
    assert "<link" not in html and "src=" not in html and '<meta name="viewport"' in html

    ref = shop.payment.provider_ref
    assert (await shop.http.get(f"{shop.base}/pay/{ref}?sig={'0' * 32}")).status_code == 403
    assert (await shop.http.get(f"{shop.base}/pay/{ref}")).status_code == 403
    other = "f" * 32
    assert (await shop.http.get(f"{shop.base}/pay/{other}?sig={page_signature(SECRET, other)}")).status_code == 404
    # paying with a forged form is refused too, and nothing is paid
    assert (await shop.http.post(f"{shop.base}/pay/{ref}", data={"sig": "0" * 32})).status_code == 403
    await _assert_nothing_changed(shop)


async def test_pressing_pay_fires_the_webhook_and_the_customer_hears_it(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="comanda.console")
    ref = shop.payment.provider_ref
    pressed = await shop.http.post(f"{shop.base}/pay/{ref}", data={"sig": page_signature(SECRET, ref)})
    assert pressed.status_code == 303
    page = await shop.http.get(f"{shop.base}{pressed.headers['location']}")
    assert page.status_code == 200 and "Pago ✓" in page.text
    assert 'class="pay"' not in page.text  # no second "Pagar" button

    state = await shop.state()
    assert state["order"]["status"] == "paid" and state["order"]["paid_at"] is not None
    assert state["payment"].status == "paid" and state["payment"].paid_at is not None
    # the order state machine made the move, as for Asaas: its history, its outbox event, its message
    async with shop.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT from_status, to_status, actor, notified_at FROM order_transitions WHERE order_id = %s",
            (shop.order_id,),
        )
        [move] = await cur.fetchall()
    assert (move["from_status"], move["to_status"], move["actor"]) == ("awaiting_payment", "paid", "simulated")
    assert move["notified_at"] is not None
    [event] = state["outbox"]
    assert event["event_type"] == "order.paid" and event["aggregate_id"] == shop.order_id
    payload = event["payload"]
    assert (payload["from"], payload["to"], payload["amount"], payload["provider_ref"]) == (
        "awaiting_payment",
        "paid",
        "99.50",
        ref,
    )
    assert payload["method"] == "pix" and payload["payment_id"] == shop.payment.id and payload["paid_at"]
    [message] = state["sent"]
    # the tenant's locale (pt-BR) picks the catalog's sentence of a move to paid
    expected = catalog.text("order.notify.paid", "pt-BR", order_id=shop.order_id)
    assert f"#{shop.order_id}" in expected
    assert (message.phone, message.body, message.kind, message.status) == (CUSTOMER, expected, "notification", "sent")
    # the log names the message, never its words or the customer's phone
    assert any(f"#{message.id} to conv#" in m for m in caplog.messages)
    assert not any(expected in m or CUSTOMER in m for m in caplog.messages)

    # pressing again (e.g. the back button) pays nothing twice
    again = await shop.http.post(f"{shop.base}/pay/{ref}", data={"sig": page_signature(SECRET, ref)})
    assert again.status_code == 303
    state = await shop.state()
    assert len(state["outbox"]) == 1 and len(state["sent"]) == 1


async def test_a_repeated_webhook_settles_once(shop: Shop) -> None:
    answers = await asyncio.gather(*(shop.webhook(shop.event()) for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sorted(a.json()["status"] for a in answers) == ["already_paid", "already_paid", "paid"]
    later = await shop.webhook(shop.event())
    assert later.status_code == 200 and later.json() == {"status": "already_paid", "order_id": shop.order_id}
    state = await shop.state()
    assert state["order"]["status"] == "paid"
    assert len(state["outbox"]) == 1
    assert len(state["sent"]) == 1


async def test_a_payment_for_an_order_cancelled_meanwhile_is_flagged_for_a_refund(shop: Shop) -> None:
    # the PIX ran out and the order was cancelled; the customer paid a moment later
    await lifecycle.transition(shop.pool, shop.tenant.id, shop.order_id, "cancelled", actor="system", reason="expired")
    answer = await shop.webhook(shop.event())
    assert answer.status_code == 200 and answer.json() == {"status": "flagged", "order_id": shop.order_id}
    state = await shop.state()
    assert state["order"]["status"] == "cancelled" and state["payment"].status == "paid"
    assert [e["event_type"] for e in state["outbox"]] == ["order.cancelled"]  # the POS hears of no payment
    async with shop.pool.connection() as conn:
        order = await order_repo.by_id(conn, shop.tenant.id, shop.order_id)
    assert order is not None and order.flagged_reason == "paid while cancelled: refund it"


async def test_forged_or_missing_signature_is_refused_and_changes_nothing(shop: Shop) -> None:
    forged = await shop.webhook(shop.event(), signature=webhook_signature(b"someone else's secret", b"{}"))
    assert forged.status_code == 403
    assert (await shop.webhook(shop.event(), signature=None)).status_code == 403
    # a valid signature of a different body doesn't carry over
    other_body = json.dumps(shop.event(amount="1.00")).encode()
    assert (await shop.webhook(shop.event(), signature=webhook_signature(SECRET, other_body))).status_code == 403
    await _assert_nothing_changed(shop)


async def test_malformed_bodies_are_400_with_a_reason(shop: Shop) -> None:
    not_json = await shop.webhook(b"{not json")
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["detail"]
    missing = shop.event()
    del missing["payment_ref"]
    answer = await shop.webhook(missing)
    assert answer.status_code == 400 and "payment_ref" in answer.json()["detail"]
    wrong_event = await shop.webhook(shop.event(event="PAYMENT_REFUNDED"))
    assert wrong_event.status_code == 400 and "event" in wrong_event.json()["detail"]
    assert (await shop.webhook(b"[1, 2]")).status_code == 400
    await _assert_nothing_changed(shop)


async def test_wrong_amount_is_400_and_changes_nothing(shop: Shop) -> None:
    answer = await shop.webhook(shop.event(amount="9.50"))
    assert answer.status_code == 400 and "amount" in answer.json()["detail"]
    await _assert_nothing_changed(shop)
    # the same amount written as a JSON number is fine
    assert (await shop.webhook(shop.event(amount=99.5))).json()["status"] == "paid"


async def test_unknown_payment_ref_is_404(shop: Shop) -> None:
    answer = await shop.webhook(shop.event(payment_ref="nope"))
    assert answer.status_code == 404
    await _assert_nothing_changed(shop)


# --- repositories ---------------------------------------------------------------------------------------------------


async def test_insert_payment_keeps_the_first_payment_of_an_order(shop: Shop) -> None:
    async with shop.pool.connection() as conn:
        again = await payments_repo.insert_payment(
            conn,
            tenant_id=shop.tenant.id,
            order_id=shop.order_id,
            provider="simulated",
            provider_ref="another-ref",
            method="pix",
            amount=Decimal("99.50"),
        )
        assert again == shop.payment
        assert await payments_repo.mark_paid(conn, shop.tenant.id, shop.payment.id) is True
        assert await payments_repo.mark_paid(conn, shop.tenant.id, shop.payment.id) is False
        # another tenant can't touch it
        assert await payments_repo.get_payment(conn, shop.tenant.id + 1, shop.payment.id) is None


async def test_console_channel_records_messages_in_order(db: Pool) -> None:
    async with db.connection() as conn:
        tenant = await tenants_repo.insert(conn, TenantFields(slug="nona", name="Nona", whatsapp="+5511900000001"))
    channel = ConsoleChannel(db)
    first = await channel.send(tenant, CUSTOMER, "Oi!")
    second = await channel.send(tenant, CUSTOMER, "Seu cardápio", media_url="https://x.test/menu.pdf")
    async with db.connection() as conn:
        messages = await outbound.list_for_phone(conn, tenant.id, CUSTOMER)
        assert [m.id for m in messages] == [first, second]
        assert [(m.body, m.kind, m.media_url) for m in messages] == [
            ("Oi!", "reply", None),
            ("Seu cardápio", "reply", "https://x.test/menu.pdf"),
        ]
        assert [m.id for m in await outbound.list_for_phone(conn, tenant.id, CUSTOMER, after_id=first)] == [second]
        assert await outbound.set_status(conn, tenant.id, first, "delivered", provider_sid="SM1")
        updated = await outbound.get_message(conn, tenant.id, first)
        assert updated is not None and (updated.status, updated.provider_sid) == ("delivered", "SM1")
