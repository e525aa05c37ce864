"""The audit after a run: every message answered once, one order per finished script, nothing stuck."""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from comanda.fault_harness.config import GROUP, ORDER_NUMBER, POINTS, PREFIX, READY, TURN_KEY, FaultReport
from comanda.fault_harness.run import Customer, Run
from server.queue import conversation_key, stream_entries


async def audit(run: Run, started: float, last_fault: float, log_dir: Path) -> FaultReport:
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

    state = await queue_state(run.redis)
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


async def queue_state(redis: Redis) -> dict[str, list[str]]:
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
