"""What the worker tests share: fast queue timings, a conversation's key, a `comanda worker` process's environment."""

from __future__ import annotations

import os
from pathlib import Path

from channel_support import CUSTOMER, demo_tenant
from conftest import ROOT

from memory.db import Pool
from server.queue import QueueSettings, conversation_key

FAST = QueueSettings(coalesce_window_ms=0, reclaim_idle_ms=1500, lock_ttl_ms=1500, max_attempts=2)


async def conv_of(pool: Pool, phone: str = CUSTOMER) -> str:
    """The queue key of the demo restaurant's conversation with `phone`."""
    return conversation_key((await demo_tenant(pool)).id, phone)


def worker_env(database_url: str, valkey_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `comanda worker` subprocess on the test servers, with FAST's timings."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": valkey_url,
        "COMANDA_DATA_DIR": str(data_dir),
        "COMANDA_COALESCE_WINDOW_MS": "0",
        "COMANDA_QUEUE_RECLAIM_IDLE_MS": str(FAST.reclaim_idle_ms),
        "COMANDA_QUEUE_LOCK_TTL_MS": str(FAST.lock_ttl_ms),
        "COMANDA_QUEUE_MAX_ATTEMPTS": str(FAST.max_attempts),
        "PYTHONPATH": str(ROOT),
        **extra,
    }
