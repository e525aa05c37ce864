"""Channel benchmarks: webhook acknowledgement latency, and whole turns from webhook to reply.

Both start a throw-away stack unless pointed at a running server: embedded Postgres and Valkey in a temporary
directory, `comanda serve --no-worker` and (for e2e) `comanda worker` as their own processes, as in production.
The load comes from this process, over loopback HTTP, with correctly signed Twilio webhooks.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import httpx
from pydantic import BaseModel
from redis.asyncio import Redis
from rich.console import Console

from comanda.bench_cpu import cpu_seconds, own_cpu_s, per_turn_ms
from comanda.bench_graph import NAMES, _percentile, script
from comanda.bench_stack import WEBHOOK_PATH, Stack, signed_form, throwaway_stack
from comanda.embedded import paused
from memory.db import open_pool
from server.queue import stream_entries
from server.tenants import TENANT_TTL_S
from server.turns import TurnTrace

console = Console()
GAP_S = 5.0  # how long the reply poller waits for an outbound id it skipped to commit


# --- webhook ------------------------------------------------------------------------------------------------


class WebhookReport(BaseModel):
    """Ack latency of the webhook under a fixed request rate."""

    target_rate: float
    achieved_rate: float
    concurrency: int
    requests: int
    ok: int
    errors: dict[str, int]
    skipped: int  # requests not sent because `concurrency` were already in flight
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    queued: int | None = None  # ready entries found in Redis afterwards (throw-away stack only)
    # the same load again with the stack's Postgres frozen (SIGSTOP) and the cached tenant expired
    postgres_paused: WebhookReport | None = None
    paused_s: float = 0.0


async def _fire(stack: Stack, rate: float, duration_s: float, concurrency: int) -> WebhookReport:
    n = int(rate * duration_s)
    phones = [f"+55119{i:08d}" for i in range(1000)]
    requests = [signed_form(stack, phones[i % len(phones)], "quero uma pizza margherita") for i in range(n)]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    in_flight = 0
    skipped = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=15) as http:
        await http.get(f"{stack.url}/healthz")  # warm the connection pool

        async def one(form: dict[str, str], signature: str) -> None:
            nonlocal in_flight
            started = time.perf_counter()
            try:
                r = await http.post(stack.url + WEBHOOK_PATH, data=form, headers={"X-Twilio-Signature": signature})
                latencies.append((time.perf_counter() - started) * 1000)
                if r.status_code != 200:
                    errors[f"HTTP {r.status_code}"] += 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
            finally:
                in_flight -= 1

        tasks = []
        t0 = time.perf_counter()
        for i, (form, signature) in enumerate(requests):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if in_flight >= concurrency:
                skipped += 1
                continue
            in_flight += 1
            tasks.append(asyncio.create_task(one(form, signature)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    return WebhookReport(
        target_rate=rate,
        achieved_rate=len(latencies) / elapsed,
        concurrency=concurrency,
        requests=n,
        ok=len(latencies) - sum(errors.values()),
        errors=dict(errors),
        skipped=skipped,
        p50_ms=_percentile(latencies, 50),
        p90_ms=_percentile(latencies, 90),
        p99_ms=_percentile(latencies, 99),
        max_ms=max(latencies, default=0.0),
    )


def run_webhook(
    rate: float, duration_s: float, concurrency: int, stack: Stack | None = None, paused_s: float = 0.0
) -> WebhookReport:
    """Fire signed webhooks at `rate` per second for `duration_s` seconds; report ack latencies.

    On the throw-away stack, `paused_s` > 0 adds a second run of that length with Postgres frozen (its postmaster
    and backends SIGSTOPped, so connections hang instead of failing), once the server's cached tenant has expired.
    """
    if stack is not None:
        return asyncio.run(_fire(stack, rate, duration_s, concurrency))
    with throwaway_stack(workers=0, slots=1, coalesce_ms=0) as own:
        started = time.monotonic()
        report = asyncio.run(_fire(own, rate, duration_s, concurrency))
        if paused_s > 0 and own.embedded is not None:
            # the case seen in production: the cached tenant had expired when Postgres stopped answering
            time.sleep(max(0.0, started + TENANT_TTL_S + 1 - time.monotonic()))
            with paused(own.embedded.postgres_pids()):
                report.postgres_paused = asyncio.run(_fire(own, rate, paused_s, concurrency))
            report.paused_s = paused_s
        report.queued = asyncio.run(_count_ready(own.redis_url))
    return report


async def _count_ready(redis_url: str) -> int:
    redis = Redis.from_url(redis_url)
    try:
        return int(await redis.xlen("comanda:ready"))
    finally:
        await redis.aclose()


def _print_run(report: WebhookReport) -> None:
    console.print(f"  achieved rate   {report.achieved_rate:.1f} req/s (max {report.concurrency} in flight)")
    console.print(
        f"  ack latency     p50 {report.p50_ms:.1f} ms · p90 {report.p90_ms:.1f} ms · "
        f"p99 {report.p99_ms:.1f} ms · max {report.max_ms:.1f} ms"
    )
    console.print(f"  answered 200    {report.ok}; errors {report.errors or 'none'}; skipped {report.skipped}")


def print_webhook(report: WebhookReport) -> None:
    """The figures, one per line."""
    console.print(f"[bold]webhook ack[/] — {report.requests} signed requests at {report.target_rate:g}/s")
    _print_run(report)
    verdict = (
        "[green]meets[/]"
        if report.p99_ms < 25 and report.achieved_rate >= 0.95 * report.target_rate
        else "[red]misses[/]"
    )
    console.print(f"  target p99 < 25 ms at the target rate: {verdict}")
    paused_run = report.postgres_paused
    if paused_run is not None:
        console.print(
            f"[bold]with Postgres frozen[/] (SIGSTOP, cached tenant expired) — {paused_run.requests} requests "
            f"in {report.paused_s:g} s"
        )
        _print_run(paused_run)
        # Twilio gives up after 15 s; a known restaurant's messages must still be queued from the stale cache
        ok = not paused_run.errors and paused_run.ok > 0 and paused_run.max_ms < 15_000
        verdict = "[green]meets[/]" if ok else "[red]misses[/]"
        console.print(f"  target every request sent answered 200 within Twilio's 15 s: {verdict}")
    if report.queued is not None:
        answered = report.ok + (paused_run.ok if paused_run else 0)
        console.print(f"  queued in Redis {report.queued} (of {answered} answered 200)")


# --- end to end ---------------------------------------------------------------------------------------------


class E2EReport(BaseModel):
    """Whole turns: webhook → queue → worker → graph → console channel → the customer sees a reply."""

    customers: int
    turns_per_customer: int
    think_s: float  # mean pause between a reply and the customer's next message
    rounds: int = 1  # conversations each simulated customer has, one after the other (on new phones)
    workers: int
    slots: int
    coalesce_ms: int
    turns_sent: int
    turns_answered: int
    elapsed_s: float
    turns_per_min: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    lost: int  # messages no turn ever handled
    duplicated: int  # messages handled by more than one turn, or replies sent more than once
    unanswered: int  # messages whose reply did not come within the timeout
    # while every customer was talking (the run's middle; 0 and empty when too short to tell)
    steady_turns_per_min: float = 0.0
    steady_p50_ms: float = 0.0
    steady_p90_ms: float = 0.0
    # CPU milliseconds per answered turn by part of the stack (api, workers, postgres, valkey, load generator)
    cpu_ms_per_turn: dict[str, float] = {}


@dataclass
class _Customer:
    phone: str
    script: list[str]
    slot: int | None = None  # the simulated customer whose conversation this is (None: a customer of its own)
    sids: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    first_sent: float = 0.0
    answers: list[tuple[float, float]] = field(default_factory=list)  # (when the reply came, its latency in ms)


@dataclass
class _Replies:
    """Which messages got a reply: the console channel keys each reply by its turn's last MessageSid."""

    answered: dict[str, asyncio.Event] = field(default_factory=dict)

    def event(self, sid: str) -> asyncio.Event:
        return self.answered.setdefault(sid, asyncio.Event())


async def _poll_replies(db_url: str, replies: _Replies, stop: asyncio.Event) -> None:
    pool = await open_pool(db_url, max_size=1, name="bench-poll")
    last = 0
    # ids are taken at INSERT and committed out of order: an id below the highest seen that hasn't shown up yet
    # is a commit on its way (or a rolled-back insert, given up after GAP_S); reads start at the oldest such gap
    gaps: dict[int, float] = {}
    seen: set[int] = set()
    low = 0  # every id up to here is seen or given up
    try:
        while not stop.is_set():
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT id, dedupe_key FROM outbound_messages WHERE id > %s ORDER BY id", (low,)
                )
                rows = await cur.fetchall()
            now = time.monotonic()
            for row in rows:
                if row["id"] in seen:
                    continue
                seen.add(row["id"])
                gaps.pop(row["id"], None)
                gaps.update(dict.fromkeys(range(last + 1, row["id"]), now))
                last = max(last, row["id"])
                key = row["dedupe_key"] or ""
                if key.startswith("turn:"):
                    replies.event(key.split(":")[1]).set()
            gaps = {i: t for i, t in gaps.items() if now - t < GAP_S}
            low = min(gaps) - 1 if gaps else last
            seen = {i for i in seen if i > low}
            await asyncio.sleep(0.02)
    finally:
        await pool.close()


async def _customer(
    stack: Stack,
    http: aiohttp.ClientSession,
    c: _Customer,
    replies: _Replies,
    latencies: list[float],
    timeout_s: float,
    think_s: float,
) -> int:
    unanswered = 0
    # a person reads the reply and types the next message: between half and one and a half times the mean, the
    # first one too, so that 400 customers don't all write in the same millisecond
    pauses = random.Random(c.phone)
    for text in c.script:
        if think_s > 0:
            await asyncio.sleep(pauses.uniform(0.5 * think_s, 1.5 * think_s))
        form, signature = signed_form(stack, c.phone, text)
        c.sids.append(form["MessageSid"])
        started = time.perf_counter()
        c.first_sent = c.first_sent or started
        async with http.post(stack.url + WEBHOOK_PATH, data=form, headers={"X-Twilio-Signature": signature}) as r:
            r.raise_for_status()
        try:
            await asyncio.wait_for(replies.event(form["MessageSid"]).wait(), timeout_s)
        except TimeoutError:
            unanswered += 1
            c.unanswered.append(f"{text} ({form['MessageSid']})")
            continue
        now = time.perf_counter()
        latencies.append((now - started) * 1000)
        c.answers.append((now, (now - started) * 1000))
    return unanswered


def _steady(people: dict[str, _Customer]) -> tuple[float, list[float]]:
    """Turns/min and reply latencies while every customer was talking: from the last one's first message to the
    first one's last reply (a customer with several conversations: from its first to the end of its last). With
    customers pausing between messages, the run's start (customers still arriving) and end (the slowest finishing
    alone) offer less than the steady load, and would dilute the figures."""
    slots: dict[object, list[_Customer]] = {}
    for c in people.values():
        slots.setdefault(c.phone if c.slot is None else c.slot, []).append(c)
    firsts = [
        min(c.first_sent for c in convs if c.first_sent) for convs in slots.values() if any(c.first_sent for c in convs)
    ]
    ends = [
        max(c.answers[-1][0] for c in convs if c.answers) for convs in slots.values() if any(c.answers for c in convs)
    ]
    if not ends:
        return 0.0, []
    start, end = max(firsts), min(ends)
    if end - start < 5:
        return 0.0, []  # too short a window to say anything
    inside = [ms for c in people.values() for at, ms in c.answers if start <= at <= end]
    return len(inside) / (end - start) * 60, inside


async def _slot(
    stack: Stack,
    http: aiohttp.ClientSession,
    convs: list[_Customer],
    replies: _Replies,
    latencies: list[float],
    timeout_s: float,
    think_s: float,
) -> int:
    """One simulated customer: its conversations one after the other. At a person's pace customers arrive spread
    over one conversation's length, as a restaurant's do, not all in the same three seconds: in step, 400 of them
    reached the order's heavy turns together and queued on the CPU for a second while the rest of the run idled."""
    if think_s > 0:
        await asyncio.sleep(random.Random(convs[0].phone).uniform(0, len(convs[0].script) * think_s))
    return sum([await _customer(stack, http, c, replies, latencies, timeout_s, think_s) for c in convs])


async def _e2e(
    stack: Stack, customers: int, turns: int, timeout_s: float, think_s: float, rounds: int = 1
) -> tuple[dict[str, _Customer], list[float], int, float]:
    slots = [
        [
            _Customer(f"+5521{8 - r}{i:08d}", script(turns, NAMES[(i + r) % len(NAMES)])[:turns], slot=i)
            for r in range(rounds)
        ]
        for i in range(customers)
    ]
    people = {c.phone: c for convs in slots for c in convs}
    latencies: list[float] = []
    stop = asyncio.Event()
    replies = _Replies()
    poller = asyncio.create_task(_poll_replies(stack.database_url, replies, stop))
    # few connections, and aiohttp rather than httpx (less CPU per request): the load generator shares the
    # machine's two cores with what it measures
    connector = aiohttp.TCPConnector(limit=16)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=15)) as http:
        t0 = time.perf_counter()
        results = await asyncio.gather(
            *(_slot(stack, http, convs, replies, latencies, timeout_s, think_s) for convs in slots)
        )
        elapsed = time.perf_counter() - t0
    stop.set()
    await poller
    return people, latencies, sum(results), elapsed


async def _audit(stack: Stack, people: dict[str, _Customer]) -> tuple[int, int]:
    """(lost, duplicated) from the turn traces and the outbound rows."""
    redis = Redis.from_url(stack.redis_url)
    handled: Counter[str] = Counter()
    expected_replies = 0
    try:
        async for key in redis.scan_iter(match="comanda:trace:*", count=1000):
            for _, fields in stream_entries(await redis.xrange(key)):
                trace = TurnTrace.model_validate_json(fields["trace"])
                if not trace.duplicate:
                    answered = set(trace.answered_before)
                    handled.update(s for s in trace.message_sids if s not in answered)
                    expected_replies += len(trace.replies)
    finally:
        await redis.aclose()
    pool = await open_pool(stack.database_url, max_size=1, name="bench-audit")
    try:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) AS n FROM outbound_messages")
            sent_rows = int(((await cur.fetchone()) or {"n": 0})["n"])
    finally:
        await pool.close()
    sids = [s for c in people.values() for s in c.sids]
    lost = sum(1 for s in sids if handled[s] == 0)
    duplicated = sum(1 for s in sids if handled[s] > 1) + max(0, sent_rows - expected_replies)
    return lost, duplicated


def run_e2e(
    customers: int,
    turns: int,
    workers: int,
    slots: int,
    coalesce_ms: int,
    timeout_s: float,
    think_s: float,
    rounds: int = 1,
) -> E2EReport:
    """Simulated customers through the whole path; turns/min, latency percentiles, lost and duplicated replies."""
    cpu: dict[str, float] = {}
    with throwaway_stack(workers=workers, slots=slots, coalesce_ms=coalesce_ms) as stack:

        async def go() -> tuple[dict[str, _Customer], list[float], int, float, int, int]:
            before = _stack_cpu(stack)
            people, latencies, unanswered, elapsed = await _e2e(stack, customers, turns, timeout_s, think_s, rounds)
            cpu.update(per_turn_ms(before, _stack_cpu(stack), len(latencies)))
            await asyncio.sleep(1.0)  # let late replies land before counting
            lost, duplicated = await _audit(stack, people)
            return people, latencies, unanswered, elapsed, lost, duplicated

        people, latencies, unanswered, elapsed, lost, duplicated = asyncio.run(go())
    sent = sum(len(c.sids) for c in people.values())
    steady_rate, steady = _steady(people)
    return E2EReport(
        customers=customers,
        turns_per_customer=turns,
        think_s=think_s,
        rounds=rounds,
        workers=workers,
        slots=slots,
        coalesce_ms=coalesce_ms,
        turns_sent=sent,
        turns_answered=len(latencies),
        elapsed_s=elapsed,
        turns_per_min=len(latencies) / elapsed * 60,
        p50_ms=_percentile(latencies, 50),
        p90_ms=_percentile(latencies, 90),
        p99_ms=_percentile(latencies, 99),
        max_ms=max(latencies, default=0.0),
        lost=lost,
        duplicated=duplicated,
        unanswered=unanswered,
        steady_turns_per_min=steady_rate,
        steady_p50_ms=_percentile(steady, 50),
        steady_p90_ms=_percentile(steady, 90),
        cpu_ms_per_turn=cpu,
    )


def _stack_cpu(stack: Stack) -> dict[str, float]:
    api, *workers = (p.pid for p in stack.procs)
    servers = stack.embedded
    groups = {
        "api": [api],
        "workers": workers,
        "postgres": servers.postgres_pids()[:1] if servers else [],  # the postmaster: its tree holds the rest
        "valkey": servers.redis_pids() if servers else [],
    }
    return {**cpu_seconds(groups), "load generator": own_cpu_s()}


def print_e2e(report: E2EReport) -> None:
    """The figures, one per line."""
    console.print(
        f"[bold]end to end[/] — {report.customers} customers × {report.rounds} conversation(s) × "
        f"{report.turns_per_customer} turns, {report.think_s:g} s to read and answer each reply (mean)"
        f"{', arriving over one conversation' if report.think_s > 0 else ''}, {report.workers} worker process(es) × "
        f"{report.slots} slots, coalescing window {report.coalesce_ms} ms"
    )
    console.print(f"  turns answered  {report.turns_answered} of {report.turns_sent} in {report.elapsed_s:.1f} s")
    console.print(f"  throughput      {report.turns_per_min:,.0f} turns/min")
    console.print(
        f"  reply latency   p50 {report.p50_ms:.0f} ms · p90 {report.p90_ms:.0f} ms · "
        f"p99 {report.p99_ms:.0f} ms · max {report.max_ms:.0f} ms (webhook sent → reply stored)"
    )
    if report.steady_turns_per_min:
        console.print(
            f"  while all {report.customers} talked  {report.steady_turns_per_min:,.0f} turns/min; reply p50 "
            f"{report.steady_p50_ms:.0f} ms · p90 {report.steady_p90_ms:.0f} ms"
        )
    console.print(f"  lost {report.lost} · duplicated {report.duplicated} · unanswered in time {report.unanswered}")
    if report.cpu_ms_per_turn:
        parts = " · ".join(f"{name} {ms:.1f}" for name, ms in report.cpu_ms_per_turn.items())
        service = sum(ms for name, ms in report.cpu_ms_per_turn.items() if name != "load generator")
        cores = os.cpu_count() or 1
        console.print(f"  CPU per turn    {parts} ms (service {service:.1f} ms)")
        # what the service alone could do with every core to itself: a ceiling the load on the machine can't move
        console.print(f"  CPU ceiling     {cores * 60_000 / max(service, 1e-9):,.0f} turns/min on {cores} cores")
    clean = report.lost == 0 and report.duplicated == 0
    # judged on the stretch when every customer was talking (the load the run is meant to offer), when there is one
    rate, p50 = report.steady_turns_per_min or report.turns_per_min, report.steady_p50_ms or report.p50_ms
    if report.think_s <= 0:
        # customers who answer at once: a capacity run, its latency is the queue they make
        ok = rate >= 6000 and clean
        target = "≥ 6,000 turns/min (all talking), 0 lost, 0 duplicated"
    else:
        # customers at a person's pace: the reply time they see, at the load they offer
        ok = rate >= 6000 and p50 <= 1000 and clean
        target = "reply p50 ≤ 1.0 s at ≥ 6,000 turns/min (all talking), 0 lost, 0 duplicated"
    console.print(f"  target {target}: " + ("[green]meets[/]" if ok else "[red]misses[/]"))
