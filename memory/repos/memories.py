"""What each customer told a restaurant, kept for later turns: rows, supersession, the two rankings search fuses.

Every read and write is confined to one tenant and one phone: a memory never crosses restaurants or customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn

MemoryKind = Literal["preference", "allergy", "diet", "address", "time", "favourite", "complaint", "summary"]
TextConfig = Literal["simple", "portuguese"]

# the tsvector column each text-search configuration reads (both generated from the accent-folded text)
_TS_COLUMN: dict[TextConfig, str] = {"simple": "search", "portuguese": "search_pt"}
_COLUMNS = (
    "id, tenant_id, customer_id, phone, kind, subject, text, source_message, created_at, updated_at, "
    "superseded_at, superseded_by"
)


class MemoryRow(BaseModel):
    """One stored fact about a customer."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    customer_id: int | None
    phone: str
    kind: MemoryKind
    subject: str | None
    text: str
    source_message: str | None
    created_at: datetime
    updated_at: datetime
    superseded_at: datetime | None = None
    superseded_by: int | None = None


class NewMemory(BaseModel):
    """A fact to remember. `subject` names what it is about ("allergy:camarao", "address"): a later fact with
    the same subject replaces it; None (complaints) never replaces anything."""

    model_config = ConfigDict(frozen=True)

    kind: MemoryKind
    text: str
    subject: str | None = None


def vector_literal(embedding: Sequence[float]) -> str:
    """pgvector's text form of a vector."""
    return "[" + ",".join(f"{x:.6f}" for x in embedding) + "]"


async def remember(
    conn: Conn,
    tenant_id: int,
    phone: str,
    memory: NewMemory,
    embedding: Sequence[float] | None,
    *,
    customer_id: int | None = None,
    source_message: str | None = None,
) -> MemoryRow | None:
    """Store `memory`, superseding the current one with the same subject; None when it is already known as is.

    Run inside a transaction: the old row is marked and the new one inserted together, under a row lock, so two
    extraction jobs for one customer can't both leave a "current" fact.
    """
    current: MemoryRow | None = None
    if memory.subject is not None:
        cur = await conn.execute(
            f"""SELECT {_COLUMNS} FROM memories WHERE tenant_id = %s AND phone = %s AND subject = %s
                 AND superseded_at IS NULL FOR UPDATE""",
            (tenant_id, phone, memory.subject),
        )
        row = await cur.fetchone()
        current = MemoryRow.model_validate(row) if row else None
    if current is not None and current.text == memory.text and current.kind == memory.kind:
        # the customer said it again: nothing new, but it is fresher now
        await conn.execute("UPDATE memories SET updated_at = now() WHERE id = %s", (current.id,))
        return None
    if current is not None:
        await conn.execute("UPDATE memories SET superseded_at = now() WHERE id = %s", (current.id,))
    cur = await conn.execute(
        f"""INSERT INTO memories (tenant_id, customer_id, phone, kind, subject, text, embedding, source_message)
             VALUES (%s, %s, %s, %s, %s, %s, %s::vector, %s) RETURNING {_COLUMNS}""",
        (
            tenant_id,
            customer_id,
            phone,
            memory.kind,
            memory.subject,
            memory.text,
            vector_literal(embedding) if embedding is not None else None,
            source_message,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    new = MemoryRow.model_validate(row)
    if current is not None:
        await conn.execute("UPDATE memories SET superseded_by = %s WHERE id = %s", (new.id, current.id))
    return new


async def current(conn: Conn, tenant_id: int, phone: str, *, kinds: Sequence[MemoryKind] = ()) -> list[MemoryRow]:
    """The customer's facts in force, newest first (optionally only some kinds)."""
    extra, params = ("", []) if not kinds else (" AND kind = ANY(%s)", [list(kinds)])
    cur = await conn.execute(
        f"""SELECT {_COLUMNS} FROM memories WHERE tenant_id = %s AND phone = %s AND superseded_at IS NULL{extra}
             ORDER BY updated_at DESC, id DESC""",
        [tenant_id, phone, *params],
    )
    return [MemoryRow.model_validate(r) for r in await cur.fetchall()]


class TurnMemory(BaseModel):
    """A fact in force read at the start of a turn, with how well the turn's words matched it (0: not at all)."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: MemoryKind
    subject: str | None
    text: str
    updated_at: datetime
    text_rank: float


async def for_turn(
    conn: Conn, tenant_id: int, phone: str, tsquery: str, *, kinds: Sequence[MemoryKind]
) -> list[TurnMemory]:
    """The customer's facts in force of `kinds`, each with its full-text rank against `tsquery` (an OR of lexemes,
    '' for none), newest first: one indexed read of the customer's rows, ranked in the same statement."""
    if not tsquery:
        cur = await conn.execute(
            """SELECT id, kind, subject, text, updated_at, 0.0::real AS text_rank FROM memories
                WHERE tenant_id = %s AND phone = %s AND superseded_at IS NULL AND kind = ANY(%s)
                ORDER BY updated_at DESC, id DESC""",
            (tenant_id, phone, list(kinds)),
        )
    else:
        cur = await conn.execute(
            """SELECT id, kind, subject, text, updated_at,
                      CASE WHEN search @@ q THEN ts_rank(search, q) ELSE 0 END AS text_rank
                 FROM memories, to_tsquery('simple', %s) AS q
                WHERE tenant_id = %s AND phone = %s AND superseded_at IS NULL AND kind = ANY(%s)
                ORDER BY updated_at DESC, id DESC""",
            (tsquery, tenant_id, phone, list(kinds)),
        )
    return [TurnMemory.model_validate(r) for r in await cur.fetchall()]


async def distances(conn: Conn, tenant_id: int, ids: Sequence[int], embedding: Sequence[float]) -> dict[int, float]:
    """Cosine distance from `embedding` to each of these memories (those with an embedding)."""
    cur = await conn.execute(
        """SELECT id, embedding <=> %s::vector AS dist FROM memories
            WHERE tenant_id = %s AND id = ANY(%s) AND embedding IS NOT NULL""",
        (vector_literal(embedding), tenant_id, list(ids)),
    )
    return {int(r["id"]): float(r["dist"]) for r in await cur.fetchall()}


async def history(conn: Conn, tenant_id: int, phone: str) -> list[MemoryRow]:
    """Every fact ever stored for the customer, superseded ones included, oldest first."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM memories WHERE tenant_id = %s AND phone = %s ORDER BY id", (tenant_id, phone)
    )
    return [MemoryRow.model_validate(r) for r in await cur.fetchall()]


async def nearest(
    conn: Conn, tenant_id: int, phone: str, embedding: Sequence[float], *, limit: int = 20
) -> list[tuple[int, float]]:
    """The customer's current memories closest to `embedding` (cosine distance), nearest first.

    The tenant and phone filters are part of the scan: with a selective filter the planner reads the customer's
    rows by `memories_owner_idx` and sorts them (exact); when it picks the HNSW index instead, pgvector 0.8's
    iterative scan keeps walking the graph until `limit` rows pass the filter rather than filtering a global top-k.
    """
    await conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    cur = await conn.execute(
        """SELECT id, embedding <=> %s::vector AS dist FROM memories
            WHERE tenant_id = %s AND phone = %s AND superseded_at IS NULL AND embedding IS NOT NULL
            ORDER BY dist LIMIT %s""",
        (vector_literal(embedding), tenant_id, phone, limit),
    )
    return [(int(r["id"]), float(r["dist"])) for r in await cur.fetchall()]


async def fts_ranked(
    conn: Conn, tenant_id: int, phone: str, tsquery: str, *, config: TextConfig = "simple", limit: int = 20
) -> list[tuple[int, float]]:
    """The customer's current memories matching `tsquery` (to_tsquery syntax, an OR of lexemes), best first."""
    column = _TS_COLUMN[config]
    cur = await conn.execute(
        f"""SELECT id, ts_rank({column}, q) AS rank FROM memories, to_tsquery(%s::regconfig, %s) AS q
             WHERE tenant_id = %s AND phone = %s AND superseded_at IS NULL AND {column} @@ q
             ORDER BY rank DESC, id DESC LIMIT %s""",
        (config, tsquery, tenant_id, phone, limit),
    )
    return [(int(r["id"]), float(r["rank"])) for r in await cur.fetchall()]


async def by_ids(conn: Conn, tenant_id: int, ids: Sequence[int]) -> dict[int, MemoryRow]:
    """Rows by id, confined to the tenant."""
    if not ids:
        return {}
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM memories WHERE tenant_id = %s AND id = ANY(%s)", (tenant_id, list(ids))
    )
    return {int(r["id"]): MemoryRow.model_validate(r) for r in await cur.fetchall()}


async def delete_customer(conn: Conn, tenant_id: int, phone: str) -> int:
    """Erase everything remembered about one customer of one restaurant, history included (LGPD erasure)."""
    cur = await conn.execute("DELETE FROM memories WHERE tenant_id = %s AND phone = %s", (tenant_id, phone))
    return cur.rowcount
