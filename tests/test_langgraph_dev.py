"""`langgraph dev` (Studio's local server, in-memory runtime) serves our graph from langgraph.json, offline.

No DATABASE_URL: the graph factory (comanda/studio.py) starts the embedded Postgres under COMANDA_DATA_DIR, migrates
it and seeds the demo restaurant. A client talks to it the way Studio does, through langgraph-sdk, with a plain run
context (tenant slug and phone).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, free_port
from langgraph_sdk import get_client

pytestmark = pytest.mark.slow

# the first run builds everything: embedded Postgres, migrations, the demo menu with its embeddings
STARTUP_S = 240


def _langgraph_dev(port: int, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "COMANDA_DATABASE_URL", "REDIS_URL")}
    env.update(
        COMANDA_DATA_DIR=str(data_dir),
        COMANDA_MODEL="offline",
        # nothing leaves the machine: no CLI analytics, no LangSmith traces
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGSMITH_TRACING="false",
    )
    cli = Path(sys.executable).parent / "langgraph"
    command = [str(cli), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, _tail(log)
            try:
                if (await http.get(f"{base}/ok", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    raise AssertionError(f"langgraph dev did not come up:\n{_tail(log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # Ctrl-C, as a developer stops it: the server exits and the embedded Postgres it started stops with it
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def test_langgraph_dev_answers_oi_through_the_sdk(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "langgraph-dev.log"
    proc = _langgraph_dev(port, tmp_path / "data", log)
    try:
        await _wait_ready(base, proc, log)
        client = get_client(url=base)
        thread = await client.threads.create()
        out = await asyncio.wait_for(
            client.runs.wait(
                thread["thread_id"],
                "comanda",
                input={"messages": [{"type": "human", "content": "oi"}]},
                context={"tenant": "demo", "phone": "+5511999990042"},
            ),
            timeout=STARTUP_S,
        )
        assert isinstance(out, dict), out
        reply = out["messages"][-1]
        # a new customer is greeted by the demo restaurant's registration agent, from the database
        assert reply["type"] == "ai" and reply["name"] == "registration", out
        assert "Brasa & Forno" in reply["content"], reply
        state = await client.threads.get_state(thread["thread_id"])
        assert state["values"]["awaiting"] == "registration.name"  # the platform's checkpointer kept the state
    finally:
        _stop(proc)
    assert not (tmp_path / "data" / "pg" / "postmaster.pid").exists(), "the embedded Postgres was left running"
