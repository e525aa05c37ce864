"""Remembering what a customer said after a turn, reading it back at the next one, forgetting it on request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from memory.db import Conn, Pool
from memory.embeddings import Embedder
from memory.repos import memories as repo
from memory.repos.memories import MemoryKind, MemoryRow
from tools.memory.extract import Extractor, RuleExtractor
from tools.memory.search import or_tsquery, rrf

# kinds read at the start of every turn, in the order the agents care about them
TURN_KINDS: tuple[MemoryKind, ...] = ("allergy", "diet", "preference", "favourite", "address", "time", "complaint")
# how many of the other facts a turn gets: the ones its words are closest to
RELEVANT_LIMIT = 3


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


def standing(kind: MemoryKind, subject: str | None) -> bool:
    """Facts every turn carries whatever it is about: allergies and diets are guards the cart tools enforce, and a
    standing "sem cebola" is applied to every item that can leave it out."""
    about = (subject or "").partition(":")[2]
    return kind in ("allergy", "diet") or (kind == "preference" and about.startswith("sem "))


async def notes_for_turn(
    conn: Conn,
    tenant_id: int,
    phone: str,
    text: str = "",
    *,
    embed: Callable[[str], Sequence[float]] | None = None,
    limit: int = RELEVANT_LIMIT,
) -> list[MemoryNote]:
    """The customer's facts for this turn: the standing ones (guards first), then the `limit` others the turn's
    words are closest to, by hybrid retrieval (full text and vectors fused by RRF).

    One indexed read ranks the full text; only a customer with more other facts than `limit` costs an embedding
    of the turn (`embed`, called in a thread only then) and a second read of a few distances, so most turns pay
    nothing over reading the facts.
    """
    query = or_tsquery(text)
    rows = await repo.for_turn(conn, tenant_id, phone, query, kinds=TURN_KINDS)
    kept = [r for r in rows if standing(r.kind, r.subject)]
    others = [r for r in rows if not standing(r.kind, r.subject)]
    if len(others) > limit:
        by_text = [r.id for r in sorted(others, key=lambda r: -r.text_rank) if r.text_rank > 0]
        rankings = [by_text]
        # with the few dozen facts a customer has, RRF puts every text match above every vector-only one: when the text
        # matches exactly `limit` the vectors can't change the set; a turn with no meaningful words ("sim",
        # "pix") has nothing for them to be close to: in both cases the ~25 ms embedding is skipped
        if embed is not None and query and len(by_text) != limit:
            vector = await asyncio.to_thread(embed, text)
            near = await repo.distances(conn, tenant_id, [r.id for r in others], vector)
            rankings.append(sorted(near, key=lambda i: near[i]))
        fused = rrf(rankings)
        # rows are newest first and the sort is stable: with nothing to tell them apart, the freshest win
        others = sorted(others, key=lambda r: -fused.get(r.id, 0.0))[:limit]
    chosen = sorted([*kept, *others], key=lambda r: TURN_KINDS.index(r.kind))
    return [MemoryNote(kind=r.kind, text=r.text, subject=r.subject) for r in chosen]


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
