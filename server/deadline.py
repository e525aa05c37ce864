"""Waiting with a deadline on the request path, without waiting for the work we stopped waiting for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

# work we stopped waiting for: asyncio keeps only weak references to tasks, and an unreferenced task can vanish
_left_running: set[asyncio.Task[Any]] = set()


async def within(work: Awaitable[T], timeout_s: float) -> T:
    """`work`'s result if it comes within `timeout_s`; `TimeoutError` otherwise, leaving the work to finish alone.

    Not `asyncio.wait_for`: it cancels and then waits for the cancellation to end. A psycopg query cancelled on a
    server that doesn't answer spends up to 10 s cancelling (a cancel request, then 5 s for the query to stop), and
    redis-py sometimes swallows the cancellation; that wait is how the webhook took 19-27 s in a Postgres outage.
    Left alone, the work ends when its own socket timeouts fire or the server comes back.
    """
    task = asyncio.ensure_future(work)
    await wait_quietly(task, timeout_s)
    if not task.done():
        _left_running.add(task)
        task.add_done_callback(_forget)
        raise TimeoutError(f"no answer within {timeout_s:g} s")
    return task.result()


async def wait_quietly(task: asyncio.Future[Any], timeout_s: float) -> None:
    """Wait up to `timeout_s` for `task` to end, however it ends; never cancel it."""
    await asyncio.wait({task}, timeout=timeout_s)


def _forget(task: asyncio.Task[Any]) -> None:
    _left_running.discard(task)
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.info("work given up on after its deadline failed later: %s: %s", type(exc).__name__, exc)
