"""customer.created / customer.updated outbox rows, written in the transaction that changes the customer."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from memory.db import Conn
from memory.repos import outbox as outbox_repo
from tools.pos.events import customer_snapshot

# what the POS sees of a customer; a change elsewhere (CPF, preferences) is not news to the kitchen
_WATCHED = ("name", "email", "address")


async def before(conn: Conn, tenant_id: int, phone: str, customer_id: int | None = None) -> dict[str, Any] | None:
    """The customer as it is before a change (None if they don't exist yet); locks their row."""
    return await outbox_repo.customer_row(conn, tenant_id, customer_id, phone)


async def record(conn: Conn, tenant_id: int, old: dict[str, Any] | None, phone: str) -> str | None:
    """After the change, same transaction: write customer.created or customer.updated if the POS-visible data
    changed; returns the event type written. A replayed change finds nothing changed and writes nothing."""
    new = await outbox_repo.customer_row(conn, tenant_id, old["id"] if old else None, phone)
    if new is None:
        return None
    snapshot = customer_snapshot(
        customer_id=new["id"], phone=new["phone"], name=new["name"], email=new["email"], address=new["address"]
    )
    if old is None:
        event_type = "customer.created"
        payload: dict[str, Any] = {"customer": snapshot.model_dump(mode="json")}
        key: tuple[object, ...] = (tenant_id, event_type, new["id"])
    else:
        changed = [f for f in _WATCHED if old.get(f) != new.get(f)]
        if not changed:
            return None
        event_type = "customer.updated"
        names = ["default_address" if f == "address" else f for f in changed]
        payload = {"customer": snapshot.model_dump(mode="json"), "changed": names}
        # the same new state gives the same id: a replay can't write it twice
        state = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
        key = (tenant_id, event_type, new["id"], state)
    await outbox_repo.enqueue(
        conn,
        tenant_id=tenant_id,
        event_id=outbox_repo.event_id(*key),
        event_type=event_type,
        aggregate_id=new["id"],
        payload=payload,
    )
    return event_type
