"""`comanda serve` with COMANDA_POS=sqs publishes the outbox from its own process (moto's server on loopback)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import ROOT, free_port
from relay_support import AWS_ENV, Moto, fifo_queue, make_store, receive_all

from memory.db import Pool

# the moto server fixture
pytest_plugins = ("relay_support",)


def _ready(proc: subprocess.Popen[str], port: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("comanda serve was not ready in time")


def _serve(port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "comanda.cli", "serve", "--no-worker", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def test_serve_with_pos_sqs_publishes_the_outbox(
    db: Pool, database_url: str, valkey_url: str, moto: Moto, tmp_path: Path
) -> None:
    store = await make_store(db, "nona", "+5511900000001")
    url = fifo_queue(moto, "nona")
    await store.configure(url)
    order_id = await store.place()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("COMANDA_", "TWILIO_"))},
        **AWS_ENV,
        "DATABASE_URL": database_url,
        "REDIS_URL": valkey_url,
        "COMANDA_DATA_DIR": str(tmp_path / "data"),
        "COMANDA_DEMO_SEED": "false",
        "COMANDA_POS": "sqs",
        "COMANDA_SQS_ENDPOINT_URL": moto.url,
    }
    proc = _serve(port, env)
    try:
        await asyncio.to_thread(_ready, proc, port)
        [message] = await asyncio.to_thread(receive_all, moto, url, expect=1, timeout_s=30)
        assert message["event"]["type"] == "order.placed" and message["event"]["order"]["order_id"] == order_id
        assert all(r.published_at is not None for r in await store.rows())
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = await asyncio.to_thread(proc.communicate, timeout=60)
    assert proc.returncode == 0, output
    assert "POS events: SQS FIFO per store (relay in this process)" in output
