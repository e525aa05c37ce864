"""Worker supervisors: processes of ours that fork a fresh `comanda worker` whenever one dies."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import time
import traceback
from typing import Any

from redis import Redis as SyncRedis
from redis.exceptions import RedisError

from comanda.fault_harness.config import GROUP, READY
from comanda.loop import run_loop
from server.queue import stream_entries


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
