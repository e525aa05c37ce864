"""The queue worker: takes conversations with waiting messages, one at a time each, and runs their turns."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from server.queue import Head, InboundQueue, Queued, ReadyEntry

log = logging.getLogger("comanda.worker")

TurnHandler = Callable[[str, list[Queued]], Awaitable[None]]


# conversations a worker holds per turn slot: the others wait out their coalescing window, which costs nothing
HELD_PER_SLOT = 8


class Worker:
    """Reads the ready stream and runs up to `slots` turns at once in this process.

    It holds more conversations than that (`slots` × HELD_PER_SLOT): most of them are waiting for their coalescing
    window to close, and a sleeping conversation must not keep a ready one from running.
    """

    def __init__(self, queue: InboundQueue, handle: TurnHandler, *, slots: int = 8, name: str | None = None) -> None:
        self.queue = queue
        self.handle = handle
        self.slots = slots
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._running: set[asyncio.Task[None]] = set()
        self._free = asyncio.Semaphore(slots * HELD_PER_SLOT)
        self._busy = asyncio.Semaphore(slots)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then finish the turns under way (their messages are acknowledged)."""
        await self.queue.ensure_group()
        reclaim_every = self.queue.settings.reclaim_idle_ms / 2000
        next_reclaim = 0.0
        loop = asyncio.get_running_loop()
        log.info("worker %s up (%d slots)", self.name, self.slots)
        try:
            while not stop.is_set():
                await self._free.acquire()  # only read what we can start now: the rest stays for other workers
                self._free.release()
                entries: list[ReadyEntry] = []
                try:
                    if loop.time() >= next_reclaim:
                        entries = await self.queue.reclaim(self.name, self._free_slots())
                        next_reclaim = loop.time() + reclaim_every
                        if entries:
                            log.warning("reclaimed %d conversation(s) from a worker that stopped", len(entries))
                    if not entries:
                        entries = await self.queue.read(self.name, self._free_slots(), block_ms=500)
                except RedisError as exc:
                    # Redis restarting or unreachable: what we hold stays pending and comes back; keep trying
                    log.error("cannot read the queue (%s); retrying in 1 s", exc)
                    await asyncio.sleep(1)
                    continue
                for entry in entries:
                    await self._free.acquire()
                    task = asyncio.create_task(self._conversation(entry))
                    self._running.add(task)
                    task.add_done_callback(self._finished)
        finally:
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)

    def _free_slots(self) -> int:
        return max(1, self._free._value)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._free.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("conversation task failed", exc_info=task.exception())

    async def _conversation(self, entry: ReadyEntry) -> None:
        """Run turns for one conversation until its stream is empty; acknowledge the ready entry at the end."""
        token = uuid.uuid4().hex
        head = await self.queue.take(entry.conv, token)
        if head is None:
            # another worker runs this conversation and looks at its stream again before letting go, or
            # nothing waits any more
            await self.queue.ack([entry.id])
            return
        beat = asyncio.create_task(self._heartbeat(entry, token))
        held = True
        acked = False
        retry_in: float | None = None
        try:
            while head is not None:
                await self._coalesce(head)
                attempts, batch = await self.queue.start(entry.conv)
                if attempts > self.queue.settings.max_attempts:
                    await self.queue.dead_letter(entry.conv, batch, attempts - 1)
                elif batch and not await self._turn(entry.conv, batch, attempts):
                    # let go first, so the retry's ready entry can't be dropped by a worker finding us holding it
                    await self.queue.release(entry.conv, token)
                    held = False
                    retry_in = min(0.2 * 2**attempts, 10)
                    break
                # removes the batch; None: nothing else waited, and the same script let go of the conversation
                # and acknowledged the ready entry
                head = await self.queue.finish(entry.conv, token, batch, entry.id)
                acked = head is None
                held = not acked
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            if held:
                await self.queue.release(entry.conv, token)
        if retry_in is not None:
            # back off without the heartbeat (the lock is already let go: renewing it would only warn)
            await asyncio.sleep(retry_in)
            await self.queue.notify(entry.conv)
        if not acked:
            await self.queue.ack([entry.id])

    async def _coalesce(self, head: Head) -> None:
        """Wait until the oldest message is `coalesce_window_ms` old, so a customer's burst makes one turn."""
        wait_ms = head.oldest_ms + self.queue.settings.coalesce_window_ms - head.now_ms
        if wait_ms > 0:
            await asyncio.sleep(wait_ms / 1000)

    async def _turn(self, conv: str, batch: list[Queued], attempts: int) -> bool:
        """One turn; False if it failed (its messages stay queued for another attempt)."""
        try:
            async with self._busy:
                await self.handle(conv, batch)
        except Exception as exc:
            log.exception("turn of %s failed (attempt %d of %d)", conv, attempts, self.queue.settings.max_attempts)
            await self.queue.record_error(conv, f"{type(exc).__name__}: {exc}")
            return False
        return True

    async def _heartbeat(self, entry: ReadyEntry, token: str) -> None:
        """Keep our lock and our ready entry fresh while a long turn runs (or other workers would reclaim it)."""
        every = self.queue.settings.lock_ttl_ms / 3000
        while True:
            await asyncio.sleep(every)
            if not await self.queue.renew(entry.conv, token):
                log.warning("lost the lock of %s mid-turn", entry.conv)
            await self.queue.touch(self.name, entry.id)
