"""The outbox relay: publishes outbox rows to each store's SQS FIFO queue, and applies the POS's status updates
that come back on the store's second FIFO queue.

Publishing, one store at a time per claim (see `outbox.claim`): in one transaction, lock the store's oldest due
rows (FOR UPDATE SKIP LOCKED), render them as contract events, `SendMessageBatch` them (up to 10 per call,
`MessageGroupId` = store, `MessageDeduplicationId` = event id), mark published the ones SQS accepted, commit.
A relay that dies before the commit leaves the rows unpublished; the next one sends them again with the same
dedupe ids, so delivery is at-least-once and consumers dedupe by `event_id`.

Failures are told apart by whose fault they are:
- SQS unreachable, throttling, 5xx, no credentials: not the rows' fault. Nothing is counted; the store rests
  with a growing backoff and its rows are retried from the oldest, so they still go out in order.
- A row SQS refuses (too large, invalid) or that can't be rendered, or a store without a queue: the row counts an
  attempt, waits with backoff and, after `max_attempts`, is stuck (`comanda outbox list --stuck`) while the
  store's other rows keep flowing.

boto3 in threads, not aiobotocore: aiobotocore pins botocore to a narrow range that fights the boto3 that
langchain-aws brings, and one thread hop per batch of up to 10 events costs nothing next to the HTTP call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from memory.db import Pool
from memory.repos import outbox as outbox_repo
from memory.repos.outbox import Claim, OutboxEvent
from tools.orders.notify import Notifier
from tools.pos import updates
from tools.pos.events import UnrenderableEvent, render

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQS refuses a batch whose bodies add up to more than this (and, on older queues, a message of more than this)
MAX_BATCH_BYTES = 256 * 1024
MAX_BATCH_ENTRIES = 10
_REGION_IN_URL = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com")
_OUTAGE_CODES = frozenset(
    {"ThrottlingException", "RequestThrottled", "ServiceUnavailable", "InternalError", "InternalFailure"}
)


class RelaySettings(BaseModel):
    """How the relay paces itself."""

    batch_size: int = MAX_BATCH_ENTRIES
    max_attempts: int = 8
    retry_base_s: float = 1.0
    retry_max_s: float = 300.0
    rest_base_s: float = 0.5
    rest_max_s: float = 15.0
    idle_poll_s: float = 0.1
    publishers: int = 4
    status_wait_s: int = 5
    status_refresh_s: float = 30.0
    default_region: str | None = None
    endpoint_url: str | None = None


class StoreQueues(BaseModel):
    """A store's `tenants.sqs_settings`."""

    queue_url: str | None = None
    status_queue_url: str | None = None
    region: str | None = None


class SqsOutage(Exception):
    """SQS can't be reached or asks us to slow down: nobody's row is to blame."""


class SqsClients:
    """One boto3 SQS client per region (clients are thread-safe; making one costs ~50 ms)."""

    def __init__(self, settings: RelaySettings) -> None:
        self._settings = settings
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def region_for(self, queues: StoreQueues, queue_url: str) -> str:
        """The store's region, else the one in an AWS queue URL, else AWS_REGION."""
        match = _REGION_IN_URL.match(queue_url)
        region = queues.region or (match.group(1) if match else None) or self._settings.default_region
        if not region:
            raise ValueError("no AWS region: set AWS_REGION or the store's region (`comanda tenants sqs`)")
        return region

    def client(self, region: str) -> Any:
        """The SQS client of `region` (at most one retry of its own: our backoff does the rest)."""
        with self._lock:
            if region not in self._clients:
                import boto3  # deferred: slow to import, and only COMANDA_POS=sqs needs it
                from botocore.config import Config

                config = Config(
                    connect_timeout=2,
                    read_timeout=self._settings.status_wait_s + 10,
                    retries={"mode": "standard", "total_max_attempts": 2},
                    max_pool_connections=32,
                )
                self._clients[region] = boto3.session.Session().client(
                    "sqs", region_name=region, endpoint_url=self._settings.endpoint_url, config=config
                )
            return self._clients[region]


@dataclass
class Published:
    """What one claim did."""

    store: str = ""
    published: int = 0
    failed: int = 0
    stuck: int = 0
    outage: str | None = None
    lags_s: list[float] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    @property
    def handled(self) -> int:
        """Rows this claim took care of, one way or another."""
        return self.published + self.failed


def _fault(point: str) -> None:
    # the fault tests kill the relay at an exact point (same switch as server/faults.py's)
    if point in os.environ.get("COMANDA_FAULT_KILL_AT", "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)


def _classify(exc: Exception) -> str | None:
    """None when the failure is the request's own (a 4xx about what we sent); a reason when SQS is away."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if status >= 500 or status == 0 or error.get("Code") in _OUTAGE_CODES:
            return f"SQS unavailable: {error.get('Code')}: {error.get('Message')}"
        return None
    return f"SQS unreachable: {type(exc).__name__}: {exc}"


class OutboxRelay:
    """Publishes the outbox and consumes the POS's status queues until stopped."""

    def __init__(self, pool: Pool, settings: RelaySettings, notifier: Notifier | None = None) -> None:
        self.pool = pool
        self.settings = settings
        self.notifier = notifier
        self.sqs = SqsClients(settings)
        # stores resting after an outage: tenant id → (monotonic time it may try again, current rest)
        self._resting: dict[int, tuple[float, float]] = {}
        # long polls block a thread each: keep them off the default executor the rest of the process uses
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="sqs")
        self._types: dict[int, str] = {}

    async def _call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(**kwargs))

    def _rest(self, tenant_id: int, reason: str) -> None:
        _, previous = self._resting.get(tenant_id, (0.0, 0.0))
        rest = min(self.settings.rest_max_s, max(self.settings.rest_base_s, previous * 2))
        self._resting[tenant_id] = (time.monotonic() + rest, rest)
        log.warning("outbox relay: store %s rests %.1fs: %s", tenant_id, rest, reason)

    def _retry_in(self, attempts: int) -> float:
        delay = min(self.settings.retry_max_s, self.settings.retry_base_s * 2 ** max(0, attempts))
        return delay * random.uniform(0.8, 1.2)

    async def publish_once(self) -> Published | None:
        """Claim one store's due rows and publish them; None when nothing is due (or every due store rests)."""
        now = time.monotonic()
        resting = [t for t, (until, _) in self._resting.items() if until > now]
        async with self.pool.connection() as conn, conn.transaction():
            claim = await outbox_repo.claim(conn, limit=self.settings.batch_size, skip_tenants=resting)
            if claim is None:
                return None
            result = Published(store=claim.store)
            try:
                return await self._publish(conn, claim, result)
            finally:
                for row in claim.events:
                    self._types.pop(row.id, None)

    async def _publish(self, conn: Any, claim: Claim, result: Published) -> Published:
        bodies = await self._render(conn, claim, result)
        queues = StoreQueues.model_validate(claim.sqs_settings or {})
        if bodies and not queues.queue_url:
            reason = (
                f"no SQS queue for store {claim.store}: set one with "
                f"`comanda tenants sqs --tenant {claim.store} --queue-url URL`"
            )
            log.error("outbox relay: %s (%d event(s) waiting)", reason, len(bodies))
            for row, _ in bodies:
                await self._failed(conn, row, reason, result)
            return result
        for batch in _batches(bodies):
            try:
                await self._send(conn, claim, queues, batch, result)
            except SqsOutage as exc:
                result.outage = str(exc)
                sent = {r.id for r, _ in batch}
                await outbox_repo.note_error(conn, sorted(sent), str(exc))
                self._rest(claim.tenant_id, str(exc))
                break
        if result.outage is None:
            self._resting.pop(claim.tenant_id, None)
        _fault("relay_after_send")
        return result

    async def _render(self, conn: Any, claim: Claim, result: Published) -> list[tuple[OutboxEvent, str]]:
        order_ids = sorted({e.aggregate_id for e in claim.events if e.event_type.startswith("order.")})
        snapshots = await outbox_repo.order_snapshots(conn, claim.tenant_id, order_ids) if order_ids else {}
        bodies: list[tuple[OutboxEvent, str]] = []
        for row in claim.events:
            try:
                event = render(row, claim.store, snapshots.get(row.aggregate_id))
            except (UnrenderableEvent, ValidationError, KeyError) as exc:
                # retrying can't fix a row that doesn't fit the contract: stuck at once, for a human to look at
                reason = f"not a valid POS event: {type(exc).__name__}: {exc}"
                log.error("outbox relay: row %s (%s): %s", row.id, row.event_type, reason)
                stuck = await outbox_repo.mark_failed(conn, row.id, reason, max_attempts=1)
                result.failed += 1
                result.stuck += int(stuck)
                continue
            bodies.append((row, event.model_dump_json()))
            self._types[row.id] = event.type
        return bodies

    async def _send(
        self, conn: Any, claim: Claim, queues: StoreQueues, batch: list[tuple[OutboxEvent, str]], result: Published
    ) -> None:
        assert queues.queue_url is not None
        try:
            client = self.sqs.client(self.sqs.region_for(queues, queues.queue_url))
        except ValueError as exc:
            for row, _ in batch:
                await self._failed(conn, row, str(exc), result)
            return
        entries = [
            {
                "Id": str(row.id),
                "MessageBody": body,
                "MessageGroupId": claim.store,
                "MessageDeduplicationId": str(row.event_id),
                "MessageAttributes": {
                    "type": {"DataType": "String", "StringValue": self._types.get(row.id, "unknown")},
                    "version": {"DataType": "Number", "StringValue": "1"},
                },
            }
            for row, body in batch
        ]
        try:
            response = await self._call(client.send_message_batch, QueueUrl=queues.queue_url, Entries=entries)
        except Exception as exc:
            outage = _classify(exc)
            if outage is not None:
                raise SqsOutage(outage) from exc
            if len(batch) > 1:
                # a request refused as a whole may hide one bad row: send them one by one to find it
                for one in batch:
                    await self._send(conn, claim, queues, [one], result)
                return
            await self._failed(conn, batch[0][0], f"SQS refused it: {exc}", result)
            return
        by_id = {str(row.id): row for row, _ in batch}
        accepted = [(by_id[ok["Id"]], ok.get("MessageId")) for ok in response.get("Successful", [])]
        if accepted:
            await outbox_repo.mark_published_many(conn, [(row.id, mid) for row, mid in accepted])
            now = time.time()
            result.published += len(accepted)
            result.ids += [row.id for row, _ in accepted]
            result.lags_s += [now - row.created_at.timestamp() for row, _ in accepted]
        outage = None
        for bad in response.get("Failed", []):
            reason = f"SQS refused it: {bad.get('Code')}: {bad.get('Message')}"
            if not bad.get("SenderFault", True) and bad.get("Code") in _OUTAGE_CODES:
                outage = reason
                continue
            await self._failed(conn, by_id[bad["Id"]], reason, result)
        if outage is not None:
            # SQS's own trouble: not the row's fault, and nothing after it may overtake it, so the store rests
            raise SqsOutage(outage)

    async def _failed(self, conn: Any, row: OutboxEvent, reason: str, result: Published) -> None:
        stuck = await outbox_repo.mark_failed(
            conn, row.id, reason, retry_in_s=self._retry_in(row.attempts), max_attempts=self.settings.max_attempts
        )
        result.failed += 1
        result.stuck += int(stuck)
        level = logging.ERROR if stuck else logging.WARNING
        log.log(
            level,
            "outbox relay: row %s (%s) of store %s %s: %s",
            row.id,
            row.event_type,
            row.tenant_id,
            f"is stuck after {row.attempts + 1} attempts" if stuck else "will be retried",
            reason,
        )

    async def drain(self, *, timeout_s: float = 30.0) -> int:
        """Publish until nothing is due (tests, the benchmark, `comanda relay --once`); how many were published."""
        deadline = time.monotonic() + timeout_s
        total = 0
        while time.monotonic() < deadline:
            done = await self.publish_once()
            if done is None:
                return total
            total += done.published
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Publish and consume until `stop` is set."""
        if self.settings.default_region:
            # making a boto3 client takes ~0.5 s of imports and endpoint data: not on the first event's clock
            await self._call(self.sqs.client, region=self.settings.default_region)
        tasks = [asyncio.create_task(self._publisher(stop)) for _ in range(max(1, self.settings.publishers))]
        tasks.append(asyncio.create_task(self._status_supervisor(stop)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _publisher(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.publish_once()
            except Exception:
                # the database away: nothing was marked, so nothing is lost; try again shortly
                log.exception("outbox relay: a publishing round failed")
                done = None
                await _wait(stop, 1.0)
            if done is None:
                await _wait(stop, self.settings.idle_poll_s)

    async def _status_supervisor(self, stop: asyncio.Event) -> None:
        consumers: dict[tuple[int, str], asyncio.Task[None]] = {}
        try:
            while not stop.is_set():
                try:
                    async with self.pool.connection() as conn:
                        stores = await outbox_repo.sqs_settings_of(conn)
                except Exception:
                    log.exception("outbox relay: could not read the stores' SQS settings")
                    stores = {}
                wanted: dict[tuple[int, str], StoreQueues] = {}
                for tenant_id, (_slug, raw) in stores.items():
                    queues = StoreQueues.model_validate(raw)
                    if queues.status_queue_url:
                        wanted[(tenant_id, queues.status_queue_url)] = queues
                for key, task in list(consumers.items()):
                    if key not in wanted or task.done():
                        task.cancel()
                        del consumers[key]
                for key, queues in wanted.items():
                    if key not in consumers:
                        consumers[key] = asyncio.create_task(self._consume(key[0], queues, stop))
                await _wait(stop, self.settings.status_refresh_s)
        finally:
            for task in consumers.values():
                task.cancel()
            await asyncio.gather(*consumers.values(), return_exceptions=True)

    async def _consume(self, tenant_id: int, queues: StoreQueues, stop: asyncio.Event) -> None:
        url = queues.status_queue_url
        assert url is not None
        rest = 0.0
        while not stop.is_set():
            try:
                handled = await self.consume_once(tenant_id, queues)
                rest = 0.0
                if handled == 0 and self.settings.status_wait_s == 0:
                    await _wait(stop, self.settings.idle_poll_s)
            except Exception as exc:
                rest = min(self.settings.rest_max_s, max(self.settings.rest_base_s, rest * 2))
                log.warning("POS status queue of store %s: %s; again in %.1fs", tenant_id, exc, rest)
                await _wait(stop, rest)

    async def consume_once(self, tenant_id: int, queues: StoreQueues) -> int:
        """One long poll of a store's status queue; each message is deleted after its outcome committed."""
        url = queues.status_queue_url
        assert url is not None
        client = self.sqs.client(self.sqs.region_for(queues, url))
        response = await self._call(
            client.receive_message,
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self.settings.status_wait_s,
            AttributeNames=["All"],
        )
        handled = 0
        for message in response.get("Messages", []):
            # in order, one at a time: a later update of an order must not overtake an earlier one
            outcome = await updates.apply(self.pool, tenant_id, message["MessageId"], message["Body"], self.notifier)
            log.info("POS update %s for store %s: %s", message["MessageId"], tenant_id, outcome.result)
            await self._call(client.delete_message, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            handled += 1
        return handled

    def close(self) -> None:
        """Let go of the SQS threads."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _batches(bodies: list[tuple[OutboxEvent, str]]) -> list[list[tuple[OutboxEvent, str]]]:
    """Up to 10 entries and 256 KiB a batch, in order; a body bigger than that goes alone (SQS judges it)."""
    out: list[list[tuple[OutboxEvent, str]]] = []
    current: list[tuple[OutboxEvent, str]] = []
    size = 0
    for row, body in bodies:
        n = len(body.encode())
        if current and (len(current) >= MAX_BATCH_ENTRIES or size + n > MAX_BATCH_BYTES):
            out.append(current)
            current, size = [], 0
        current.append((row, body))
        size += n
    if current:
        out.append(current)
    return out


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
