"""`comanda serve` as a user runs it: ready on the embedded servers, clean on Ctrl-C, data kept for next time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import free_port
from test_settings import SECRET, assert_one_clear_line, clean_env

from comanda.embedded import read_runtime


def _start(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "comanda.cli", "serve", "--port", str(port)],
        env=clean_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_ready(proc: subprocess.Popen[str], port: int, timeout: float = 90) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("not ready in time")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    return output


def _postgres_running(data: Path) -> bool:
    pid_file = data / "pg" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_starts_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    port = free_port()
    proc = _start(tmp_path, port)
    _wait_ready(proc, port)
    menu = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5)
    assert menu.status_code == 200
    # `comanda chat` and others find the API here, whatever port it was given
    assert read_runtime(tmp_path / "data")["api_url"] == f"http://127.0.0.1:{port}"
    output = _stop(proc)
    assert "api_url" not in read_runtime(tmp_path / "data")
    assert "Comanda is up" in output and "seeded the demo restaurant" in output
    assert not _postgres_running(tmp_path / "data")

    # second run: same data, nothing seeded again, ready quickly
    proc = _start(tmp_path, port)
    warm = _wait_ready(proc, port)
    output = _stop(proc)
    assert "seeded the demo restaurant" not in output
    assert warm < 30
    listing = subprocess.run(
        [sys.executable, "-m", "comanda.cli", "tenants", "list", "--json"],
        env=clean_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listing.returncode == 0, listing.stderr
    assert '"slug": "demo"' in listing.stdout


def _run(tmp_path: Path, command: str, **env: str) -> subprocess.CompletedProcess[str]:
    args = ["serve", "--port", str(free_port())] if command == "serve" else [command]
    return subprocess.run(
        [sys.executable, "-m", "comanda.cli", *args],
        env=clean_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unreachable_redis_exits_2_with_one_line(tmp_path: Path, command: str) -> None:
    proc = _run(
        tmp_path,
        command,
        REDIS_URL=f"redis://default:{SECRET}@127.0.0.1:{free_port()}/0",
        # a worker needs both; Redis is asked first
        **(
            {"DATABASE_URL": f"postgresql://comanda:{SECRET}@127.0.0.1:{free_port()}/comanda"}
            if command == "worker"
            else {}
        ),
    )
    assert_one_clear_line(proc, "REDIS_URL")
    assert "refused" in proc.stderr
    assert not (tmp_path / "data" / "pg").exists()  # it stopped before starting anything


@pytest.mark.parametrize("command", ["serve", "migrate", "worker"])
def test_an_unreachable_database_exits_2_with_one_line(tmp_path: Path, command: str, valkey_url: str) -> None:
    url = f"postgresql://comanda:{SECRET}@127.0.0.1:{free_port()}/comanda"
    proc = _run(tmp_path, command, DATABASE_URL=url, **({"REDIS_URL": valkey_url} if command == "worker" else {}))
    assert_one_clear_line(proc, "Postgres")
    assert "refused" in proc.stderr


@pytest.fixture
def restricted_database(pg_base_url: str) -> Iterator[str]:
    """A database owned by a role that is not a superuser, so it may not create the `vector` extension."""
    role, db = f"shop_{uuid.uuid4().hex[:8]}", f"shop_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'")
        conn.execute(f"CREATE DATABASE {db} OWNER {role}")
    info = psycopg.conninfo.conninfo_to_dict(pg_base_url)
    info.update(user=role, password=SECRET, dbname=db)
    yield psycopg.conninfo.make_conninfo(**info)  # type: ignore[arg-type]
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {db} WITH (FORCE)")
        conn.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_a_role_that_cannot_create_the_vector_extension_gets_the_friendly_message(
    tmp_path: Path, restricted_database: str, command: str
) -> None:
    proc = _run(tmp_path, command, DATABASE_URL=restricted_database)
    assert_one_clear_line(proc, "CREATE EXTENSION vector")
    assert "InsufficientPrivilege" not in proc.stderr
