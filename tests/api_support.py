"""The whole HTTP API (pay page, payment webhook, PIX images, Twilio webhooks) on loopback, over a shop with one
order awaiting payment: what the hostile-input corpus and the OpenAPI fuzzer aim at."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from payment_support import start_pix
from redis.asyncio import Redis
from support import live_app
from twilio.request_validator import RequestValidator

from memory.db import Pool
from memory.repos import tenants as tenants_repo
from memory.repos.payments import Payment
from memory.repos.tenants import Tenant, TenantFields
from server.app import Resources, create_app
from server.channels import ConsoleChannel
from server.media import MediaSigner
from server.payments import PaymentDeps
from server.queue import InboundQueue
from server.tenants import TenantDirectory
from server.twilio_webhook import TwilioWebhookDeps
from tools.payments.simulated import SIGNATURE_HEADER, WEBHOOK_PATH, webhook_signature
from tools.privacy.links import ExportLinks

PAY_SECRET = b"hostile-inputs-pay-secret"
MEDIA_SECRET = b"hostile-inputs-media-secret"
TOKEN = "hostile-inputs-twilio-token"
PUBLIC = "https://comanda.example.com"  # the URL Twilio signs; the app is reached on 127.0.0.1
RESTAURANT = "+5511900000000"
SHOPPER = "+5511987650000"


def twilio_form(body: str = "oi", **extra: str) -> dict[str, str]:
    """The fields Twilio posts for a WhatsApp text from the shopper to the restaurant."""
    return {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "1" * 32,
        "From": f"whatsapp:{SHOPPER}",
        "To": f"whatsapp:{RESTAURANT}",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


def twilio_signature(form: dict[str, str], path: str) -> str:
    """X-Twilio-Signature for a POST of `form` to our public URL + `path`, as Twilio computes it."""
    return RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)


@dataclass
class Api:
    """The live API and the one order it can be asked about."""

    base: str
    http: httpx.AsyncClient
    pool: Pool
    redis: Redis
    tenant: Tenant
    order_id: int
    payment: Payment
    media: MediaSigner

    async def webhook(self, body: bytes, signature: str | None = None) -> httpx.Response:
        """POST a body to the simulated provider's webhook, signed with our secret unless told otherwise."""
        headers = {"Content-Type": "application/json"}
        headers[SIGNATURE_HEADER] = webhook_signature(PAY_SECRET, body) if signature is None else signature
        return await self.http.post(self.base + WEBHOOK_PATH, content=body, headers=headers)

    def event(self, **changes: Any) -> bytes:
        """A correct "payment received" body for the order, with some fields changed."""
        event = {
            "event": "PAYMENT_RECEIVED",
            "payment_ref": self.payment.provider_ref,
            "amount": "99.50",
            "paid_at": "2025-05-01T20:30:00+00:00",
            **changes,
        }
        return json.dumps(event).encode()

    async def twilio(self, form: dict[str, str], path: str = "/twilio/whatsapp") -> httpx.Response:
        """POST a form to a Twilio webhook, signed as Twilio would."""
        headers = {"X-Twilio-Signature": twilio_signature(form, path)}
        return await self.http.post(self.base + path, data=form, headers=headers)

    async def state(self) -> dict[str, Any]:
        """Everything a request could have changed: the order, its payment, the outbox, messages, the queue."""
        async with self.pool.connection() as conn:
            order = await (await conn.execute("SELECT status, paid_at FROM orders")).fetchall()
            payment = await (await conn.execute("SELECT status, paid_at FROM payments")).fetchall()
            outbox = await (await conn.execute("SELECT count(*) AS n FROM outbox")).fetchone()
            sent = await (await conn.execute("SELECT count(*) AS n FROM outbound_messages")).fetchone()
        assert outbox is not None and sent is not None
        return {
            "orders": order,
            "payments": payment,
            "outbox": outbox["n"],
            "sent": sent["n"],
            "redis": sorted(await self.redis.keys("*")),
        }


def full_app(base: str, pool: Pool, redis: Redis) -> FastAPI:
    """The app `comanda serve` builds, on the test database and Redis."""
    payments = PaymentDeps(pool, ConsoleChannel(pool), PAY_SECRET, base)
    twilio = TwilioWebhookDeps(
        pool=pool,
        queue=InboundQueue(redis),
        auth_token=TOKEN,
        public_base_url=PUBLIC,
        tenants=TenantDirectory(pool),
    )
    media = MediaSigner(MEDIA_SECRET, base)
    links = ExportLinks(MEDIA_SECRET, base)
    return create_app(
        Resources(pool=pool, redis=redis, payments=payments, twilio=twilio, media=media, export_links=links)
    )


@contextlib.asynccontextmanager
async def live_api(pool: Pool, redis: Redis) -> AsyncIterator[Api]:
    """The restaurant (on the Twilio test number), one order of R$ 99,50 awaiting PIX, and the API serving it."""
    async with pool.connection() as conn:
        tenant = await tenants_repo.insert(conn, TenantFields(slug="demo", name="Cantina", whatsapp=RESTAURANT))
        customer = await (
            await conn.execute(
                "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, 'Ana') RETURNING id",
                (tenant.id, SHOPPER),
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
    async with (
        live_app(lambda base: full_app(base, pool, redis)) as base,
        httpx.AsyncClient(timeout=30) as http,
    ):
        payment = await start_pix(pool, base, PAY_SECRET, tenant, order["id"], SHOPPER)
        yield Api(base, http, pool, redis, tenant, order["id"], payment, MediaSigner(MEDIA_SECRET, base))
