"""`comanda worker`: queue workers as separate processes, on the same Redis and Postgres as the web server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal

from comanda.embedded import read_runtime
from comanda.logs import configure_logging
from comanda.loop import freeze_startup_heap, run_loop
from comanda.runtime import Infra, open_connections
from comanda.settings import ConfigError, Settings
from comanda.wiring import build_worker, close_channel, outbound_channel, with_jobs

log = logging.getLogger("comanda.worker")


def shared_infra(settings: Settings) -> Infra:
    """Postgres and Redis from DATABASE_URL / REDIS_URL, or those of the `comanda serve` running here."""
    runtime = read_runtime(settings.data_dir)
    db = settings.database_url or runtime.get("database_url")
    redis = settings.redis_url or runtime.get("redis_url")
    if not db or not redis:
        raise ConfigError(
            "no Postgres/Redis to work with: start the service first (`make run`) "
            "or set DATABASE_URL and REDIS_URL to the ones the web server uses"
        )
    return Infra(db, redis)


async def work(
    settings: Settings, *, slots: int | None = None, stop: asyncio.Event | None = None, index: int = 0
) -> None:
    """Run one worker in this process until `stop` is set (or SIGINT/SIGTERM); worker `index` of its group serves
    its metrics on COMANDA_WORKER_METRICS_PORT + index."""
    stop = stop or asyncio.Event()
    if settings.worker_metrics_port:
        from server.metrics import serve_worker_metrics

        serve_worker_metrics(settings.worker_metrics_port + index, settings.host)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    conns = await open_connections(settings, shared_infra(settings))
    channel = outbound_channel(settings, conns.pool)
    try:
        worker = await build_worker(settings, conns.pool, conns.redis, channel, slots=slots)
        freeze_startup_heap()
        await with_jobs(worker.run(stop), settings, conns.pool, channel, stop)
    finally:
        await close_channel(channel)
        await conns.close()


def _process_main(slots: int | None, index: int) -> None:
    # a spawned child reads the same environment and .env as its parent
    settings = Settings()
    # a spawned child inherits none of its parent's logging: without this its lines would go out unmasked
    configure_logging(settings)
    with contextlib.suppress(KeyboardInterrupt):
        run_loop(work(settings, slots=slots, index=index))


def run_processes(settings: Settings, concurrency: int, slots: int | None = None) -> int:
    """Run `concurrency` worker processes until interrupted; returns how many exited with an error."""
    shared_infra(settings)  # fail here, once, with the clear message
    if concurrency == 1:
        run_loop(work(settings, slots=slots))
        return 0
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_main, args=(slots, i), name=f"comanda-worker-{i}") for i in range(concurrency)]
    for p in procs:
        p.start()

    def stop_children(signum: int, _frame: object) -> None:
        # a supervisor stops us with SIGTERM: our children must stop too, not run on as orphans
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signum)

    signal.signal(signal.SIGTERM, stop_children)
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            p.join(timeout=30)
    return sum(1 for p in procs if p.exitcode not in (0, -signal.SIGINT, -signal.SIGTERM))
