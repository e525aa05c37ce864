"""`comanda serve` as a user runs it: ready on the embedded servers, clean on Ctrl-C, data kept for next time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import free_port
from test_settings import clean_env


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
    output = _stop(proc)
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
