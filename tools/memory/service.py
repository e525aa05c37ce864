"""Remembering what a customer said after a turn, reading it back at the next one, forgetting it on request."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from memory.db import Conn, Pool
from memory.embeddings import Embedder
from memory.repos import memories as repo
from memory.repos.memories import MemoryKind, MemoryRow
from tools.memory.extract import Extractor, RuleExtractor

# kinds read at the start of every turn, in the order the agents care about them
TURN_KINDS: tuple[MemoryKind, ...] = ("allergy", "diet", "preference", "favourite", "address", "time", "complaint")
TURN_LIMIT = 12


class MemoryNote(BaseModel):
    """A memory as the conversation carries it (state, prompts, handoff summary)."""

    model_config = ConfigDict(frozen=True)

    kind: MemoryKind
    text: str
    subject: str | None = None

    @property
    def about(self) -> str:
        """What it is about ("camarao" for "allergy:camarao")."""
        return (self.subject or "").partition(":")[2]


class StoredReport(BaseModel):
    """What one extraction stored: new facts and how many replaced an older one."""

    stored: list[MemoryRow] = []
    superseded: int = 0


async def remember_turn(
    pool: Pool,
    tenant_id: int,
    phone: str,
    texts: Sequence[str],
    *,
    embedder: Embedder | None,
    extractor: Extractor | None = None,
    locale: str = "pt-BR",
    source_message: str | None = None,
) -> StoredReport:
    """Extract facts from a finished turn's customer messages and store them (idempotent: a replay adds nothing)."""
    memories = await (extractor or RuleExtractor()).extract(texts, locale)
    if not memories:
        return StoredReport()
    vectors: list[list[float] | None] = [None] * len(memories)
    if embedder is not None:
        vectors = list(await asyncio.to_thread(embedder.passages, [m.text for m in memories]))
    report = StoredReport()
    async with pool.connection() as conn, conn.transaction():
        customer_id = await _customer_id(conn, tenant_id, phone)
        for memory, vector in zip(memories, vectors, strict=True):
            subjects = {r.subject for r in await repo.current(conn, tenant_id, phone)}
            had = memory.subject is not None and memory.subject in subjects
            row = await repo.remember(
                conn, tenant_id, phone, memory, vector, customer_id=customer_id, source_message=source_message
            )
            if row is not None:
                report.stored.append(row)
                report.superseded += int(had)
    return report


async def _customer_id(conn: Conn, tenant_id: int, phone: str) -> int | None:
    cur = await conn.execute("SELECT id FROM customers WHERE tenant_id = %s AND phone = %s", (tenant_id, phone))
    row = await cur.fetchone()
    return int(row["id"]) if row else None


async def notes_for_turn(conn: Conn, tenant_id: int, phone: str, *, limit: int = TURN_LIMIT) -> list[MemoryNote]:
    """The customer's facts in force for this turn: allergies and diets first (they are guards), then the rest.

    One indexed read of a handful of rows, no embedding: it runs at the start of every turn.
    """
    rows = await repo.current(conn, tenant_id, phone, kinds=TURN_KINDS)
    rows.sort(key=lambda r: TURN_KINDS.index(r.kind))
    return [MemoryNote(kind=r.kind, text=r.text, subject=r.subject) for r in rows[:limit]]


async def list_memories(conn: Conn, tenant_id: int, phone: str, *, with_history: bool = False) -> list[MemoryRow]:
    """What is remembered about the customer (for `comanda customers memories` and the staff)."""
    if with_history:
        return await repo.history(conn, tenant_id, phone)
    return await repo.current(conn, tenant_id, phone)


async def forget_customer(pool: Pool, tenant_id: int, phone: str) -> int:
    """LGPD erasure of one customer's memories at one restaurant, history included; returns rows deleted."""
    async with pool.connection() as conn:
        return await repo.delete_customer(conn, tenant_id, phone)


def allergens_in(notes: Sequence[MemoryNote]) -> list[str]:
    """The allergens the customer told us about (folded keys such as "camarao")."""
    return [n.about for n in notes if n.kind == "allergy" and n.about]
