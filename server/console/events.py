"""Live updates for open consoles: Postgres NOTIFY → one listener per process → every console of that restaurant.

Triggers (migration 0012) notify `comanda_console` when a ticket opens or changes, a ticket message arrives or an
order is placed or moves, whichever process made the change (a worker, the payment webhook, the CLI). One LISTEN
connection per server process fans the notices out to in-memory queues, so 200 consoles cost one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Literal

import psycopg
from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger("comanda.console")
CHANNEL = "comanda_console"


class ConsoleEvent(BaseModel):
    """Something a console should show: `kind` and the id of the ticket or order it concerns."""

    model_config = ConfigDict(frozen=True)

    tenant_id: int
    kind: Literal["ticket", "message", "order"]
    id: int
    op: Literal["insert", "update"]


class EventHub:
    """Subscribers per restaurant, fed by one LISTEN connection started with the first subscriber."""

    def __init__(self, conninfo: str, queue_size: int = 256) -> None:
        self.conninfo = conninfo
        self.queue_size = queue_size
        self._subscribers: dict[int, set[asyncio.Queue[ConsoleEvent]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    async for notice in conn.notifies():
                        self._dispatch(notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                # consoles keep their pages; they miss live updates until the database is back
                log.exception("console event listener lost its connection; retrying")
                self._listening.clear()
                await asyncio.sleep(1.0)

    def _dispatch(self, payload: str) -> None:
        try:
            event = ConsoleEvent.model_validate(json.loads(payload))
        except (ValueError, ValidationError):
            log.warning("ignored a malformed console notice")
            return
        for queue in list(self._subscribers.get(event.tenant_id, ())):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)  # a console that stopped reading loses events, not the others

    async def start(self) -> None:
        """Start listening (once) and wait until LISTEN is in place, so no change made after this is missed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(), name="console-events")
        await asyncio.wait_for(self._listening.wait(), timeout=10)

    @contextlib.asynccontextmanager
    async def subscribe(self, tenant_id: int) -> AsyncIterator[asyncio.Queue[ConsoleEvent]]:
        """A queue of the restaurant's events for as long as the block runs."""
        await self.start()
        queue: asyncio.Queue[ConsoleEvent] = asyncio.Queue(self.queue_size)
        self._subscribers.setdefault(tenant_id, set()).add(queue)
        try:
            yield queue
        finally:
            self._subscribers[tenant_id].discard(queue)

    def subscribers(self) -> int:
        """How many consoles are listening (for the benchmark and metrics)."""
        return sum(len(s) for s in self._subscribers.values())

    async def close(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=5)
            self._task = None
