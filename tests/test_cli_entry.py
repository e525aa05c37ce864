"""The CLI's entry point: --version, a --help that lists the real commands, and `comanda chat` finding the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from channel_support import running_worker, webhook_app
from conftest import DEMO_MENU, ROOT
from redis.asyncio import Redis
from support import live_server
from test_chat_cli import NOW, chat
from typer.testing import CliRunner

from comanda.cli import COMMANDS, app, full_cli
from comanda.embedded import read_runtime, record_runtime
from memory.db import Pool
from memory.embeddings import Embedder
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json


def test_version_prints_the_installed_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "comanda.cli", "--version"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "comanda 0.1.0"


def test_help_lists_every_command_of_the_full_cli_with_its_own_help() -> None:
    # the quick listing is written down in comanda/cli.py: it must say what the real commands say
    real = full_cli()
    listed = {name: real.get_command(None, name) for name in real.list_commands(None)}  # type: ignore[arg-type]
    assert list(COMMANDS) == list(listed)
    for name, command in listed.items():
        assert command is not None and COMMANDS[name] == command.get_short_help_str(limit=500), name
    shown = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "300"})
    assert shown.exit_code == 0
    assert all(f" {name} " in shown.output for name in COMMANDS)


async def test_chat_finds_a_server_on_another_port_from_the_runtime_file(
    db: Pool, embedder: Embedder, redis: Redis, database_url: str, valkey_url: str, tmp_path: Path
) -> None:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    script = tmp_path / "s.txt"
    script.write_text("oi\n")
    async with live_server(webhook_app(db, redis, NOW)) as base, running_worker(db, redis, NOW):
        assert not base.endswith(":8000")
        record_runtime(tmp_path / ".comanda", api_url=base)  # what `comanda serve` writes once it listens
        done = await chat(["--script", str(script)], database_url, valkey_url, tmp_path)  # no --url
    assert done.returncode == 0, done.stdout + done.stderr
    assert any(line.startswith("< bot:") for line in done.stdout.splitlines()), done.stdout


def test_the_runtime_file_keeps_the_other_entries_and_forgets_on_none(tmp_path: Path) -> None:
    record_runtime(tmp_path, database_url="postgresql://x", api_url="http://127.0.0.1:8123")
    record_runtime(tmp_path, api_url=None)
    assert read_runtime(tmp_path) == {"database_url": "postgresql://x"}
