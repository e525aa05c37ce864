"""Menu items with their option groups, removable ingredients, tags, availability and search vectors."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from memory.db import Conn


class OptionChoice(BaseModel):
    """One choice of an option group; `price` is a delta on the item price (negative is a discount)."""

    model_config = ConfigDict(frozen=True)

    name: str
    price: Decimal


class OptionGroup(BaseModel):
    """A group of choices with how many the customer must (`min`) and may (`max`) pick."""

    model_config = ConfigDict(frozen=True)

    group: str
    min: int
    max: int
    choices: list[OptionChoice]


class MenuItem(BaseModel):
    """A menu item as stored."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    sku: str
    category: str
    name: str
    description: str
    price: Decimal
    tags: list[str]
    available: bool
    options: list[OptionGroup]
    removable: list[str]
    allergens: list[str] = []
    position: int


class MenuItemFields(BaseModel):
    """What an import writes for one item."""

    sku: str
    category: str
    name: str
    description: str
    price: Decimal
    tags: list[str]
    available: bool
    options: list[OptionGroup]
    removable: list[str]
    allergens: list[str] = []
    position: int
    source_hash: str


_COLUMNS = (
    "id, tenant_id, sku, category, name, description, price, tags, available, options, removable, allergens, position"
)


def _item(row: dict[str, Any]) -> MenuItem:
    return MenuItem.model_validate(row)


async def list_items(conn: Conn, tenant_id: int, *, available_only: bool = False) -> list[MenuItem]:
    """The tenant's items in menu order."""
    where = "AND available" if available_only else ""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM menu_items WHERE tenant_id = %s {where} ORDER BY position, id",
        (tenant_id,),
    )
    return [_item(r) for r in await cur.fetchall()]


async def by_skus(conn: Conn, tenant_id: int, skus: Sequence[str]) -> dict[str, MenuItem]:
    """Items by sku (missing skus are simply absent)."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM menu_items WHERE tenant_id = %s AND sku = ANY(%s)", (tenant_id, list(skus))
    )
    return {r["sku"]: _item(r) for r in await cur.fetchall()}


async def by_sku(conn: Conn, tenant_id: int, sku: str) -> MenuItem | None:
    """One item by sku."""
    return (await by_skus(conn, tenant_id, [sku])).get(sku)


async def source_hashes(conn: Conn, tenant_id: int) -> dict[str, tuple[str, bool]]:
    """For each sku: the fingerprint of what was last imported, and whether it is available."""
    cur = await conn.execute("SELECT sku, source_hash, available FROM menu_items WHERE tenant_id = %s", (tenant_id,))
    return {r["sku"]: (r["source_hash"], r["available"]) for r in await cur.fetchall()}


async def upsert(conn: Conn, tenant_id: int, item: MenuItemFields, embedding: Sequence[float] | None) -> None:
    """Insert an item or overwrite the one with the same sku."""
    await conn.execute(
        """INSERT INTO menu_items (tenant_id, sku, category, name, description, price, tags, available,
                                   options, removable, allergens, position, source_hash, embedding)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::vector)
           ON CONFLICT (tenant_id, sku) DO UPDATE SET
               category = EXCLUDED.category, name = EXCLUDED.name, description = EXCLUDED.description,
               price = EXCLUDED.price, tags = EXCLUDED.tags, available = EXCLUDED.available,
               options = EXCLUDED.options, removable = EXCLUDED.removable, allergens = EXCLUDED.allergens,
               position = EXCLUDED.position,
               source_hash = EXCLUDED.source_hash, embedding = EXCLUDED.embedding, updated_at = now()""",
        (
            tenant_id,
            item.sku,
            item.category,
            item.name,
            item.description,
            item.price,
            item.tags,
            item.available,
            Jsonb([g.model_dump(mode="json") for g in item.options]),
            item.removable,
            item.allergens,
            item.position,
            item.source_hash,
            _vector_literal(embedding),
        ),
    )


async def make_unavailable(conn: Conn, tenant_id: int, skus: Sequence[str]) -> None:
    """Mark items unavailable (never deleted: past orders keep pointing at them)."""
    await conn.execute(
        """UPDATE menu_items SET available = false, source_hash = '', updated_at = now()
            WHERE tenant_id = %s AND sku = ANY(%s) AND available""",
        (tenant_id, list(skus)),
    )


async def set_positions(conn: Conn, tenant_id: int, positions: dict[str, int]) -> int:
    """Set each item's menu position; only rows whose position differs are written. Returns how many."""
    cur = await conn.execute(
        """UPDATE menu_items m SET position = p.position, updated_at = now()
             FROM unnest(%s::text[], %s::int[]) AS p(sku, position)
            WHERE m.tenant_id = %s AND m.sku = p.sku AND m.position IS DISTINCT FROM p.position""",
        (list(positions), list(positions.values()), tenant_id),
    )
    return cur.rowcount


def _vector_literal(embedding: Sequence[float] | None) -> str | None:
    if embedding is None:
        return None
    return "[" + ",".join(f"{x:.6f}" for x in embedding) + "]"


async def set_available(conn: Conn, tenant_id: int, sku: str, available: bool) -> MenuItem | None:
    """Sold out / back now (staff, no import); the item, or None if the restaurant has no such sku."""
    cur = await conn.execute(
        f"""UPDATE menu_items SET available = %s, updated_at = now() WHERE tenant_id = %s AND sku = %s
            RETURNING {_COLUMNS}""",
        (available, tenant_id, sku),
    )
    row = await cur.fetchone()
    return _item(row) if row else None
