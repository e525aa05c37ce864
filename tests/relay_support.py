"""SQS for the relay tests: moto's server mode on loopback, reached through the real boto3 client."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import jsonschema
import pytest
from conftest import free_port

from memory.db import Pool
from memory.repos import outbox as outbox_repo
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import Tenant, TenantFields
from server.relay import OutboxRelay, RelaySettings
from tools.pos.events import SCHEMA_DIR

REGION = "sa-east-1"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    # never let boto look for credentials on the network (instance metadata)
    "AWS_EC2_METADATA_DISABLED": "true",
}


class Moto:
    """A moto server we can stop and start again on the same port (its queues live in this process)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._factory = ThreadedMotoServer
        self._server: Any = None
        self.start()

    def start(self) -> None:
        """Listen again (SQS is back)."""
        self._server = self._factory(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        """Stop listening (SQS unreachable)."""
        self._server.stop()


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    """One moto server for the session, with fake AWS credentials in the environment."""
    saved = {k: os.environ.get(k) for k in AWS_ENV}
    os.environ.update(AWS_ENV)
    server = Moto()
    yield server
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def sqs(moto: Moto) -> Any:
    """A plain boto3 SQS client on moto (the POS's side of the queues)."""
    return boto3.client("sqs", region_name=REGION, endpoint_url=moto.url)


def fifo_queue(moto: Moto, name: str) -> str:
    """A new FIFO queue (explicit dedupe ids, as the relay sends); its URL."""
    created = sqs(moto).create_queue(
        QueueName=f"{name}-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"},
    )
    return str(created["QueueUrl"])


def receive_all(moto: Moto, url: str, *, expect: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Read (and delete) messages until `expect` arrived or the time is up; each with its body parsed."""
    client = sqs(moto)
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expect and time.monotonic() < deadline:
        response = client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        for m in response.get("Messages", []):
            m["event"] = json.loads(m["Body"])
            got.append(m)
            client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    # and nothing more than expected
    extra = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    got += [{**m, "event": json.loads(m["Body"])} for m in extra.get("Messages", [])]
    return got


def assert_contract(event: dict[str, Any]) -> None:
    """The event validates against its exported JSON Schema."""
    schema = json.loads((SCHEMA_DIR / f"{event['type']}.v1.json").read_text())
    jsonschema.validate(event, schema)


def fast_settings(moto: Moto, **changes: Any) -> RelaySettings:
    """Relay pacing for tests: short waits, SQS on moto."""
    values: dict[str, Any] = {
        "default_region": REGION,
        "endpoint_url": moto.url,
        "retry_base_s": 0.05,
        "retry_max_s": 0.2,
        "rest_base_s": 0.05,
        "rest_max_s": 0.2,
        "idle_poll_s": 0.02,
        "status_wait_s": 1,
        "status_refresh_s": 0.2,
        "max_attempts": 3,
    }
    values.update(changes)
    return RelaySettings(**values)


@dataclass
class Store:
    """A restaurant with one customer, and a way to place orders the way checkout writes them."""

    pool: Pool
    tenant: Tenant
    customer_id: int
    phone: str

    async def place(self, *, method: str = "cash", name: str = "X-Salada") -> int:
        """An order with one line and its order.placed outbox row, in one transaction (as checkout does)."""
        status = "placed" if method == "cash" else "awaiting_payment"
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                """INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method,
                                       subtotal, delivery_fee, total, address, locale)
                   VALUES (%s, %s, gen_random_uuid()::text, %s, %s, 30.00, 5.00, 35.00, %s, 'pt-BR')
                   RETURNING id""",
                (
                    self.tenant.id,
                    self.customer_id,
                    status,
                    method,
                    json.dumps(
                        {"street": "Rua A", "number": "1", "neighborhood": "Centro", "city": "São Paulo", "state": "SP"}
                    ),
                ),
            )
            row = await cur.fetchone()
            assert row is not None
            order_id = int(row["id"])
            item = await (
                await conn.execute(
                    """INSERT INTO menu_items (tenant_id, sku, category, name, price)
                       VALUES (%s, %s, 'Lanches', %s, 15.00) RETURNING id""",
                    (self.tenant.id, f"sku-{order_id}", name),
                )
            ).fetchone()
            assert item is not None
            await conn.execute(
                """INSERT INTO order_items (tenant_id, order_id, menu_item_id, sku, name, qty, unit_price, line_total,
                                            options, removed)
                   VALUES (%s, %s, %s, %s, %s, 2, 15.00, 30.00, %s, %s)""",
                (
                    self.tenant.id,
                    order_id,
                    item["id"],
                    f"sku-{order_id}",
                    name,
                    json.dumps([{"group": "Pão", "choice": "Australiano", "price_delta": "0.00"}]),
                    ["cebola"],
                ),
            )
            await outbox_repo.enqueue(
                conn,
                tenant_id=self.tenant.id,
                event_id=outbox_repo.event_id(self.tenant.id, "order.placed", order_id),
                event_type="order.placed",
                aggregate_id=order_id,
                payload={"order_id": order_id, "status": status, "total": str(Decimal("35.00"))},
            )
        return order_id

    async def configure(self, queue_url: str | None, status_queue_url: str | None = None) -> None:
        """The store's tenants.sqs_settings."""
        settings = {k: v for k, v in (("queue_url", queue_url), ("status_queue_url", status_queue_url)) if v}
        async with self.pool.connection() as conn:
            await outbox_repo.set_sqs_settings(conn, self.tenant.id, settings)

    async def rows(self) -> list[outbox_repo.OutboxEvent]:
        """The store's outbox rows, oldest first."""
        async with self.pool.connection() as conn:
            return await outbox_repo.after(conn, self.tenant.id, 0, limit=10_000)


async def make_store(pool: Pool, slug: str, whatsapp: str, phone: str = "+5511987654321") -> Store:
    """A new restaurant and customer."""
    async with pool.connection() as conn:
        tenant = await tenant_repo.insert(conn, TenantFields(slug=slug, name=slug.title(), whatsapp=whatsapp))
        row = await (
            await conn.execute(
                "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, 'Ana') RETURNING id", (tenant.id, phone)
            )
        ).fetchone()
    assert row is not None
    return Store(pool, tenant, int(row["id"]), phone)


async def drain_until(relay: OutboxRelay, done: Any, *, timeout_s: float = 15.0) -> None:
    """Run publishing rounds until `await done()` is true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        await relay.drain(timeout_s=2)
        if await done():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the relay did not get there in time")
