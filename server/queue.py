"""The inbound queue on Redis Streams: at-least-once, one conversation at a time, messages coalesced per turn.

Layout (prefix `comanda:` by default):
- `conv:{tenant}:{phone}`: a stream per conversation holding its unprocessed messages, in arrival order;
- `ready`: a stream read by the `workers` consumer group; each entry says "conversation X has work";
- `lock:{conv}`: who is running X's turn now (a token with a TTL the holder keeps renewing);
- `seen:{MessageSid}`: deduplication of Twilio's retries (SET NX with a TTL);
- `attempts:{conv}`: for the oldest pending message, how many turns started on it (`s:{id}`), how many failed
  (`f:{id}`), and the last error;
- `dlq`: messages whose turns failed `max_attempts` times, or that started `max_starts` turns that never ended
  (a message that kills its worker every time).

A webhook writes the message and the ready entry atomically (one Lua script). A worker that reads a ready entry
takes X's lock or, if another worker holds it, acknowledges the entry: the holder lets go only in the same
script that finds X's stream empty, so nothing is stranded. Messages are deleted from X's stream only after their
turn's reply was sent and its checkpoint written; a dead worker's ready entry stays pending and is reclaimed
(XAUTOCLAIM).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from server.inbound import InboundMessage

log = logging.getLogger("comanda.queue")

_ENQUEUE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], '*', 'tenant_id', ARGV[2], 'message', ARGV[3])
  redis.call('XADD', KEYS[3], '*', 'conv', ARGV[4])
  return 1
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# What _TAKE and _FINISH both answer about a conversation's next batch (`first`: its oldest entry, from XRANGE).
_HEAD = """
local function head(first, stream, asked)
  local t = redis.call('TIME')
  local message = ''
  for i = 1, #first[2], 2 do if first[2][i] == 'message' then message = first[2][i + 1] end end
  return {tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), first[1], redis.call('XLEN', stream), message,
          redis.call('GET', asked) or ''}
end
"""
# Take a conversation: the lock, then what coalescing needs to know of its next batch: Redis's clock, the oldest
# message's id, how many wait, the oldest message itself and what the bot last asked (`asked:{conv}`).
# -1: another worker has it; 0: nothing waits (the lock is let go again); else {now_ms, oldest id, n, message, asked}.
_TAKE = (
    _HEAD
    + """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if #first == 0 then redis.call('DEL', KEYS[1]) return 0 end
return head(first[1], KEYS[2], KEYS[3])
"""
)
# The turn's batch (oldest first), counting one more start of it: {starts, failures, rows}. Failures are counted
# when a turn raises; a worker that dies mid-turn counts only as a start. Given ARGV[3] > 0 (the newest message the
# worker knows of, ms) it first checks the burst is over: a newer message whose quiet time (ARGV[4]) isn't over,
# with the window (ending at ARGV[5]) still open, means wait on: {-1, now_ms, newest ms}, nothing counted. One
# round trip where a look and then a start took two.
_START = """
if tonumber(ARGV[3]) > 0 then
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if #last > 0 then
    local newest = tonumber(string.match(last[1][1], '^(%d+)'))
    if newest > tonumber(ARGV[3]) then
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      if now < math.min(newest + tonumber(ARGV[4]), tonumber(ARGV[5])) then return {-1, now, newest} end
    end
  end
end
local rows = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])
if #rows == 0 then return {0, 0, rows} end
local n = redis.call('HINCRBY', KEYS[2], 's:' .. rows[1][1], 1)
local f = tonumber(redis.call('HGET', KEYS[2], 'f:' .. rows[1][1]) or '0')
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {n, f, rows}
"""
# A turn is complete (reply sent, checkpoint written): delete its messages. If none wait, let go of the lock in
# the same step, so a message arriving now finds the conversation free (its ready entry gets it a worker), and
# acknowledge the ready entry that brought us here. -1: the lock is no longer ours; 0: let go; else the next
# batch's head as _TAKE gives it.
_FINISH = (
    _HEAD
    + """
for i = 4, #ARGV do redis.call('XDEL', KEYS[1], ARGV[i]) end
redis.call('DEL', KEYS[2])
local ours = redis.call('GET', KEYS[3]) == ARGV[1]
local first = {}
if ours then first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1) end
if #first > 0 then return head(first[1], KEYS[1], KEYS[5]) end
redis.call('XACK', KEYS[4], ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[4], ARGV[3])
if not ours then return -1 end
redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[3])
return 0
"""
)


class QueueSettings(BaseModel):
    """Timings and limits of the queue (the defaults suit production; tests shorten them)."""

    prefix: str = "comanda"
    group: str = "workers"
    coalesce_window_ms: int = 1500  # the longest a message waits for the ones that follow it
    # a turn starts once the conversation has been quiet this long (within the window above): a lone message waits
    # this, a burst waits until it stops
    coalesce_quiet_ms: int = 400
    lock_ttl_ms: int = 30_000
    reclaim_idle_ms: int = 30_000
    max_attempts: int = 5  # failed turns before a batch is dead-lettered
    # turns started and never finished (their worker died) before a batch is dead-lettered: deaths are mostly not
    # the message's fault (deploys, OOM kills, a neighbour's crash), so they get far more room than failures
    max_starts: int = 20
    dedupe_ttl_s: int = 48 * 3600  # Twilio retries for hours at most; WhatsApp ids are never reused
    max_batch: int = 20
    # a consumer (a worker process) quiet this long with nothing pending is gone: drop it from the group
    consumer_expiry_ms: int = 3_600_000


@dataclass(frozen=True)
class ReadyEntry:
    """A "conversation has work" notice from the ready stream."""

    id: str
    conv: str


@dataclass(frozen=True)
class Head:
    """A held conversation's next batch, as far as coalescing needs: Redis's clock, its oldest message's time, how
    many messages wait, and, for a lone message, the message and what the bot had asked (`asked_key`)."""

    now_ms: int
    oldest_ms: int
    waiting: int = 1
    first_json: str = ""
    asked: str | None = None

    def lone_message(self) -> InboundMessage | None:
        """The one waiting message (None when several wait, or it can't be read)."""
        if self.waiting != 1 or not self.first_json:
            return None
        try:
            return InboundMessage.model_validate_json(self.first_json)
        except ValueError:
            return None


@dataclass(frozen=True)
class Later:
    """`start` found the burst still going on: Redis's clock and the newest message's time."""

    now_ms: int
    newest_ms: int


@dataclass(frozen=True)
class Queued:
    """A message waiting in its conversation's stream."""

    id: str
    tenant_id: int
    message: InboundMessage


class DeadLetter(BaseModel):
    """A message that kept failing, with the last error."""

    id: str
    conv: str
    tenant_id: int
    message: InboundMessage
    error: str
    attempts: int


def conversation_key(tenant_id: int, phone: str) -> str:
    """The queue's name for a conversation (the same as its LangGraph thread id)."""
    return f"{tenant_id}:{phone}"


def asked_key(prefix: str, conv: str) -> str:
    """Where a turn leaves what the bot asked last (its `awaiting`), for the next take's coalescing."""
    return f"{prefix}:asked:{conv}"


class InboundQueue:
    """Producer and consumer sides of the inbound queue."""

    def __init__(self, redis: Redis, settings: QueueSettings | None = None) -> None:
        self.redis = redis
        self.settings = settings or QueueSettings()
        p = self.settings.prefix
        self.ready_key = f"{p}:ready"
        self.dlq_key = f"{p}:dlq"
        self._enqueue = redis.register_script(_ENQUEUE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._take = redis.register_script(_TAKE)
        self._start = redis.register_script(_START)
        self._finish = redis.register_script(_FINISH)

    def _k(self, kind: str, name: str) -> str:
        return f"{self.settings.prefix}:{kind}:{name}"

    # producer -----------------------------------------------------------------------------------------------

    async def enqueue(self, tenant_id: int, message: InboundMessage) -> bool:
        """Queue a customer message; False if this MessageSid was queued before (a retry)."""
        conv = conversation_key(tenant_id, message.from_phone)
        added = await self._enqueue(
            keys=[self._k("seen", message.message_sid), self._k("conv", conv), self.ready_key],
            args=[self.settings.dedupe_ttl_s, tenant_id, message.model_dump_json(), conv],
        )
        return bool(added)

    # consumer -----------------------------------------------------------------------------------------------

    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if needed."""
        try:
            await self.redis.xgroup_create(self.ready_key, self.settings.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, consumer: str, count: int, block_ms: int) -> list[ReadyEntry]:
        """New ready entries for this consumer (blocks up to `block_ms`)."""
        reply: Any = await self.redis.xreadgroup(
            self.settings.group, consumer, {self.ready_key: ">"}, count=count, block=block_ms
        )
        return [ReadyEntry(i, f["conv"]) for _, entries in reply or [] for i, f in stream_entries(entries)]

    async def reclaim(self, consumer: str, count: int) -> list[ReadyEntry]:
        """Ready entries left pending by a consumer that went quiet (died) for longer than `reclaim_idle_ms`."""
        reply = await self.redis.xautoclaim(
            self.ready_key, self.settings.group, consumer, self.settings.reclaim_idle_ms, "0-0", count=count
        )
        claimed, deleted = reply[1], reply[2] if len(reply) > 2 else []
        if deleted:
            await self.ack([_s(d) for d in deleted])
        return [ReadyEntry(i, f["conv"]) for i, f in stream_entries(claimed)]

    async def touch(self, consumer: str, entry_id: str) -> None:
        """Reset an entry's idle time: its consumer is alive and still on it."""
        await self.redis.xclaim(self.ready_key, self.settings.group, consumer, 0, [entry_id], justid=True)

    async def ack(self, entry_ids: list[str]) -> None:
        """Acknowledge ready entries and drop them from the stream."""
        if entry_ids:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.xack(self.ready_key, self.settings.group, *entry_ids)
                pipe.xdel(self.ready_key, *entry_ids)
                await pipe.execute()

    async def notify(self, conv: str) -> None:
        """Add a ready entry for a conversation (a retry after an error, a DLQ replay)."""
        await self.redis.xadd(self.ready_key, {"conv": conv})

    async def take(self, conv: str, token: str) -> Head | Literal["held", "empty"]:
        """Hold a conversation for this worker: its next batch's head, or why not ("held": another worker's lock
        is on it, perhaps a dead worker's that hasn't expired yet; "empty": no message waits)."""
        found = await self._take(
            keys=[self._k("lock", conv), self._k("conv", conv), asked_key(self.settings.prefix, conv)],
            args=[token, self.settings.lock_ttl_ms],
        )
        head = _head(found)
        if head is not None:
            return head
        return "held" if int(found) == -1 else "empty"

    async def renew(self, conv: str, token: str) -> bool:
        """Extend our hold on a conversation; False if we lost it."""
        return bool(await self._renew(keys=[self._k("lock", conv)], args=[token, self.settings.lock_ttl_ms]))

    async def release(self, conv: str, token: str) -> None:
        """Let go of a conversation (only if we still hold it)."""
        await self._release(keys=[self._k("lock", conv)], args=[token])

    async def hold(self, conv: str, token: str) -> bool:
        """Hold a conversation whether or not messages wait (staff handing it back to the bot); False if taken.

        Whoever holds it this way must `release` and then `notify` if `has_pending`: a worker that found it
        held dropped its ready entry.
        """
        return bool(await self.redis.set(self._k("lock", conv), token, nx=True, px=self.settings.lock_ttl_ms))

    async def pending(self, conv: str) -> list[Queued]:
        """The conversation's unprocessed messages, oldest first (at most `max_batch`)."""
        rows = await self.redis.xrange(self._k("conv", conv), count=self.settings.max_batch)
        return [_queued(i, f) for i, f in stream_entries(rows)]

    async def has_pending(self, conv: str) -> bool:
        """Whether the conversation has unprocessed messages."""
        return bool(await self.redis.xlen(self._k("conv", conv)))

    async def start(
        self, conv: str, *, quiet_since_ms: int = 0, window_ends_ms: int = 0
    ) -> tuple[int, int, list[Queued]] | Later:
        """The held conversation's batch (oldest first, at most `max_batch`), how many turns started on it (this one
        included) and how many of those failed. Given `quiet_since_ms` (the newest message the caller knows of),
        a `Later` instead if a newer one came within the quiet time and the window (ending at `window_ends_ms`)
        is still open."""
        found = await self._start(
            keys=[self._k("conv", conv), self._k("attempts", conv)],
            args=[
                self.settings.max_batch,
                7 * 24 * 3600 * 1000,
                quiet_since_ms,
                self.settings.coalesce_quiet_ms,
                window_ends_ms,
            ],
        )
        if int(found[0]) == -1:
            return Later(now_ms=int(found[1]), newest_ms=int(found[2]))
        starts, failures, rows = found
        return int(starts), int(failures), [_queued(i, f) for i, f in _script_entries(rows)]

    async def forgive(self, conv: str, batch: list[Queued]) -> None:
        """Take back the start `start` counted: the batch failed through no fault of its own (an outage)."""
        if batch:
            await self.redis.hincrby(self._k("attempts", conv), f"s:{batch[0].id}", -1)

    async def forget_idle_consumers(self, me: str) -> int:
        """Remove consumers idle past `consumer_expiry_ms` with nothing pending (workers that stopped); how many.

        The group keeps every consumer that ever read, forever; XAUTOCLAIM has already taken what the dead ones
        held, so dropping them loses nothing.
        """
        consumers: Any = await self.redis.xinfo_consumers(self.ready_key, self.settings.group)
        removed = 0
        for c in consumers:
            name = _s(c.get("name", b""))
            if (
                name != me
                and int(c.get("pending", 0)) == 0
                and int(c.get("idle", 0)) > self.settings.consumer_expiry_ms
            ):
                await self.redis.xgroup_delconsumer(self.ready_key, self.settings.group, name)
                removed += 1
        return removed

    async def record_failure(self, conv: str, batch: list[Queued], error: str) -> int:
        """Count a failed turn of the batch and keep its error (for the dead letter); the failures so far."""
        key = self._k("attempts", conv)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, f"f:{batch[0].id}", 1)
            pipe.hset(key, "error", error[:2000])
            failures, _ = await pipe.execute()
        return int(failures)

    async def finish(self, conv: str, token: str, batch: list[Queued], entry_id: str) -> Head | None:
        """Remove a handled batch; the next batch's head, or None once the conversation is let go (or was lost)
        and the ready entry `entry_id` acknowledged."""
        found = await self._finish(
            keys=[
                self._k("conv", conv),
                self._k("attempts", conv),
                self._k("lock", conv),
                self.ready_key,
                asked_key(self.settings.prefix, conv),
            ],
            args=[token, self.settings.group, entry_id, *[q.id for q in batch]],
        )
        return _head(found)

    async def dead_letter(self, conv: str, batch: list[Queued], attempts: int) -> None:
        """Copy a batch that keeps failing to the dead-letter stream (`finish` then removes it)."""
        error = await self.redis.hget(self._k("attempts", conv), "error")
        for q in batch:
            await self.redis.xadd(
                self.dlq_key,
                {
                    "conv": conv,
                    "tenant_id": q.tenant_id,
                    "message": q.message.model_dump_json(),
                    "error": _s(error) if error else "unknown",
                    "attempts": attempts,
                },
            )
        log.error("dead-lettered %d message(s) of %s after %d attempts: %s", len(batch), conv, attempts, error)

    # dead letters -------------------------------------------------------------------------------------------

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The dead-letter stream, oldest first."""
        rows = await self.redis.xrange(self.dlq_key, count=limit)
        return [
            DeadLetter(
                id=i,
                conv=f["conv"],
                tenant_id=int(f["tenant_id"]),
                message=InboundMessage.model_validate_json(f["message"]),
                error=f["error"],
                attempts=int(f["attempts"]),
            )
            for i, f in stream_entries(rows)
        ]

    async def retry_dead(self, ids: list[str] | None = None) -> int:
        """Put dead letters (these ids, or all) back on their conversations' queues; returns how many."""
        letters = [d for d in await self.dead_letters(limit=10_000) if ids is None or d.id in ids]
        for d in letters:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xadd(self._k("conv", d.conv), {"tenant_id": d.tenant_id, "message": d.message.model_dump_json()})
                pipe.xadd(self.ready_key, {"conv": d.conv})
                pipe.xdel(self.dlq_key, d.id)
                await pipe.execute()
        return len(letters)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def stream_entries(rows: Any) -> list[tuple[str, dict[str, str]]]:
    """XRANGE/XREADGROUP entries as (id, fields) with text keys and values (deleted entries dropped)."""
    return [(_s(i), {_s(k): _s(v) for k, v in f.items()}) for i, f in rows or [] if f]


def _script_entries(rows: Any) -> list[tuple[str, dict[str, str]]]:
    """XRANGE rows as a Lua script returns them ([id, [field, value, ...]]) as (id, fields)."""
    return [(_s(i), {_s(f[k]): _s(f[k + 1]) for k in range(0, len(f), 2)}) for i, f in rows or []]


def _head(found: Any) -> Head | None:
    if not isinstance(found, list):
        return None  # -1 or 0: not ours, or nothing waits
    now_ms, oldest_id, waiting, first, asked = found
    return Head(
        now_ms=int(now_ms),
        oldest_ms=int(_s(oldest_id).split("-", 1)[0]),
        waiting=int(waiting),
        first_json=_s(first),
        asked=_s(asked) or None,
    )


def _queued(entry_id: str, fields: dict[str, str]) -> Queued:
    return Queued(
        id=entry_id,
        tenant_id=int(fields["tenant_id"]),
        message=InboundMessage.model_validate(json.loads(fields["message"])),
    )
