"""Webhook → Redis Streams queue → worker → graph → console channel, with real Redis, Postgres and HTTP."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from channel_support import (
    CUSTOMER,
    PUBLIC,
    new_sid,
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
from server.inbound import InboundMessage
from server.media import MediaSigner
from server.queue import Head, InboundQueue, asked_key, conversation_key
from server.turns import TurnTrace
from tools.payments.simulated import SimulatedPayments


@pytest.fixture
async def demo(demo: Pool) -> Pool:
    """The demo restaurant, open all day: the worker reads the real clock."""
    return await open_all_day(demo)


@pytest.fixture
async def api(demo: Pool, redis: Redis) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with live_server(webhook_app(demo, redis)) as base, httpx.AsyncClient() as http:
        yield http, base


async def test_three_deliveries_of_one_message_make_one_turn_and_one_reply(api, demo: Pool, redis: Redis) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    form = twilio_form("oi")
    async with running_worker(demo, redis, FAST):
        for _ in range(3):
            assert (await post_signed(http, base, form)).status_code == 200
        [trace] = await wait_traces(redis, await conv_of(demo), 1)
        await asyncio.sleep(0.5)  # room for a second turn, if there were one
        assert len(await wait_traces(redis, await conv_of(demo), 1)) == 1
    replies = await replies_to(demo)
    assert replies == trace.replies and len(replies) == 1
    assert "como posso te chamar" in replies[0].lower()  # a new customer is asked their name, once


async def test_a_burst_of_three_messages_is_one_turn_with_all_three_in_order(api, demo: Pool, redis: Redis) -> None:  # type: ignore[no-untyped-def]
    http, base = api
    burst = ["oi", "meu nome é", "Maria Souza"]
    async with running_worker(demo, redis, FAST.model_copy(update={"coalesce_window_ms": 1000})):
        for text in burst:
            await post_signed(http, base, twilio_form(text))
            await asyncio.sleep(0.15)
        [trace] = await wait_traces(redis, await conv_of(demo), 1)
        await asyncio.sleep(0.3)
        assert len(await wait_traces(redis, await conv_of(demo), 1)) == 1
    assert trace.texts == burst
    assert len(await replies_to(demo)) == len(trace.replies) >= 1


async def test_a_lone_message_waits_only_the_quiet_time_and_a_slow_burst_still_makes_one_turn(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis
) -> None:
    http, base = api
    settings = FAST.model_copy(update={"coalesce_window_ms": 3000, "coalesce_quiet_ms": 400})
    conv = await conv_of(demo)
    async with running_worker(demo, redis, settings):
        sent = asyncio.get_running_loop().time()
        await post_signed(http, base, twilio_form("oi"))
        await wait_traces(redis, conv, 1)
        waited = asyncio.get_running_loop().time() - sent
        # a message every 300 ms keeps the conversation from going quiet: one turn, later than a lone message's
        for text in ("quero", "uma pizza", "margherita"):
            await post_signed(http, base, twilio_form(text))
            await asyncio.sleep(0.3)
        _, burst = await wait_traces(redis, conv, 2)
        await asyncio.sleep(0.5)
        assert len(await wait_traces(redis, conv, 2)) == 2
    assert waited < 2.0, waited  # not the whole 3 s window
    assert burst.texts == ["quero", "uma pizza", "margherita"]


async def test_a_whole_answer_to_the_bots_question_starts_at_once_and_anything_else_still_waits(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis
) -> None:
    http, base = api
    # a quiet time far longer than the gaps below: whatever waits for it makes one turn of both messages
    settings = FAST.model_copy(update={"coalesce_window_ms": 4000, "coalesce_quiet_ms": 2000})
    conv = await conv_of(demo)

    async def two(first: str, then: str, turns: int) -> list[TurnTrace]:
        await post_signed(http, base, twilio_form(first))
        await asyncio.sleep(0.8)
        await post_signed(http, base, twilio_form(then))
        return await wait_traces(redis, conv, turns)

    async with running_worker(demo, redis, settings):
        await post_signed(http, base, twilio_form("oi"))
        await wait_traces(redis, conv, 1)  # the bot asks the name: not a question one word answers whole
        *_, name = await two("Maria", "Souza", 2)
        await post_signed(http, base, twilio_form("Rua das Flores, 123, Jardim Primavera"))
        await wait_traces(redis, conv, 3)  # the bot asks for an e-mail, which "pular" answers whole
        *_, skipped, after = await two("pular", "tem algo vegetariano?", 5)
    assert name.texts == ["Maria", "Souza"]
    assert skipped.texts == ["pular"] and after.texts == ["tem algo vegetariano?"]
    assert "mail" not in " ".join(after.replies).lower()  # the e-mail question is behind us, not asked again


async def test_only_a_lone_message_reaches_the_worker_with_what_the_bot_asked(redis: Redis) -> None:
    queue = InboundQueue(redis, FAST)
    conv = conversation_key(1, CUSTOMER)
    await redis.set(asked_key(FAST.prefix, conv), "payment.confirm")

    def message(text: str) -> InboundMessage:
        return InboundMessage(message_sid=new_sid(), from_phone=CUSTOMER, to_phone="+5511900000000", body=text)

    await queue.enqueue(1, message("sim"))
    lone = await queue.take(conv, "t1")
    assert isinstance(lone, Head) and lone.asked == "payment.confirm"
    assert (found := lone.lone_message()) is not None and found.body == "sim"
    await queue.release(conv, "t1")
    # a second message waiting: a burst, whatever the first one says; the worker waits for it to end as always
    await queue.enqueue(1, message("e uma coca"))
    burst = await queue.take(conv, "t2")
    assert isinstance(burst, Head) and burst.waiting == 2 and burst.lone_message() is None


async def _blocked_on_outbound(pool: Pool, timeout_s: float = 30.0) -> None:
    """Wait until some session waits for the lock on outbound_messages (a turn is stuck sending its reply)."""
    for _ in range(int(timeout_s * 20)):
        async with pool.connection() as conn:
            cur = await conn.execute(
                """SELECT count(*) AS n FROM pg_stat_activity
                    WHERE wait_event_type = 'Lock' AND query ILIKE '%INSERT INTO outbound_messages%'"""
            )
            if ((await cur.fetchone()) or {"n": 0})["n"]:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("no turn reached the reply")


async def test_messages_arriving_during_a_turn_make_the_next_turn_together(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis, database_url: str
) -> None:
    http, base = api
    async with running_worker(demo, redis, FAST):
        async with await psycopg.AsyncConnection.connect(database_url) as lock:
            await lock.execute("LOCK TABLE outbound_messages IN EXCLUSIVE MODE")
            await post_signed(http, base, twilio_form("oi"))
            await _blocked_on_outbound(demo)  # the first turn is running
            await post_signed(http, base, twilio_form("Maria"))
            await post_signed(http, base, twilio_form("Souza"))
            await lock.rollback()
        first, second = await wait_traces(redis, await conv_of(demo), 2)
    assert first.texts == ["oi"]
    assert second.texts == ["Maria", "Souza"]
    assert await replies_to(demo) == first.replies + second.replies


async def _comanda(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "comanda.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_poison_message_is_dead_lettered_and_comes_back_with_dlq_retry(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis, database_url: str, valkey_url: str, tmp_path: Path, caplog
) -> None:
    http, base = api
    async with demo.connection() as conn:
        # the database refuses every reply to this customer: the turn fails on each attempt
        await conn.execute(
            """CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'outbound store is down'; END $$;
               CREATE TRIGGER refuse BEFORE INSERT ON outbound_messages FOR EACH ROW EXECUTE FUNCTION refuse()"""
        )
    try:
        async with running_worker(demo, redis, FAST):
            form = twilio_form("oi")
            await post_signed(http, base, form)
            queue = InboundQueue(redis, FAST)
            for _ in range(300):
                if await queue.dead_letters():
                    break
                await asyncio.sleep(0.05)
            [letter] = await queue.dead_letters()
            assert letter.message.message_sid == form["MessageSid"]
            assert letter.attempts == FAST.max_attempts and "outbound store is down" in letter.error
            assert any(r.levelname == "ERROR" and "dead-lettered" in r.getMessage() for r in caplog.records)
            assert not await queue.has_pending(await conv_of(demo))
            env = worker_env(database_url, valkey_url, tmp_path)
            listed = await _comanda(["dlq", "list"], env, tmp_path)
            assert listed.returncode == 0 and form["MessageSid"] in listed.stdout, listed.stderr
            assert "outbound store is down" in listed.stdout
            async with demo.connection() as conn:
                await conn.execute("DROP TRIGGER refuse ON outbound_messages")
            retried = await _comanda(["dlq", "retry", "--all"], env, tmp_path)
            assert retried.returncode == 0 and "requeued 1" in retried.stdout, retried.stderr
            for _ in range(300):
                if await replies_to(demo):
                    break
                await asyncio.sleep(0.05)
            assert await queue.dead_letters() == []
    finally:
        async with demo.connection() as conn:
            await conn.execute("DROP TRIGGER IF EXISTS refuse ON outbound_messages; DROP FUNCTION IF EXISTS refuse()")
    replies = await replies_to(demo)
    assert len(replies) == 1 and "te chamar" in replies[0].lower()  # the checkpointed turn's reply, sent once


async def test_a_worker_killed_mid_turn_leaves_the_message_to_another_and_no_order_is_placed_twice(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis, database_url: str, valkey_url: str, tmp_path: Path
) -> None:
    http, base = api
    # the customer gets to "confirm?" in this process; the confirming "sim" goes through the queue
    chat = await open_chat(demo, CUSTOMER)
    await chat.say("oi")
    await chat.say("João Silva")
    await chat.say("Rua das Flores, 123, Apto 45, Jardim Primavera")
    await chat.say("pular")
    await chat.say("sim")
    await chat.say("2 x-salada sem cebola e 1 coca lata")
    await chat.say("fechar pedido")
    reply = await chat.say("dinheiro, troco para 200")
    assert "confirm" in reply.lower(), chat.dump()
    env = worker_env(database_url, valkey_url, tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "comanda.cli",
        "worker",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with await psycopg.AsyncConnection.connect(database_url) as lock:
            await lock.execute("LOCK TABLE outbound_messages IN EXCLUSIVE MODE")
            await post_signed(http, base, twilio_form("sim"))
            await _blocked_on_outbound(demo, timeout_s=60)  # order placed, checkpoint written, reply not sent
            proc.send_signal(signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), 10)
            await lock.rollback()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    async with running_worker(demo, redis, FAST, runner=chat.runner):
        [trace] = await wait_traces(redis, await conv_of(demo), 1, timeout_s=30)
        assert trace.duplicate  # the second worker found the turn done and only made sure the reply went out
    async with demo.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM orders")
        assert ((await cur.fetchone()) or {})["n"] == 1
        cur = await conn.execute(
            "SELECT body, count(*) AS n FROM outbound_messages WHERE phone = %s GROUP BY body", (CUSTOMER,)
        )
        sent = {r["body"]: r["n"] for r in await cur.fetchall()}
    assert sent and all(n == 1 for n in sent.values()), sent
    assert any("#1" in body for body in sent), sent


async def test_a_pix_reply_carries_the_qr_code_image_from_a_signed_url(  # type: ignore[no-untyped-def]
    api, demo: Pool, redis: Redis
) -> None:
    http, base = api
    payments = SimulatedPayments(PUBLIC, b"pay-secret")
    chat = await open_chat(demo, CUSTOMER, payments=payments, public_base_url=PUBLIC)
    for text in ("oi", "João Silva", "Rua das Flores, 123, Apto 45, Jardim Primavera", "pular", "sim"):
        await chat.say(text)
    await chat.say("2 x-salada sem cebola")
    await chat.say("fechar pedido")
    reply = await chat.say("pix")
    assert "confirm" in reply.lower(), chat.dump()
    signer = MediaSigner(b"media-secret", PUBLIC)
    async with running_worker(demo, redis, FAST, chat.runner, payments=payments, media=signer):
        await post_signed(http, base, twilio_form("sim"))
        [trace] = await wait_traces(redis, await conv_of(demo), 1)
    async with demo.connection() as conn:
        cur = await conn.execute("SELECT pix_code FROM payments")
        pix = ((await cur.fetchone()) or {})["pix_code"]
        cur = await conn.execute("SELECT body, media_url FROM outbound_messages WHERE media_url IS NOT NULL")
        rows = await cur.fetchall()
    assert pix and any(pix in r for r in trace.replies), trace.replies
    [row] = rows
    assert pix in row["body"]
    url = urlsplit(row["media_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{PUBLIC}/media/pix.png"
    query = parse_qs(url.query)
    assert signer.verify(query["c"][0], query["s"][0]) == pix  # the image is of this payment's code
