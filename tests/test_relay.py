"""The outbox relay against a real SQS API (moto's server mode on loopback, the real boto3 client): events reach
each store's FIFO queue in order with the right group and dedupe ids, and every fault of issue 11 leaves nothing
lost."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import ROOT
from relay_support import (
    AWS_ENV,
    REGION,
    Moto,
    Store,
    assert_contract,
    drain_until,
    fast_settings,
    fifo_queue,
    make_store,
    receive_all,
)
from typer.testing import CliRunner, Result

from comanda.cli import app
from comanda.settings import ConfigError, Settings
from memory.db import Pool
from memory.repos import outbox as outbox_repo
from server.relay import OutboxRelay
from tools.orders import lifecycle
from tools.pos.customer_events import before, record

runner = CliRunner()
# the moto server fixture
pytest_plugins = ("relay_support",)


@pytest.fixture
async def store(db: Pool) -> Store:
    return await make_store(db, "nona", "+5511900000001")


async def published(store: Store) -> set[int]:
    return {r.id for r in await store.rows() if r.published_at is not None}


async def test_events_reach_the_store_queue_in_order_with_group_and_dedupe_ids(
    store: Store, moto: Moto, db: Pool
) -> None:
    url = fifo_queue(moto, "nona")
    await store.configure(url)
    first = await store.place()
    second = await store.place(method="pix")
    await lifecycle.advance(db, store.tenant.id, first, actor="staff:ana")  # placed → preparing
    await lifecycle.cancel(db, store.tenant.id, second, actor="staff:ana", reason="sem entregador")
    rows = await store.rows()
    relay = OutboxRelay(db, fast_settings(moto))
    assert await relay.drain() == 4

    got = receive_all(moto, url, expect=4)
    assert [m["event"]["event_id"] for m in got] == [str(r.event_id) for r in rows]
    assert [m["event"]["type"] for m in got] == [
        "order.placed",
        "order.placed",
        "order.status_changed",
        "order.cancelled",
    ]
    for m, row in zip(got, rows, strict=True):
        assert m["Attributes"]["MessageGroupId"] == "nona"
        assert m["Attributes"]["MessageDeduplicationId"] == str(row.event_id)
        assert m["MessageAttributes"]["type"]["StringValue"] == m["event"]["type"]
        assert_contract(m["event"])
    placed = got[0]["event"]
    assert placed["store"] == "nona" and placed["version"] == 1
    line = placed["order"]["lines"][0]
    assert line["qty"] == 2 and line["line_total"] == "30.00" and line["removed"] == ["cebola"]
    assert line["options"] == [{"group": "Pão", "choice": "Australiano", "price_delta": "0.00"}]
    assert placed["order"]["total"] == "35.00" and placed["order"]["address"]["street"] == "Rua A"
    moved = got[2]["event"]
    assert moved["from_status"] == "placed" and moved["to_status"] == "preparing" and moved["actor"] == "staff:ana"
    assert moved["order"]["status"] == "preparing"
    assert got[3]["event"]["reason"] == "sem entregador"
    # accepted rows are marked with SQS's message id, and nothing is due any more
    assert all(r.published_at and r.sqs_message_id for r in await store.rows())
    assert await relay.drain() == 0


async def test_a_store_without_a_queue_gets_a_clear_error_and_other_stores_keep_flowing(
    store: Store, moto: Moto, db: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    other = await make_store(db, "ze", "+5511900000002")
    url = fifo_queue(moto, "ze")
    await other.configure(url)
    await store.place()
    await other.place()
    relay = OutboxRelay(db, fast_settings(moto))
    await relay.drain()
    [waiting] = await store.rows()
    assert waiting.published_at is None and waiting.attempts >= 1
    assert waiting.last_error and "no SQS queue for store nona" in waiting.last_error
    assert "comanda tenants sqs --tenant nona" in waiting.last_error
    assert any("no SQS queue for store nona" in r.getMessage() for r in caplog.records)
    assert [m["event"]["store"] for m in receive_all(moto, url, expect=1)] == ["ze"]
    # once the store has its queue, the waiting event goes out
    mine = fifo_queue(moto, "nona")
    await store.configure(mine)
    await drain_until(relay, lambda: _all_published(store))
    assert [m["event"]["event_id"] for m in receive_all(moto, mine, expect=1)] == [str(waiting.event_id)]


async def _all_published(store: Store) -> bool:
    return all(r.published_at is not None for r in await store.rows())


async def test_sqs_unreachable_for_a_while_loses_nothing_and_keeps_the_order(
    store: Store, moto: Moto, db: Pool
) -> None:
    url = fifo_queue(moto, "nona")
    await store.configure(url)
    relay = OutboxRelay(db, fast_settings(moto))
    moto.stop()
    try:
        for _ in range(12):
            await store.place()
        for _ in range(5):
            done = await relay.publish_once()
            if done is not None:
                assert done.outage and "unreachable" in done.outage and done.published == 0
            await asyncio.sleep(0.1)
        rows = await store.rows()
        assert all(r.published_at is None for r in rows)
        # an outage is nobody's row's fault: nothing counted towards stuck, the reason is on the rows
        assert all(r.attempts == 0 and r.stuck_at is None for r in rows)
        assert any(r.last_error and "SQS unreachable" in r.last_error for r in rows)
    finally:
        moto.start()
    await drain_until(relay, lambda: _all_published(store))
    got = receive_all(moto, url, expect=12)
    assert [m["event"]["event_id"] for m in got] == [str(r.event_id) for r in rows]


async def test_two_relays_at_once_publish_each_event_once_and_in_order(moto: Moto, db: Pool) -> None:
    stores = [await make_store(db, f"loja-{i}", f"+551190000010{i}") for i in range(3)]
    urls = []
    for s in stores:
        urls.append(fifo_queue(moto, s.tenant.slug))
        await s.configure(urls[-1])
    for _ in range(15):
        for s in stores:
            await s.place()
    relays = [OutboxRelay(db, fast_settings(moto)), OutboxRelay(db, fast_settings(moto))]
    by_relay: list[list[int]] = [[], []]

    async def work(i: int) -> None:
        idle = 0
        while idle < 3:
            done = await relays[i].publish_once()
            if done is None:
                idle += 1
                await asyncio.sleep(0.02)
                continue
            idle = 0
            by_relay[i] += done.ids

    await asyncio.gather(work(0), work(1))
    assert by_relay[0] and by_relay[1], "both relays should have taken part"
    assert not set(by_relay[0]) & set(by_relay[1]), "an event was published by both relays"
    assert len(by_relay[0]) + len(by_relay[1]) == 45
    for s, url in zip(stores, urls, strict=True):
        got = receive_all(moto, url, expect=15)
        assert [m["event"]["event_id"] for m in got] == [str(r.event_id) for r in await s.rows()]


async def test_a_poison_event_is_stuck_and_the_others_keep_flowing(
    store: Store, moto: Moto, db: Pool, cli_env: None
) -> None:
    url = fifo_queue(moto, "nona")
    await store.configure(url)
    good = await store.place()
    # another customer's event, bigger than SQS takes (1 MiB), between two good ones
    async with db.connection() as conn, conn.transaction():
        old = await before(conn, store.tenant.id, "+5511911112222")
        await conn.execute(
            "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, %s)",
            (store.tenant.id, "+5511911112222", "A" * 1_100_000),
        )
        assert await record(conn, store.tenant.id, old, "+5511911112222") == "customer.created"
    later = await store.place()
    relay = OutboxRelay(db, fast_settings(moto, max_attempts=3))

    async def poison_stuck() -> bool:
        return any(r.stuck_at is not None for r in await store.rows())

    await drain_until(relay, poison_stuck)
    rows = await store.rows()
    [poison] = [r for r in rows if r.event_type == "customer.created"]
    assert poison.stuck_at is not None and poison.published_at is None and poison.attempts == 3
    assert poison.last_error and "SQS refused it" in poison.last_error
    got = receive_all(moto, url, expect=2)
    assert [m["event"]["order"]["order_id"] for m in got] == [good, later]
    # staff see it: `comanda outbox list --stuck`
    listed = await _cli(db, "outbox", "list", "--stuck", "--tenant", "nona", "--json")
    assert listed.exit_code == 0, listed.output
    [shown] = json.loads(listed.output)
    assert shown["id"] == poison.id and shown["stuck_at"] and "SQS refused it" in shown["last_error"]
    # once the cause is dealt with, `comanda outbox retry` gives it another round
    retried = await _cli(db, "outbox", "retry", "--tenant", "nona")
    assert retried.exit_code == 0 and "1 stuck event(s) will be retried" in retried.output
    assert [r.stuck_at for r in await store.rows() if r.id == poison.id] == [None]


async def _cli(db: Pool, *args: str) -> Result:
    return await asyncio.to_thread(lambda: runner.invoke(app, list(args)))


@pytest.fixture
def cli_env(db: Pool, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path / "data"))
    for name in ("COMANDA_MODEL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "COMANDA_POS"):
        monkeypatch.delenv(name, raising=False)


async def test_relay_killed_mid_batch_republishes_everything_with_the_same_dedupe_ids(
    store: Store, moto: Moto, db: Pool, database_url: str, tmp_path: Path
) -> None:
    url = fifo_queue(moto, "nona")
    await store.configure(url)
    for _ in range(7):
        await store.place()
    env = {
        **os.environ,
        **AWS_ENV,
        "DATABASE_URL": database_url,
        "COMANDA_DATA_DIR": str(tmp_path / "data"),
        "COMANDA_POS": "sqs",
        "COMANDA_SQS_ENDPOINT_URL": moto.url,
        "COMANDA_DEMO_SEED": "false",
    }
    relay_cmd = [sys.executable, "-m", "comanda.cli", "relay", "--once"]
    killed = await asyncio.to_thread(
        subprocess.run,
        relay_cmd,
        env={**env, "COMANDA_FAULT_KILL_AT": "relay_after_send"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    # SQS took the batch, but the relay died before recording it
    assert all(r.published_at is None for r in await store.rows())
    again = await asyncio.to_thread(
        subprocess.run, relay_cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "published 7 event(s)" in again.stdout
    rows = await store.rows()
    assert all(r.published_at is not None for r in rows)
    # the resend carried the same dedupe ids, so the FIFO queue kept one copy of each
    got = receive_all(moto, url, expect=7)
    assert [m["Attributes"]["MessageDeduplicationId"] for m in got] == [str(r.event_id) for r in rows]


async def test_tenants_sqs_sets_the_store_queues(store: Store, cli_env: None, db: Pool) -> None:
    url = "https://sqs.sa-east-1.amazonaws.com/123456789012/nona-pedidos.fifo"
    bad = await asyncio.to_thread(
        lambda: runner.invoke(app, ["tenants", "sqs", "--tenant", "nona", "--queue-url", url.removesuffix(".fifo")])
    )
    assert bad.exit_code == 2 and "FIFO" in bad.output
    done = await asyncio.to_thread(
        lambda: runner.invoke(app, ["tenants", "sqs", "--tenant", "nona", "--queue-url", url])
    )
    assert done.exit_code == 0, done.output
    async with db.connection() as conn:
        assert (await outbox_repo.sqs_settings_of(conn))[store.tenant.id] == ("nona", {"queue_url": url})


def test_pos_sqs_needs_a_region_and_is_otherwise_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "COMANDA_AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match=r"AWS_REGION .*COMANDA_POS=sqs"):
        Settings(data_dir=tmp_path, pos="sqs", _env_file=None)  # its validator checks
    Settings(data_dir=tmp_path, pos="sqs", aws_region=REGION, _env_file=None).check_production_parts()


async def test_the_relay_refuses_to_start_without_sqs(cli_env: None) -> None:
    done = await asyncio.to_thread(lambda: runner.invoke(app, ["relay", "--once"]))
    assert done.exit_code == 2 and "COMANDA_POS=outbox" in done.output


async def test_a_stores_events_commit_in_id_order_and_other_stores_do_not_wait(db: Pool) -> None:
    # two orders of one store placed at once: had the later id committed first, the relay would have published it
    # before the earlier one, and the kitchen would have seen that store's events out of order
    a = await make_store(db, "ordem-a", "+5511911110001")
    b = await make_store(db, "ordem-b", "+5511911110002")
    written, release = asyncio.Event(), asyncio.Event()

    async def write(tenant_id: int, *, hold: bool = False) -> int:
        async with db.connection() as conn, conn.transaction():
            await outbox_repo.enqueue(
                conn, tenant_id=tenant_id, event_id=uuid.uuid4(), event_type="order.placed", aggregate_id=1, payload={}
            )
            cur = await conn.execute("SELECT max(id) AS id FROM outbox WHERE tenant_id = %s", (tenant_id,))
            row = await cur.fetchone()
            if hold:
                written.set()
                await release.wait()
        assert row is not None
        return int(row["id"])

    first = asyncio.create_task(write(a.tenant.id, hold=True))
    await asyncio.wait_for(written.wait(), 5)
    await asyncio.wait_for(write(b.tenant.id), 5)  # another store is not held up
    second = asyncio.create_task(write(a.tenant.id))
    await asyncio.sleep(0.5)
    assert not second.done()  # the same store's next event waits for the first to commit
    release.set()
    first_id, second_id = await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert first_id < second_id
