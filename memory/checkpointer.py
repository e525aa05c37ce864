"""The LangGraph Postgres checkpointer on our pool, its set-up, and our retention policy.

The stock saver never prunes and rewrites whole message lists at every step, so checkpoints grow
quadratically. We run turns with `durability="exit"` (one checkpoint per turn; our queue replays a turn that
dies mid-way) and keep only each thread's latest checkpoint: resuming never needs an older one. The older ones go
in the same round trip that writes the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg.types.json import Jsonb

from memory.db import Conn, Pool

_SETUP_LOCK = 0x636B7074  # serialises the saver's own CREATE TABLEs across processes


# the state's own types: the serializer refuses to rebuild anything not listed (no arbitrary class loading)
STATE_TYPES = [
    ("tools.cart.models", "Cart"),
    ("tools.cart.models", "CartLine"),
    ("tools.cart.models", "ChosenOption"),
    ("tools.cart.models", "PendingLine"),
    ("tools.customers.models", "CustomerInfo"),
    ("tools.customers.models", "AddressInfo"),
    ("tools.customers.models", "LastOrder"),
    ("tools.customers.models", "RegistrationDraft"),
    ("tools.customers.models", "AddressDraft"),
    ("tools.orders.models", "Checkout"),
    ("tools.orders.models", "OrderInfo"),
    ("tools.memory.service", "MemoryNote"),
    ("graph.state", "RouteDecision"),
    ("graph.state", "ConversationState"),
]


class TurnSaver(AsyncPostgresSaver):
    """The Postgres saver, read once per turn: the runner looks at the checkpoint before running the graph
    (paused? a replay?), and the graph's own read of that checkpoint takes the same tuple instead of loading
    and deserialising it again (a whole message history, ~0.8 ms of CPU and a query on every turn).
    """

    def __init__(self, pool: Pool, *, prune: bool = True, **kwargs: Any) -> None:
        super().__init__(pool, **kwargs)  # type: ignore[arg-type,unused-ignore]
        self.latest_only = prune  # False keeps every checkpoint (the graph benchmark's "unpruned" variant)
        # The stock saver serialises every call behind one asyncio.Lock (langgraph #7259), needed only when it
        # shares a single connection. On a pool each call checks out its own connection; with the lock, a
        # worker running many conversations queued all their reads and writes behind each other's round trips.
        self.lock = contextlib.nullcontext()  # type: ignore[assignment]
        self._loaded: dict[str, CheckpointTuple | None] = {}

    async def load_for_turn(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The thread's latest checkpoint, kept for the graph run that follows (call `forget` if none does)."""
        found = await super().aget_tuple(config)
        self._loaded[config["configurable"]["thread_id"]] = found
        return found

    def forget(self, thread_id: str) -> None:
        """Drop a checkpoint kept by `load_for_turn` that no graph run took."""
        self._loaded.pop(thread_id, None)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The latest checkpoint: the one `load_for_turn` kept for this thread, else from the database."""
        conf = config["configurable"]
        thread = conf.get("thread_id")
        # only the plain "latest checkpoint of the root graph" read; the worker holds the conversation's lock
        # between the two reads, so nothing can have written the thread in between
        if not conf.get("checkpoint_id") and not conf.get("checkpoint_ns") and thread in self._loaded:
            return self._loaded.pop(thread)
        return await super().aget_tuple(config)

    # The stock saver (3.2) hands the (de)serialisation of every checkpoint to a thread (`asyncio.to_thread`):
    # for one conversation's few kilobytes the hop (a thread wake-up and the GIL passed back and forth, twice a
    # turn) cost more CPU than the work itself. The two methods below are the stock ones with the work done on
    # the loop; the SQL and the row layout are the saver's own.

    async def _load_checkpoint_tuple(self, value: Any) -> CheckpointTuple:
        """A database row as a CheckpointTuple, deserialised on the loop."""
        ids = {"thread_id": value["thread_id"], "checkpoint_ns": value["checkpoint_ns"]}
        parent = value["parent_checkpoint_id"]
        return CheckpointTuple(
            {"configurable": {**ids, "checkpoint_id": value["checkpoint_id"]}},
            {  # type: ignore[typeddict-item]  # the row's checkpoint carries the other keys
                **value["checkpoint"],
                "channel_values": {
                    **(value["checkpoint"].get("channel_values") or {}),
                    **self._load_blobs(value["channel_values"]),
                },
            },
            value["metadata"],
            {"configurable": {**ids, "checkpoint_id": parent}} if parent else None,
            self._load_writes(value["pending_writes"]),
        )

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Save a checkpoint (serialised on the loop): blobs for the non-primitive channels, then the row."""
        configurable = config["configurable"].copy()
        thread_id = configurable.pop("thread_id")
        checkpoint_ns = configurable.pop("checkpoint_ns")
        checkpoint_id = configurable.pop("checkpoint_id", None)
        copy = checkpoint.copy()
        copy["channel_values"] = copy["channel_values"].copy()
        next_config: RunnableConfig = {
            "configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns, "checkpoint_id": checkpoint["id"]}
        }
        # primitive values stay inline in the checkpoint row; the rest (and delta snapshots) go to the blobs table
        blob_values = {}
        for k, v in checkpoint["channel_values"].items():
            if isinstance(v, _DeltaSnapshot):
                blob_values[k] = copy["channel_values"].pop(k)
                copy["channel_values"][k] = True
            elif v is None or isinstance(v, (str, int, float, bool)):
                pass
            else:
                blob_values[k] = copy["channel_values"].pop(k)
        async with self._cursor(pipeline=True) as cur:
            if blob_versions := {k: v for k, v in new_versions.items() if k in blob_values}:
                await cur.executemany(
                    self.UPSERT_CHECKPOINT_BLOBS_SQL,
                    self._dump_blobs(thread_id, checkpoint_ns, blob_values, blob_versions),
                )
            await cur.execute(
                self.UPSERT_CHECKPOINTS_SQL,
                (
                    thread_id,
                    checkpoint_ns,
                    checkpoint["id"],
                    checkpoint_id,
                    Jsonb(copy),
                    Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
                ),
            )
            if self.latest_only and not checkpoint_ns:
                await self._prune(cur, thread_id, checkpoint["id"], checkpoint["channel_versions"])
        return next_config

    async def _prune(self, cur: Any, thread_id: str, keep: str, versions: ChannelVersions) -> None:
        """Queue, in the write's pipeline, the deletion of everything of the thread the new checkpoint doesn't use.

        Older checkpoints, their pending writes, and blobs of channel versions the new checkpoint doesn't point to
        (each turn writes new versions of the channels it changed). If the write fails, the pipeline skips these.
        """
        await cur.execute(_PRUNE_CHECKPOINTS, (thread_id, keep))
        await cur.execute(_PRUNE_WRITES, (thread_id, keep))
        channels = list(versions)
        await cur.execute(_PRUNE_BLOBS, (thread_id, channels, [str(versions[c]) for c in channels]))


_PRUNE_CHECKPOINTS = "DELETE FROM checkpoints WHERE thread_id = %s AND checkpoint_id <> %s"
_PRUNE_WRITES = "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_id <> %s"
_PRUNE_BLOBS = """DELETE FROM checkpoint_blobs b
                   WHERE b.thread_id = %s
                     AND NOT EXISTS (SELECT 1 FROM unnest(%s::text[], %s::text[]) AS v(channel, version)
                                      WHERE b.checkpoint_ns = '' AND b.channel = v.channel AND b.version = v.version)"""


async def make_checkpointer(pool: Pool, *, prune: bool = True) -> TurnSaver:
    """Our Postgres saver on our pool, with its tables created if missing (`prune=False` keeps old checkpoints)."""
    serde = JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)
    saver = TurnSaver(pool, serde=serde, prune=prune)
    async with pool.connection() as conn:
        # Poll for the lock instead of blocking on it: the saver's migrations use CREATE INDEX CONCURRENTLY, which
        # waits for every open transaction, including another process's blocked pg_advisory_lock() call, while
        # that process waits for our lock: two workers starting together hung forever.
        while not await _try_lock(conn, _SETUP_LOCK):  # noqa: ASYNC110 - the lock lives in another process
            await asyncio.sleep(0.1)
        try:
            await saver.setup()
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))
    return saver


async def _try_lock(conn: Conn, key: int) -> bool:
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,))
    row = await cur.fetchone()
    return bool(row and row["ok"])


async def thread_bytes(pool: Pool, thread_id: str) -> int:
    """Bytes stored for a thread across the saver's tables (for the benchmark and the retention check)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT coalesce((SELECT sum(pg_column_size(c.*)) FROM checkpoints c WHERE thread_id = %(t)s), 0)
                    + coalesce((SELECT sum(pg_column_size(b.*)) FROM checkpoint_blobs b WHERE thread_id = %(t)s), 0)
                    + coalesce((SELECT sum(pg_column_size(w.*)) FROM checkpoint_writes w WHERE thread_id = %(t)s), 0)
                    AS n""",
            {"t": thread_id},
        )
        row = await cur.fetchone()
        return int(row["n"]) if row else 0
