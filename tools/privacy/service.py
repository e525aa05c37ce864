"""The customer's LGPD rights as domain operations: consent, export and erasure (WhatsApp and staff CLI share them)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import BaseModel, ConfigDict
from pydantic_core import to_jsonable_python

from memory.checkpointer import STATE_TYPES
from memory.db import Pool
from memory.privacy import customer_ref
from memory.repos import privacy as repo
from tools.context import thread_id
from tools.privacy.links import ExportLinks

log = logging.getLogger("comanda.privacy")

# the version of the notice a customer accepts at registration; bump it when the notice's text changes
NOTICE_VERSION = "v1"

Actor = Literal["customer", "staff"]


class Erasure(BaseModel):
    """What an erasure did: `erased` is False when nothing about the customer was held any more."""

    model_config = ConfigDict(frozen=True)

    erased: bool
    counts: dict[str, int]


async def record_consent(pool: Pool, tenant_id: int, customer_id: int, accepted: bool) -> None:
    """Store the customer's answer to the current privacy notice."""
    async with pool.connection() as conn, conn.transaction():
        await repo.record_consent(conn, tenant_id, customer_id, NOTICE_VERSION, accepted)


async def privacy_url(pool: Pool, tenant_id: int) -> str | None:
    """The restaurant's privacy notice link (shown with the consent notice)."""
    async with pool.connection() as conn:
        return await repo.privacy_url(conn, tenant_id)


async def export_document(pool: Pool, tenant_id: int, phone: str) -> dict[str, Any] | None:
    """Everything held about the customer as a JSON-ready document, or None when nothing is held."""
    async with pool.connection() as conn:
        data = await repo.customer_data(conn, tenant_id, phone)
    if data is None:
        return None
    data["conversation"] = await _conversation(pool, thread_id(tenant_id, phone))
    return {"format": "comanda-lgpd-export/1", "phone": phone, **to_jsonable_python(data)}


async def _conversation(pool: Pool, thread: str) -> list[dict[str, str]]:
    """The customer's words and the bot's answers kept in the conversation's checkpoint (the only place the
    customer's own messages are stored)."""
    saver = AsyncPostgresSaver(pool, serde=JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES))  # type: ignore[arg-type,unused-ignore]
    found = await saver.aget_tuple({"configurable": {"thread_id": thread}})
    if found is None:
        return []
    said = []
    for message in found.checkpoint.get("channel_values", {}).get("messages", []):
        if isinstance(message, HumanMessage | AIMessage) and message.text:
            said.append({"from": "customer" if isinstance(message, HumanMessage) else "bot", "text": message.text})
    return said


async def export_by_grant(pool: Pool, tenant_id: int, customer_id: int) -> dict[str, Any] | None:
    """The export an (already verified) link grants, or None when that customer was erased since."""
    async with pool.connection() as conn:
        phone = await repo.phone_of(conn, tenant_id, customer_id)
    return await export_document(pool, tenant_id, phone) if phone else None


async def audit_export(pool: Pool, tenant_id: int, phone: str, *, actor: Actor) -> None:
    """Record that a copy of the customer's data went out (staff's `comanda customers export`)."""
    async with pool.connection() as conn, conn.transaction():
        cid = await repo.customer_id_by_phone(conn, tenant_id, phone)
        await repo.audit(conn, tenant_id, cid, customer_ref(tenant_id, phone), "export", actor, {})
    log.info("privacy export", extra={"tenant_id": tenant_id, "customer_id": cid, "actor": actor})


async def export_link(
    pool: Pool, links: ExportLinks, tenant_id: int, phone: str, now: datetime, *, actor: Actor
) -> str | None:
    """A signed, expiring link to the customer's export (audited), or None when we hold no profile for them."""
    async with pool.connection() as conn, conn.transaction():
        cid = await repo.customer_id_by_phone(conn, tenant_id, phone)
        if cid is None:
            return None
        await repo.audit(conn, tenant_id, cid, customer_ref(tenant_id, phone), "export", actor, {})
    log.info("privacy export issued", extra={"tenant_id": tenant_id, "customer_id": cid, "actor": actor})
    return links.url(tenant_id, cid, now)


async def erase_customer(pool: Pool, tenant_id: int, phone: str, *, actor: Actor) -> Erasure:
    """Delete all the restaurant holds about this phone (orders stay, anonymised), audited once.

    Idempotent: a second request finds no profile nor memories, records no second audit event, and only clears
    what came since (the conversation's own messages and checkpoints).
    """
    thread = thread_id(tenant_id, phone)
    async with pool.connection() as conn, conn.transaction():
        cid, counts = await repo.erase(conn, tenant_id, phone, thread)
        erased = cid is not None or counts.get("memories", 0) > 0
        if erased:
            await repo.audit(conn, tenant_id, cid, customer_ref(tenant_id, phone), "erase", actor, counts)
    if erased:
        # ids and counts only: the audit says that it happened, never what was erased
        log.info("privacy erasure", extra={"tenant_id": tenant_id, "customer_id": cid, "actor": actor, **counts})
    return Erasure(erased=erased, counts=counts)


async def finish_erasure(pool: Pool, tenant_id: int, phone: str) -> dict[str, int]:
    """After the turn that erased a customer: drop what the turn itself wrote (its end-of-turn checkpoint, the
    reply just sent). Not audited again."""
    async with pool.connection() as conn, conn.transaction():
        _, counts = await repo.erase(conn, tenant_id, phone, thread_id(tenant_id, phone))
    return counts


async def purge_refused(pool: Pool, idle_hours: int = 24) -> int:
    """Erase the customers who refused the notice once their order is done (or they ordered nothing for
    `idle_hours`): a refusal keeps their data for that order only. Returns how many were erased."""
    async with pool.connection() as conn:
        due = await repo.refused_and_done(conn, idle_hours)
    for tenant_id, phone in due:
        await erase_customer(pool, tenant_id, phone, actor="customer")
    return len(due)
