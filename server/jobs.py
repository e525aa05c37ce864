"""Timed work on Postgres-backed jobs (procrastinate): unpaid PIX reminders and expiry, customers left untold of a
move, provider webhook events left unprocessed, and memory extraction after each finished turn.

Why procrastinate: the jobs live in the Postgres we already run (no new part), a periodic task is deferred once
per tick however many workers run (a unique row per task and timestamp), a job survives a worker's restart, and it
speaks async psycopg 3 like the rest of us. The conversation queue stays on Redis Streams (README, Decisions).
Every task is idempotent, so a tick that runs late, twice or after a crash changes nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.types import JSONValue

from memory.db import Pool
from memory.embeddings import Embedder
from tools.memory.extract import Extractor, extract_by_rules
from tools.memory.service import remember_turn
from tools.orders import unpaid
from tools.orders.notify import Notifier, tell_untold
from tools.privacy.service import purge_refused

log = logging.getLogger("comanda.jobs")

# every minute: a PIX reminder or expiry is at most a minute late
DEFAULT_CRON = "* * * * *"
# any constant: only one process creates procrastinate's tables
_SCHEMA_LOCK = 0x636F6D6A6F6273
EXTRACT_MEMORIES = "comanda.extract_memories"


@dataclass
class JobDeps:
    """What the tasks need, handed in by the composition root."""

    pool: Pool
    notifier: Notifier
    void: unpaid.VoidCharge | None = None
    # processes provider webhook events stored but not processed (a crash after the 200); returns how many
    replay_events: Callable[[], Awaitable[int]] | None = None
    # memory extraction: embeddings for stored facts, and the extractor (rules when None: the offline model)
    embedder: Embedder | None = None
    extractor: Extractor | None = None


def make_app(conninfo: str, deps: JobDeps, *, cron: str = DEFAULT_CRON) -> App:
    """The procrastinate app with our periodic tasks (`cron` may carry a 6th, seconds column, for tests)."""
    app = App(connector=PsycopgConnector(conninfo=conninfo, min_size=1, max_size=3))

    @app.periodic(cron=cron)
    @app.task(name="comanda.unpaid_pix", queue="comanda", pass_context=False)
    async def unpaid_pix(timestamp: int) -> None:
        report = await unpaid.sweep(deps.pool, deps.notifier, void=deps.void)
        if report.reminded or report.expired:
            log.info("unpaid PIX: reminded %s, expired %s", report.reminded, report.expired)

    @app.periodic(cron=cron)
    @app.task(name="comanda.tell_untold", queue="comanda", pass_context=False)
    async def untold(timestamp: int) -> None:
        # moves younger than this are still being told by whoever made them
        await tell_untold(deps.pool, deps.notifier, older_than=timedelta(seconds=30))

    @app.periodic(cron=cron)
    @app.task(name="comanda.payment_events", queue="comanda", pass_context=False)
    async def payment_events(timestamp: int) -> None:
        if deps.replay_events is not None:
            await deps.replay_events()

    @app.periodic(cron=cron)
    @app.task(name="comanda.purge_refused", queue="comanda", pass_context=False)
    async def refused(timestamp: int) -> None:
        # LGPD: a customer who refused the notice is kept only for their order; once it is done, they are erased
        if erased := await purge_refused(deps.pool):
            log.info("erased %s customer(s) who refused to have their data kept", erased)

    @app.task(name=EXTRACT_MEMORIES, queue="comanda", pass_context=False, retry=3)
    async def extract_memories(tenant_id: int, phone: str, texts: list[str], locale: str, source: str) -> None:
        report = await remember_turn(
            deps.pool,
            tenant_id,
            phone,
            texts,
            embedder=deps.embedder,
            extractor=deps.extractor,
            locale=locale,
            source_message=source,
        )
        if report.stored:
            log.info("memories: stored %s, superseded %s", len(report.stored), report.superseded)

    return app


class MemoryJobs:
    """Defers memory extraction after a finished turn, on the pool the worker already holds.

    The reply has gone out by then: the turn pays one INSERT, the extraction (model call, embeddings) runs on
    whichever jobs worker takes it. The queueing lock keeps one waiting extraction per conversation message.

    With the offline model (`every_turn=False`) a turn whose words hold nothing the rules would keep queues
    nothing: most turns ("quero 2 coca", "pix") would otherwise pay a job's round trips for no fact. A real
    model's extraction sees every turn, since it finds what rules can't.
    """

    def __init__(self, pool: Pool, *, every_turn: bool = False) -> None:
        self._app = App(connector=PsycopgConnector())
        self._pool = pool
        self._opened = False
        self._every_turn = every_turn

    async def defer(self, tenant_id: int, phone: str, texts: list[str], locale: str, source: str) -> None:
        """Queue the extraction of one turn's customer messages (`source`: the turn's last message id)."""
        if not self._every_turn and not extract_by_rules(texts):
            return
        if not self._opened:
            await self._app.open_async(self._pool)
            self._opened = True
        task = self._app.configure_task(EXTRACT_MEMORIES, queue="comanda", queueing_lock=f"mem:{source}")
        # a replayed turn finds its extraction already waiting: that one will do
        with contextlib.suppress(AlreadyEnqueued):
            await task.defer_async(
                tenant_id=tenant_id, phone=phone, texts=list[JSONValue](texts), locale=locale, source=source
            )


async def ensure_schema(conninfo: str, app: App) -> None:
    """Create procrastinate's tables once (they live beside ours; upgrades follow procrastinate's migrations)."""
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            row = await cur.fetchone()
            if row is not None and row[0]:
                return
            async with app.open_async():
                await app.schema_manager.apply_schema_async()
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


async def run_jobs(
    conninfo: str, deps: JobDeps, stop: asyncio.Event, *, cron: str = DEFAULT_CRON, name: str = ""
) -> None:
    """Run a jobs worker until `stop` is set."""
    app = make_app(conninfo, deps, cron=cron)
    await ensure_schema(conninfo, app)
    async with app.open_async():
        worker = asyncio.create_task(
            app.run_worker_async(
                queues=["comanda"],
                name=name or "comanda-jobs",
                concurrency=2,
                install_signal_handlers=False,
                # finished jobs are history nobody reads: keep the table small
                delete_jobs="successful",
            )
        )
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not worker.done():
            worker.cancel()
        # procrastinate shuts down gracefully on cancellation; never wait forever on it
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(worker, timeout=15)
        stopping.cancel()
