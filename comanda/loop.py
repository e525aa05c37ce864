"""The event loop our long-running processes use: uvloop where it exists (measured: fewer CPU ms per turn)."""

from __future__ import annotations

import asyncio
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
