"""Menu search reads: light candidate rows with a full-text rank, nearest items by embedding, categories."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn


class SearchRow(BaseModel):
    """An item as search needs it: everything but the options."""

    model_config = ConfigDict(frozen=True)

    id: int
    sku: str
    category: str
    name: str
    description: str
    price: Decimal
    tags: list[str]
    available: bool
    position: int


_LIGHT = "id, sku, category, name, description, price, tags, available, position"


def _filters(tags: Sequence[str], category: str | None) -> tuple[str, list[object]]:
    sql = ""
    params: list[object] = []
    if tags:
        sql += " AND tags @> %s::text[]"
        params.append(list(tags))
    if category is not None:
        sql += " AND category = %s"
        params.append(category)
    return sql, params


async def candidates(
    conn: Conn, tenant_id: int, *, tags: Sequence[str] = (), category: str | None = None
) -> list[SearchRow]:
    """Every item passing the tag/category filters, in menu order (no options: search doesn't need them)."""
    where, params = _filters(tags, category)
    cur = await conn.execute(
        f"SELECT {_LIGHT} FROM menu_items WHERE tenant_id = %s{where} ORDER BY position, id",
        [tenant_id, *params],
    )
    return [SearchRow.model_validate(r) for r in await cur.fetchall()]


async def fts_ranked(
    conn: Conn,
    tenant_id: int,
    tsquery: str,
    *,
    tags: Sequence[str] = (),
    category: str | None = None,
    limit: int = 20,
) -> list[tuple[int, float]]:
    """Item ids matching `tsquery` (to_tsquery syntax, 'simple' config, accents folded), best rank first."""
    where, params = _filters(tags, category)
    cur = await conn.execute(
        f"""SELECT id, ts_rank(search, q) AS rank FROM menu_items, to_tsquery('simple', %s) AS q
             WHERE tenant_id = %s AND search @@ q{where} ORDER BY rank DESC, position LIMIT %s""",
        [tsquery, tenant_id, *params, limit],
    )
    return [(int(r["id"]), float(r["rank"])) for r in await cur.fetchall()]


async def nearest(
    conn: Conn,
    tenant_id: int,
    embedding: Sequence[float],
    *,
    tags: Sequence[str] = (),
    category: str | None = None,
    limit: int = 8,
) -> list[tuple[int, float]]:
    """Item ids closest to `embedding` by cosine distance, with the distance, nearest first.

    When the planner walks the HNSW index (many tenants), pgvector 0.8's iterative scan keeps going until `limit`
    items of this tenant pass the filter, instead of filtering a global top-40 down to nothing.
    """
    where, params = _filters(tags, category)
    async with conn.transaction():
        await conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cur = await conn.execute(
            f"""SELECT id, embedding <=> %s::vector AS dist FROM menu_items
                 WHERE tenant_id = %s AND embedding IS NOT NULL{where} ORDER BY dist LIMIT %s""",
            [_vector_literal(embedding), tenant_id, *params, limit],
        )
        rows = await cur.fetchall()
    # relaxed order: the index may hand back neighbours slightly out of order
    return sorted(((int(r["id"]), float(r["dist"])) for r in rows), key=lambda pair: pair[1])


def _vector_literal(embedding: Sequence[float]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in embedding) + "]"


async def categories(conn: Conn, tenant_id: int) -> list[str]:
    """The tenant's categories in menu order."""
    cur = await conn.execute(
        "SELECT category FROM menu_items WHERE tenant_id = %s GROUP BY category ORDER BY min(position), category",
        (tenant_id,),
    )
    return [r["category"] for r in await cur.fetchall()]


async def all_tags(conn: Conn, tenant_id: int) -> list[str]:
    """Every tag used on the tenant's items."""
    cur = await conn.execute(
        "SELECT DISTINCT unnest(tags) AS tag FROM menu_items WHERE tenant_id = %s ORDER BY 1", (tenant_id,)
    )
    return [r["tag"] for r in await cur.fetchall()]
