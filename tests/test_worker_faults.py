"""The worker under faults: deaths between checkpoint and send, lost locks, outages, SIGTERM with a stuck turn.

Each test reproduces a defect found from outside (issue 16) with real processes, Postgres and Valkey.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from channel_support import (
    CUSTOMER,
    demo_tenant,
    post_signed,
    replies_to,
    running_worker,
    twilio_form,
    wait_traces,
    webhook_app,
)
from conftest import open_all_day
from conversation_support import open_chat
from redis.asyncio import Redis
from support import live_server
from worker_support import FAST, conv_of, worker_env

from memory.db import Pool
from prompts import load_prompt_set
from server.queue import InboundQueue, conversation_key


@pytest.fixture
async def demo(demo: Pool) -> Pool:
    """The demo restaurant, open all day: the worker reads the real clock."""
    return await open_all_day(demo)


@pytest.fixture
async def api(demo: Pool, redis: Redis) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with live_server(webhook_app(demo, redis)) as base, httpx.AsyncClient() as http:
        yield http, base


async def start_worker(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "comanda.cli",
        "worker",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def until(check, timeout_s: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not reached in {timeout_s} s")


async def count(pool: Pool, sql: str, *args: object) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(sql, args)
        return int(((await cur.fetchone()) or {"n": 0})["n"])


async def test_a_confirmation_stored_but_not_sent_goes_out_before_the_next_reply(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis, database_url: str, valkey_url: str, tmp_path: Path
) -> None:
    # the worker dies after the order was placed and checkpointed, before sending the confirmation; the customer
    # writes again before any worker reclaims the turn, so the next batch holds the old "sim" and a new message
    http, base = api
    chat = await open_chat(demo, CUSTOMER)
    for text in ("oi", "João Silva", "Rua das Flores, 123, Apto 45, Jardim Primavera", "pular", "sim"):
        await chat.say(text)
    await chat.say("2 x-salada sem cebola e 1 coca lata")
    await chat.say("fechar pedido")
    assert "confirm" in (await chat.say("dinheiro, troco para 200")).lower(), chat.dump()
    before = len(await replies_to(demo))
    dying = await start_worker(
        worker_env(database_url, valkey_url, tmp_path, COMANDA_FAULT_KILL_AT="after_checkpoint"), tmp_path
    )
    try:
        await post_signed(http, base, twilio_form("sim"))
        assert await asyncio.wait_for(dying.wait(), 60) == -signal.SIGKILL
    finally:
        if dying.returncode is None:
            dying.kill()
            await dying.wait()
    assert await count(demo, "SELECT count(*) AS n FROM orders") == 1  # placed and checkpointed
    assert len(await replies_to(demo)) == before  # ... and the confirmation never went out
    await post_signed(http, base, twilio_form("obrigado!"))
    async with running_worker(demo, redis, FAST, runner=chat.runner):
        [trace] = await wait_traces(redis, await conv_of(demo), 1, timeout_s=30)
    sent = (await replies_to(demo))[before:]
    assert len(sent) >= 2 and "#1" in sent[0], sent  # the confirmation first, exactly once
    assert sum("#1" in s for s in sent) == 1, sent
    assert "não entendi" not in " ".join(sent[1:]).lower(), sent  # and the new message was answered as itself
    assert trace.texts == ["sim", "obrigado!"] and trace.answered_before == [trace.message_sids[0]]
    assert await count(demo, "SELECT count(*) AS n FROM orders") == 1


async def test_a_replayed_turn_sends_nothing_twice(api, demo: Pool, redis: Redis) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    form = twilio_form("oi")
    async with running_worker(demo, redis, FAST) as worker:
        await post_signed(http, base, form)
        [first] = await wait_traces(redis, await conv_of(demo), 1)
        # the same message queued again as a reclaim would find it (the dedupe key is past: push it by hand)
        await worker.queue.redis.delete(f"comanda:seen:{form['MessageSid']}")
        await post_signed(http, base, form)
        _, second = await wait_traces(redis, await conv_of(demo), 2)
    assert await replies_to(demo) == first.replies
    assert second.duplicate and second.resent == first.replies


async def test_sigterm_ends_a_worker_stuck_in_a_turn_and_another_answers(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis, database_url: str, valkey_url: str, tmp_path: Path
) -> None:
    http, base = api
    env = worker_env(database_url, valkey_url, tmp_path)
    proc = await start_worker(env, tmp_path)
    try:
        async with await psycopg.AsyncConnection.connect(database_url) as lock:
            # the turn hangs sending its reply, as it would on a Postgres that stopped answering
            await lock.execute("LOCK TABLE outbound_messages IN EXCLUSIVE MODE")
            await post_signed(http, base, twilio_form("oi"))
            await until(lambda: _waiting_on_outbound(demo), 60, "a turn stuck on its reply")
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            await asyncio.wait_for(proc.wait(), 30)
            stopped_in = time.monotonic() - started
            await lock.rollback()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert stopped_in < 20, stopped_in  # grace (10 s) + bounded clean-up, not "whenever the turn ends"
    started = time.monotonic()
    async with running_worker(demo, redis, FAST):
        await until(lambda: replies_to(demo), 30, "a reply from another worker")
    assert time.monotonic() - started < FAST.reclaim_idle_ms / 1000 + 10
    assert len(await replies_to(demo)) == 1


async def _waiting_on_outbound(pool: Pool) -> bool:
    return bool(
        await count(
            pool,
            """SELECT count(*) AS n FROM pg_stat_activity
                WHERE wait_event_type = 'Lock' AND query ILIKE '%%INSERT INTO outbound_messages%%'""",
        )
    )


async def test_a_worker_that_lost_its_lock_stops_and_the_conversation_is_answered(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis, database_url: str
) -> None:
    http, base = api
    conv = await conv_of(demo)
    async with running_worker(demo, redis, FAST):
        async with await psycopg.AsyncConnection.connect(database_url) as lock:
            await lock.execute("LOCK TABLE outbound_messages IN EXCLUSIVE MODE")
            await post_signed(http, base, twilio_form("oi"))
            await until(lambda: _waiting_on_outbound(demo), 60, "a turn stuck on its reply")
            # the lock vanishes under the turn (a Valkey restart without persistence does this)
            await redis.delete(f"comanda:lock:{conv}")
            # the worker notices at its next beat, abandons the turn and stops touching the entry
            await until(lambda: _not_waiting(demo), 10, "the abandoned turn to let go of Postgres")
            await lock.rollback()
        started = time.monotonic()
        await until(lambda: replies_to(demo), 30, "the reclaimed turn's reply")
    assert time.monotonic() - started < FAST.reclaim_idle_ms / 1000 + 10
    assert len(await replies_to(demo)) == 1
    assert not await redis.exists(f"comanda:lock:{conv}")


async def _not_waiting(pool: Pool) -> bool:
    return not await _waiting_on_outbound(pool)


async def test_an_outage_longer_than_the_attempts_dead_letters_nothing(api, demo: Pool, redis: Redis) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    async with demo.connection() as conn:
        # Postgres refuses connections for a while (SQLSTATE 57P03, what a starting server answers): every turn in
        # that time fails, more times than max_attempts allows for a bad message
        await conn.execute(
            """CREATE SEQUENCE outage;
               CREATE FUNCTION outage() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                 -- a sequence, because the failing statement rolls back anything transactional
                 IF nextval('outage') <= 4 THEN
                   RAISE EXCEPTION 'the database system is starting up' USING ERRCODE = '57P03';
                 END IF;
                 RETURN NEW;
               END $$;
               CREATE TRIGGER outage BEFORE INSERT ON outbound_messages FOR EACH ROW EXECUTE FUNCTION outage()"""
        )
    try:
        async with running_worker(demo, redis, FAST) as worker:
            await post_signed(http, base, twilio_form("oi"))
            await until(lambda: replies_to(demo), 60, "a reply once the outage ended")
            assert await worker.queue.dead_letters() == []
    finally:
        async with demo.connection() as conn:
            await conn.execute("DROP FUNCTION outage() CASCADE; DROP SEQUENCE outage")
    assert len(await replies_to(demo)) == 1


async def test_idle_consumers_of_stopped_workers_are_removed(demo: Pool, redis: Redis) -> None:
    settings = FAST.model_copy(update={"consumer_expiry_ms": 200})
    queue = InboundQueue(redis, settings)
    await queue.ensure_group()
    for name in ("gone-1", "gone-2", "gone-3"):
        await queue.read(name, 1, block_ms=1)
    await asyncio.sleep(0.3)
    async with running_worker(demo, redis, settings):
        await until(lambda: _consumers_left(redis), 10, "idle consumers removed")
    names = {c["name"] for c in await redis.xinfo_consumers("comanda:ready", "workers")}
    assert not names & {b"gone-1", b"gone-2", b"gone-3"}


async def _consumers_left(redis: Redis) -> bool:
    names = {c["name"] for c in await redis.xinfo_consumers("comanda:ready", "workers")}
    return not names & {b"gone-1", b"gone-2", b"gone-3"}


async def test_a_huge_message_is_refused_and_not_kept_in_the_checkpoint(demo: Pool) -> None:
    chat = await open_chat(demo, CUSTOMER)
    reply = await chat.say("a" * 1_000_000)
    assert reply == load_prompt_set().reply("fallback.too_long", "pt-BR"), reply
    tenant = await demo_tenant(demo)
    size = await count(
        demo,
        "SELECT coalesce(sum(length(blob)), 0) AS n FROM checkpoint_blobs WHERE thread_id = %s",
        conversation_key(tenant.id, CUSTOMER),
    )
    assert size < 50_000, size


async def test_a_reclaimed_conversation_still_locked_by_its_dead_worker_is_answered_once_the_lock_expires(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis
) -> None:
    http, base = api
    conv = await conv_of(demo)
    queue = InboundQueue(redis, FAST)
    await queue.ensure_group()
    await post_signed(http, base, twilio_form("oi"))
    # a worker read the ready entry, took the conversation's lock a moment later, and died: its entry becomes
    # reclaimable while its lock still has time to run
    [entry] = await queue.read("dead-worker", 1, block_ms=1000)
    await redis.set(f"comanda:lock:{conv}", "dead-token", px=4000)
    await asyncio.sleep(FAST.reclaim_idle_ms / 1000 + 0.1)
    async with running_worker(demo, redis, FAST):
        await until(lambda: replies_to(demo), 20, "a reply once the dead worker's lock expired")
    assert entry.conv == conv
    assert len(await replies_to(demo)) == 1
    assert not await queue.has_pending(conv)


async def test_worker_deaths_dont_dead_letter_a_healthy_message_but_a_crash_loop_does(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis
) -> None:
    http, base = api
    conv = await conv_of(demo)
    queue = InboundQueue(redis, FAST)
    await post_signed(http, base, twilio_form("oi"))
    for _ in range(FAST.max_attempts + 3):
        await queue.start(conv)  # a turn started on it, and its worker died (nothing failed, nothing finished)
    async with running_worker(demo, redis, FAST):
        await until(lambda: replies_to(demo), 30, "a reply after several worker deaths")
    assert await queue.dead_letters() == []
    # a message that killed its worker max_starts times is poison all the same
    await post_signed(http, base, twilio_form("de novo"))
    for _ in range(FAST.max_starts):
        await queue.start(conv)
    async with running_worker(demo, redis, FAST):
        await until(queue.dead_letters, 30, "the crash loop dead-lettered")
    [letter] = await queue.dead_letters()
    assert letter.message.body == "de novo"


async def test_replies_of_every_turn_a_dying_worker_left_unsent_are_handed_back_in_order(demo: Pool) -> None:
    # worker 1 dies after checkpointing its answer to "oi"; the customer writes again; worker 2 answers both but
    # dies before sending anything; the customer writes a third time: all three answers must go out, in order
    chat = await open_chat(demo, CUSTOMER)
    first = await chat.runner.run_turn(chat.ctx, ["oi"], ["SMa"])
    second = await chat.runner.run_turn(chat.ctx, ["oi", "Maria Souza"], ["SMa", "SMb"])
    third = await chat.runner.run_turn(
        chat.ctx, ["oi", "Maria Souza", "Rua Augusta, 500, Consolação"], ["SMa", "SMb", "SMc"]
    )
    assert [(e.last_message_id, e.replies) for e in second.earlier] == [("SMa", first.replies)]
    assert [(e.last_message_id, e.replies) for e in third.earlier] == [
        ("SMa", first.replies),
        ("SMb", second.replies),
    ]
    assert third.handled_before == 2 and third.replies and not third.duplicate


async def test_postgres_dropping_inside_a_tool_fails_the_turn_for_a_retry_instead_of_apologising(demo: Pool) -> None:
    # the fault harness's one wrong order: a Postgres restart landed inside a tool, the tool apologised ("tive um
    # probleminha"), the turn ended normally and the queue never retried it, so the order was never placed
    chat = await open_chat(demo, CUSTOMER)
    for text in ("oi", "Maria Souza", "Rua Augusta, 500, Consolação", "pular"):
        await chat.say(text)
    async with demo.connection() as conn:
        # the customer's row is written by confirm_registration: that write loses its connection, as in a restart
        await conn.execute(
            "CREATE FUNCTION drop_me() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$"
        )
        await conn.execute(
            "CREATE TRIGGER drop_me BEFORE INSERT OR UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION drop_me()"
        )
    with pytest.raises(psycopg.OperationalError):
        await chat.runner.run_turn(chat.ctx, ["sim"], ["SM-retry-1"])
    async with demo.connection() as conn:
        await conn.execute("DROP TRIGGER drop_me ON customers")
    retried = await chat.runner.run_turn(chat.ctx, ["sim"], ["SM-retry-1"])  # the queue's retry, same message
    assert "cadastro" in " ".join(retried.replies).lower(), retried.replies
    assert await count(demo, "SELECT count(*) AS n FROM customers WHERE name = %s", "Maria Souza") == 1
