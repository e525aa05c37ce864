"""The queue worker: takes conversations with waiting messages, one at a time each, and runs their turns."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.inbound import InboundMessage
from server.queue import Head, InboundQueue, Later, Queued, ReadyEntry
from server.tenants import TenantLookupUnavailable

log = logging.getLogger("comanda.worker")

TurnHandler = Callable[[str, list[Queued]], Coroutine[Any, Any, None]]
# whether a lone message, given what the bot asked last, is a whole answer that needn't wait for more
WholeAnswer = Callable[[str | None, InboundMessage], bool]


# conversations a worker holds per turn slot: the others wait out their coalescing window, which costs nothing
HELD_PER_SLOT = 8
# how long we wait for a helper task (the heartbeat, a cancelled turn) to end: redis-py's asyncio client sometimes
# swallows a cancellation, and a turn must never wait on its helpers forever
HELPER_STOP_S = 2.0
# a failure of Postgres or Redis themselves says nothing about the messages: retry every few seconds, and don't
# count it towards dead-lettering (an outage must not throw customers' messages away)
OUTAGE_RETRY_S = 2.0
_OUTAGES = (
    psycopg.OperationalError,
    PoolTimeout,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TenantLookupUnavailable,
)


class LockLost(Exception):
    """Another worker may run this conversation now: this one must stop, say nothing, and touch nothing."""


async def stop_task(task: asyncio.Task[object], timeout_s: float = HELPER_STOP_S) -> None:
    """Cancel a task and wait a bounded time for it to end (never `cancel(); await task`)."""
    if not task.done():
        task.cancel()
    await asyncio.wait({task}, timeout=timeout_s)
    if task.done() and not task.cancelled() and task.exception() is not None:
        log.debug("stopped task had failed", exc_info=task.exception())


class Worker:
    """Reads the ready stream and runs up to `slots` turns at once in this process.

    It holds more conversations than that (`slots` × HELD_PER_SLOT): most of them are waiting for their coalescing
    window to close, and a sleeping conversation must not keep a ready one from running.
    """

    def __init__(
        self,
        queue: InboundQueue,
        handle: TurnHandler,
        *,
        slots: int = 8,
        name: str | None = None,
        shutdown_grace_s: float = 10.0,
        whole_answer: WholeAnswer | None = None,
    ) -> None:
        self.queue = queue
        self.handle = handle
        self.whole_answer = whole_answer
        self.slots = slots
        self.shutdown_grace_s = shutdown_grace_s
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._running: set[asyncio.Task[None]] = set()
        self._free = asyncio.Semaphore(slots * HELD_PER_SLOT)
        self._busy = asyncio.Semaphore(slots)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then give the turns under way `shutdown_grace_s` to finish; those that don't
        are abandoned, their messages left queued for another worker to reclaim."""
        await self.queue.ensure_group()
        reclaim_every = self.queue.settings.reclaim_idle_ms / 2000
        next_reclaim = 0.0
        loop = asyncio.get_running_loop()
        log.info("worker %s up (%d slots)", self.name, self.slots)
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                # only read what we can start now: the rest stays for other workers
                free = asyncio.create_task(self._free.acquire())
                await asyncio.wait({free, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not free.done():
                    await stop_task(free)
                if free.done() and not free.cancelled():
                    self._free.release()
                if stop.is_set():
                    break
                entries: list[ReadyEntry] = []
                reclaimed = False
                try:
                    if loop.time() >= next_reclaim:
                        entries = await self.queue.reclaim(self.name, self._free_slots())
                        reclaimed = bool(entries)
                        next_reclaim = loop.time() + reclaim_every
                        if entries:
                            log.warning("reclaimed %d conversation(s) from a worker that stopped", len(entries))
                        await self._forget_dead_consumers()
                    if not entries:
                        entries = await self.queue.read(self.name, self._free_slots(), block_ms=500)
                except RedisError as exc:
                    # Redis restarting or unreachable: what we hold stays pending and comes back; keep trying
                    log.error("cannot read the queue (%s); retrying in 1 s", exc)
                    await asyncio.sleep(1)
                    continue
                for entry in entries:
                    await self._free.acquire()
                    task = asyncio.create_task(self._conversation(entry, reclaimed))
                    self._running.add(task)
                    task.add_done_callback(self._finished)
        finally:
            await stop_task(stopping, 0)
            await self._drain()

    async def _drain(self) -> None:
        """Let the turns under way finish within the grace period; abandon the rest (they will be reclaimed)."""
        if not self._running:
            return
        _, late = await asyncio.wait(set(self._running), timeout=self.shutdown_grace_s)
        if late:
            log.warning("stopping with %d turn(s) unfinished: another worker will take them over", len(late))
            await asyncio.gather(*(stop_task(t) for t in late))

    async def _forget_dead_consumers(self) -> None:
        try:
            removed = await self.queue.forget_idle_consumers(self.name)
        except RedisError as exc:
            log.warning("could not clean up idle consumers: %s", exc)
            return
        if removed:
            log.info("removed %d idle consumer(s) of workers that stopped", removed)

    def _free_slots(self) -> int:
        return max(1, self._free._value)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._free.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("conversation task failed", exc_info=task.exception())

    async def _conversation(self, entry: ReadyEntry, reclaimed: bool = False) -> None:
        """Run turns for one conversation until its stream is empty; acknowledge the ready entry at the end."""
        token = uuid.uuid4().hex
        taken = await self.queue.take(entry.conv, token)
        if taken == "empty" or (taken == "held" and not reclaimed):
            # nothing waits any more, or another worker runs this conversation and looks at its stream again
            # before letting go
            await self.queue.ack([entry.id])
            return
        if taken == "held":
            # reclaimed from a dead worker whose lock hasn't expired yet: acknowledging would strand its messages
            # (the dead holder never looks again); left pending, the entry is reclaimed again once the lock is gone
            return
        head: Head | None = taken
        lost = asyncio.Event()
        beat = asyncio.create_task(self._heartbeat(entry, token, lost))
        held = True
        acked = False
        retry_in: float | None = None
        try:
            while head is not None:
                starts, failures, batch = await self._start(entry.conv, head)
                settings = self.queue.settings
                if failures >= settings.max_attempts or starts > settings.max_starts:
                    await self.queue.dead_letter(entry.conv, batch, failures or starts - 1)
                elif batch:
                    retry_in = await self._turn(entry.conv, batch, failures + 1, lost)
                    if retry_in is not None:
                        # let go first, so the retry's ready entry can't be dropped by a worker finding us holding it
                        await self.queue.release(entry.conv, token)
                        held = False
                        break
                if lost.is_set():
                    raise LockLost(entry.conv)
                # removes the batch; None: nothing else waited, and the same script let go of the conversation
                # and acknowledged the ready entry
                head = await self.queue.finish(entry.conv, token, batch, entry.id)
                acked = head is None
                held = not acked
        except LockLost:
            # leave the entry pending and untouched: it goes idle and is reclaimed, by us or another worker, and
            # whoever holds the lock then runs the messages still queued
            log.warning("lost the lock of %s mid-turn; leaving it to be reclaimed", entry.conv)
            return
        finally:
            await stop_task(beat)
            if held and not lost.is_set():
                await self.queue.release(entry.conv, token)
        if retry_in is not None:
            # back off without the heartbeat (the lock is already let go: renewing it would only warn)
            await asyncio.sleep(retry_in)
            await self.queue.notify(entry.conv)
        if not acked:
            await self.queue.ack([entry.id])

    async def _start(self, conv: str, head: Head) -> tuple[int, int, list[Queued]]:
        """Wait for a customer's burst to end, so it makes one turn, then take it: until the conversation has been
        quiet for `coalesce_quiet_ms`, and never past `coalesce_window_ms` after its oldest message. A lone
        message that answers the bot's question whole (`whole_answer`) doesn't wait."""
        window, quiet = self.queue.settings.coalesce_window_ms, self.queue.settings.coalesce_quiet_ms
        if window <= 0 or self._whole(head):
            found = await self.queue.start(conv)
            assert not isinstance(found, Later)
            return found
        last_ms, now_ms = head.oldest_ms, head.now_ms
        while True:
            start_at = min(last_ms + quiet, head.oldest_ms + window)
            if now_ms < start_at:
                await asyncio.sleep((start_at - now_ms) / 1000)
            found = await self.queue.start(conv, quiet_since_ms=last_ms, window_ends_ms=head.oldest_ms + window)
            if not isinstance(found, Later):
                return found
            now_ms, last_ms = found.now_ms, found.newest_ms

    def _whole(self, head: Head) -> bool:
        if self.whole_answer is None or head.asked is None:
            return False
        message = head.lone_message()
        return message is not None and self.whole_answer(head.asked, message)

    async def _turn(self, conv: str, batch: list[Queued], attempts: int, lost: asyncio.Event) -> float | None:
        """One turn; None if it went through, else seconds to wait before retrying it (its messages stay queued).

        The turn is abandoned as soon as the lock is lost: another worker may be running the conversation.
        """
        async with self._busy:
            turn = asyncio.create_task(self.handle(conv, batch))
            watch = asyncio.create_task(lost.wait())
            try:
                await asyncio.wait({turn, watch}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await stop_task(watch, 0)
            if not turn.done():
                await stop_task(turn)
                raise LockLost(conv)
        exc = turn.exception() if not turn.cancelled() else asyncio.CancelledError()
        if exc is None:
            return None
        if isinstance(exc, _OUTAGES):
            log.error("turn of %s failed: Postgres or Redis unavailable (%s); retrying", conv, exc)
            await self._forgive(conv, batch)
            return OUTAGE_RETRY_S
        log.error(
            "turn of %s failed (attempt %d of %d)", conv, attempts, self.queue.settings.max_attempts, exc_info=exc
        )
        with contextlib.suppress(RedisError):
            await self.queue.record_failure(conv, batch, f"{type(exc).__name__}: {exc}")
        return min(0.2 * 2**attempts, 10)

    async def _forgive(self, conv: str, batch: list[Queued]) -> None:
        with contextlib.suppress(RedisError):
            await self.queue.forgive(conv, batch)

    async def _heartbeat(self, entry: ReadyEntry, token: str, lost: asyncio.Event) -> None:
        """Keep our lock and our ready entry fresh while a long turn runs (or other workers would reclaim it).

        Once the lock is gone it sets `lost` and stops for good: touching the entry then would keep it from being
        reclaimed while nobody runs the conversation.
        """
        every = self.queue.settings.lock_ttl_ms / 3000
        while not lost.is_set():
            await asyncio.sleep(every)
            try:
                if not await self.queue.renew(entry.conv, token):
                    lost.set()
                    return
                await self.queue.touch(self.name, entry.id)
            except RedisError as exc:
                # Redis is briefly away: the lock's TTL covers a few missed beats; the next renew tells
                log.warning("heartbeat of %s failed: %s", entry.conv, exc)
