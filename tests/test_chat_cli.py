"""`comanda chat`: a real subprocess posting signed webhooks to a live server and printing what the bot says."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from channel_support import CUSTOMER, PUBLIC, TOKEN, demo_tenant, running_worker, webhook_app
from conftest import ROOT, free_port
from redis.asyncio import Redis
from support import live_server

from memory.db import Pool
from server.channels import ConsoleChannel
from server.queue import QueueSettings

NOW = QueueSettings(coalesce_window_ms=0)


def chat_env(database_url: str, valkey_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": valkey_url,
        "COMANDA_DATA_DIR": str(tmp_path / ".comanda"),
        # the same signing secret and public address as the server under test
        "COMANDA_SECRET_KEY": TOKEN,
        "COMANDA_PUBLIC_BASE_URL": PUBLIC,
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }


async def chat(args: list[str], database_url: str, valkey_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = chat_env(database_url, valkey_url, tmp_path)
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "comanda.cli", "chat", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_script_runs_through_the_webhook_and_prints_replies_with_their_trace(  # type: ignore[no-untyped-def]
    demo: Pool, redis: Redis, database_url: str, valkey_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "conversa.txt"
    script.write_text("# a new customer\noi\n\nMaria Souza\n")
    async with live_server(webhook_app(demo, redis, NOW)) as base, running_worker(demo, redis, NOW):
        done = await chat(["--script", str(script), "--trace", "--url", base], database_url, valkey_url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "> oi"
    assert any("como posso te chamar" in ln.lower() for ln in lines), done.stdout
    assert "> Maria Souza" in lines
    assert any("Maria" in ln and ln.startswith("< bot:") for ln in lines[lines.index("> Maria Souza") :]), done.stdout
    # the trace: the route and who decided it, the tools the turn used with their results
    assert any(ln.strip().startswith("· route registration (") for ln in lines), done.stdout
    assert any(ln.strip().startswith("· tool ") for ln in lines), done.stdout
    assert any("ms in the graph" in ln for ln in lines)


async def test_the_customer_sees_the_confirmation_of_their_erasure_and_nothing_of_theirs_stays(  # type: ignore[no-untyped-def]
    demo: Pool, redis: Redis, database_url: str, valkey_url: str, tmp_path: Path
) -> None:
    """The erasing turn's reply is swept with the customer's data (server/turns.py): the console customer still reads
    it, and neither Postgres nor Redis keeps anything naming them."""
    script = tmp_path / "apagar.txt"
    lines = ["oi", "Maria Souza", "Rua Capote Valente, 77, apto 12, Pinheiros", "pular", "sim"]
    script.write_text("\n".join([*lines, "apague meus dados", "sim"]) + "\n")
    async with live_server(webhook_app(demo, redis, NOW)) as base, running_worker(demo, redis, NOW):
        args = ["--script", str(script), "--trace", "--url", base, "--timeout", "15"]
        done = await chat(args, database_url, valkey_url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.splitlines()
    last = len(out) - 1 - out[::-1].index("> sim")
    assert any(ln.startswith("< bot:") and "apaguei seus dados" in ln for ln in out[last:]), done.stdout
    async with demo.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM outbound_messages WHERE phone = %s", (CUSTOMER,))
        assert await cur.fetchone() == {"n": 0}
        cur = await conn.execute("SELECT count(*) AS n FROM customers WHERE phone = %s", (CUSTOMER,))
        assert await cur.fetchone() == {"n": 0}
    assert [k async for k in redis.scan_iter(match=f"*{CUSTOMER}*")] == []
    # and the reply's copy went once the CLI read it
    assert [k async for k in redis.scan_iter(match="comanda:farewell:*")] == []


async def test_a_reply_that_never_comes_fails_the_script(  # type: ignore[no-untyped-def]
    demo: Pool, redis: Redis, database_url: str, valkey_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "s.txt"
    script.write_text("oi\n")
    async with live_server(webhook_app(demo, redis, NOW)) as base:  # no worker: nobody answers
        done = await chat(
            ["--script", str(script), "--url", base, "--timeout", "2"], database_url, valkey_url, tmp_path
        )
    assert done.returncode == 1
    assert "no reply within 2 s" in done.stdout


async def test_without_a_server_it_says_how_to_start_one(database_url: str, valkey_url: str, tmp_path: Path) -> None:
    done = await chat(["--url", f"http://127.0.0.1:{free_port()}"], database_url, valkey_url, tmp_path)
    assert done.returncode == 2
    assert "No Comanda server answers" in done.stderr and "make run" in done.stderr


async def test_interactive_chat_shows_replies_and_an_agents_message_as_it_arrives(  # type: ignore[no-untyped-def]
    demo: Pool, redis: Redis, database_url: str, valkey_url: str, tmp_path: Path
) -> None:
    async with live_server(webhook_app(demo, redis, NOW)) as base, running_worker(demo, redis, NOW):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "comanda.cli",
            "chat",
            "--url",
            base,
            env=chat_env(database_url, valkey_url, tmp_path),
            cwd=tmp_path,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(b"oi\n")
            await proc.stdin.drain()
            seen = await read_until(proc.stdout, "como posso te chamar")
            # nobody types: a person's message must still show up
            await ConsoleChannel(demo).send(await demo_tenant(demo), CUSTOMER, "Aqui é a Ana, da loja!", kind="agent")
            seen += await read_until(proc.stdout, "Aqui é a Ana, da loja!")
            proc.stdin.close()
            assert await asyncio.wait_for(proc.wait(), 30) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert "< agent: Aqui é a Ana, da loja!" in seen


async def read_until(stream: asyncio.StreamReader, text: str, timeout_s: float = 30) -> str:
    """What the process printed until `text` appeared (fails after `timeout_s`)."""
    seen = ""
    async with asyncio.timeout(timeout_s):
        while text not in seen:
            chunk = await stream.read(4096)
            if not chunk:
                raise AssertionError(f"output ended before {text!r}:\n{seen}")
            seen += chunk.decode()
    return seen
