"""The event loop our long-running processes use: uvloop where it exists (measured: fewer CPU ms per turn)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on uvloop when installed, on the standard loop otherwise."""
    try:
        import uvloop
    except ImportError:  # Windows: uvloop doesn't build there
        return asyncio.run(main)
    return uvloop.run(main)


# a turn allocates thousands of short-lived containers: collecting the youngest generation every 700 allocations
# (CPython's default) ran ~200 collections per 400 turns; 5,000 keeps memory as flat and runs a tenth as many
GEN0_THRESHOLD = 5_000


def freeze_startup_heap() -> None:
    """Take everything built at start-up (modules, the compiled graph, prompts) out of the garbage collector's scans.

    A worker holds ~180,000 such objects; every older-generation collection walked them all, ~1 ms per turn
    measured. Called once the process is ready, before the first turn.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
