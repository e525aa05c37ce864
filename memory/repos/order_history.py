"""A customer's past orders as the cart needs them ("o mesmo de sempre")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from memory.db import Conn


class PastOption(BaseModel):
    """An option chosen on a past line."""

    model_config = ConfigDict(frozen=True)

    group: str
    choice: str


class PastOrderLine(BaseModel):
    """One line of a past order, as it was ordered (prices then, not now)."""

    model_config = ConfigDict(frozen=True)

    order_id: int
    created_at: datetime
    sku: str
    name: str
    qty: int
    unit_price: Decimal
    options: list[PastOption] = []
    removed: list[str] = []


def _options(raw: Any) -> list[PastOption]:
    # rows written by the orders repository hold ChosenOption dumps; tolerate `name` for the choice too
    out: list[PastOption] = []
    for o in raw or []:
        if isinstance(o, dict) and o.get("group") and (o.get("choice") or o.get("name")):
            out.append(PastOption(group=str(o["group"]), choice=str(o.get("choice") or o.get("name"))))
    return out


async def last_order_lines(conn: Conn, tenant_id: int, customer_id: int) -> list[PastOrderLine]:
    """The lines of the customer's newest order that was not cancelled (empty when there is none)."""
    cur = await conn.execute(
        """SELECT o.id AS order_id, o.created_at, i.sku, i.name, i.qty, i.unit_price, i.options, i.removed
             FROM order_items i
             JOIN (SELECT id, created_at FROM orders
                    WHERE tenant_id = %s AND customer_id = %s AND status <> 'cancelled'
                    ORDER BY created_at DESC, id DESC LIMIT 1) o ON o.id = i.order_id
            WHERE i.tenant_id = %s
            ORDER BY i.position, i.id""",
        (tenant_id, customer_id, tenant_id),
    )
    return [
        PastOrderLine(
            order_id=r["order_id"],
            created_at=r["created_at"],
            sku=r["sku"],
            name=r["name"],
            qty=r["qty"],
            unit_price=r["unit_price"],
            options=_options(r["options"]),
            removed=list(r["removed"] or []),
        )
        for r in await cur.fetchall()
    ]
