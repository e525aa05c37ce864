"""LGPD: consents, everything held about one customer (export), its erasure, and the audit of both."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from memory.db import Conn


class ConsentRow(BaseModel):
    """A consent a customer gave or refused, with the notice version they were shown."""

    model_config = ConfigDict(frozen=True)

    notice_version: str
    accepted: bool
    at: datetime


async def record_consent(conn: Conn, tenant_id: int, customer_id: int, notice_version: str, accepted: bool) -> None:
    """Store a consent (or a refusal); an accepted one also stamps `customers.lgpd_consent_at`."""
    await conn.execute(
        "INSERT INTO consents (tenant_id, customer_id, notice_version, accepted) VALUES (%s, %s, %s, %s)",
        (tenant_id, customer_id, notice_version, accepted),
    )
    if accepted:
        await conn.execute(
            "UPDATE customers SET lgpd_consent_at = now() WHERE tenant_id = %s AND id = %s", (tenant_id, customer_id)
        )


async def privacy_url(conn: Conn, tenant_id: int) -> str | None:
    """The restaurant's privacy notice link, if it set one."""
    cur = await conn.execute("SELECT privacy_url FROM tenants WHERE id = %s", (tenant_id,))
    row = await cur.fetchone()
    return row["privacy_url"] if row else None


async def set_privacy_url(conn: Conn, tenant_id: int, url: str | None) -> None:
    """Set (or clear, with None) the restaurant's privacy notice link."""
    await conn.execute("UPDATE tenants SET privacy_url = %s, updated_at = now() WHERE id = %s", (url, tenant_id))


async def _rows(conn: Conn, query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    cur = await conn.execute(query, params)
    return [dict(r) for r in await cur.fetchall()]


async def customer_data(conn: Conn, tenant_id: int, phone: str) -> dict[str, Any] | None:
    """Every row held about the customer with this phone (None when we hold nothing about them).

    Profile, addresses, consents, memories (with their history), orders with their items, and the messages we
    sent them and those they exchanged with staff.
    """
    profiles = await _rows(
        conn,
        """SELECT id, phone, name, email, cpf, preferences, tags, loyalty_points, lgpd_consent_at, source,
                  created_at, updated_at
             FROM customers WHERE tenant_id = %s AND phone = %s""",
        (tenant_id, phone),
    )
    profile = profiles[0] if profiles else None
    cid = profile["id"] if profile else None
    memories = await _rows(
        conn,
        """SELECT kind, subject, text, created_at, updated_at, superseded_at FROM memories
            WHERE tenant_id = %s AND (phone = %s OR customer_id = %s) ORDER BY id""",
        (tenant_id, phone, cid),
    )
    messages = await _rows(
        conn,
        """SELECT body, kind, status, created_at FROM outbound_messages WHERE tenant_id = %s AND phone = %s
            ORDER BY id""",
        (tenant_id, phone),
    )
    staff = await _rows(
        conn,
        """SELECT m.sender, m.body, m.created_at FROM handoff_messages m
             JOIN handoff_tickets t ON t.id = m.ticket_id AND t.tenant_id = m.tenant_id
            WHERE t.tenant_id = %s AND t.phone = %s ORDER BY m.id""",
        (tenant_id, phone),
    )
    if profile is None and not memories:
        return None
    addresses: list[dict[str, Any]] = []
    consents: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    if cid is not None:
        addresses = await _rows(
            conn,
            """SELECT label, street, number, complement, neighborhood, city, state, postal_code, reference,
                      latitude, longitude, created_at
                 FROM addresses WHERE tenant_id = %s AND customer_id = %s ORDER BY id""",
            (tenant_id, cid),
        )
        consents = await _rows(
            conn,
            "SELECT notice_version, accepted, at FROM consents WHERE tenant_id = %s AND customer_id = %s ORDER BY id",
            (tenant_id, cid),
        )
        orders = await _rows(
            conn,
            """SELECT o.id, o.status, o.payment_method, o.subtotal, o.delivery_fee, o.total, o.address, o.notes,
                      o.created_at, o.paid_at,
                      coalesce((SELECT json_agg(json_build_object('name', i.name, 'qty', i.qty,
                                                                  'unit_price', i.unit_price,
                                                                  'line_total', i.line_total,
                                                                  'options', i.options, 'removed', i.removed)
                                                ORDER BY i.position, i.id)
                                  FROM order_items i WHERE i.tenant_id = o.tenant_id AND i.order_id = o.id),
                               '[]') AS items
                 FROM orders o WHERE o.tenant_id = %s AND o.customer_id = %s ORDER BY o.id""",
            (tenant_id, cid),
        )
    if profile is not None:
        profile = {k: v for k, v in profile.items() if k != "id"}
    return {
        "profile": profile,
        "addresses": addresses,
        "consents": consents,
        "memories": memories,
        "orders": orders,
        "messages": messages,
        "staff_messages": staff,
    }


async def customer_id_by_phone(conn: Conn, tenant_id: int, phone: str) -> int | None:
    """The id of the (not erased) customer with this phone."""
    cur = await conn.execute("SELECT id FROM customers WHERE tenant_id = %s AND phone = %s", (tenant_id, phone))
    row = await cur.fetchone()
    return int(row["id"]) if row else None


async def phone_of(conn: Conn, tenant_id: int, customer_id: int) -> str | None:
    """The phone of a customer not erased since (an export link names the customer by id)."""
    cur = await conn.execute(
        "SELECT phone FROM customers WHERE tenant_id = %s AND id = %s AND erased_at IS NULL", (tenant_id, customer_id)
    )
    row = await cur.fetchone()
    return str(row["phone"]) if row else None


_CHECKPOINT_TABLES = ("checkpoint_writes", "checkpoint_blobs", "checkpoints")


async def erase(conn: Conn, tenant_id: int, phone: str, thread_id: str) -> tuple[int | None, dict[str, int]]:
    """Delete everything held about this phone at this restaurant; orders stay, anonymised. Returns the id of the
    customer erased (None if there was none: the lock decides, so of two concurrent erasures one finds it) and the
    row counts.

    Run inside a transaction. A customer with orders becomes an anonymous row (phone `erased:<id>`, no name,
    e-mail or CPF) so the orders kept for fiscal duty still have their customer; one without orders is deleted.
    Running it again finds nothing of the profile and deletes only what came since (idempotent).
    """
    counts: dict[str, int] = {}

    async def run(name: str, query: str, params: tuple[Any, ...]) -> None:
        cur = await conn.execute(query, params)
        counts[name] = counts.get(name, 0) + max(cur.rowcount, 0)

    cur = await conn.execute(
        "SELECT id FROM customers WHERE tenant_id = %s AND phone = %s FOR UPDATE", (tenant_id, phone)
    )
    row = await cur.fetchone()
    cid: int | None = int(row["id"]) if row else None
    await run("memories", "DELETE FROM memories WHERE tenant_id = %s AND (phone = %s OR customer_id = %s)",
              (tenant_id, phone, cid))  # fmt: skip
    if cid is not None:
        cur = await conn.execute("SELECT id FROM orders WHERE tenant_id = %s AND customer_id = %s", (tenant_id, cid))
        order_ids = [int(r["id"]) for r in await cur.fetchall()]
        # totals, items and dates stay (fiscal duty); the address snapshot, notes and the idempotency key (it holds
        # the conversation's thread id, hence the phone) go
        await run("orders", """UPDATE orders SET address = '{"erased": true}'::jsonb, address_id = NULL, notes = NULL,
                                                 idempotency_key = 'erased:' || id
                               WHERE tenant_id = %s AND customer_id = %s""", (tenant_id, cid))  # fmt: skip
        # the POS events of the customer and their orders carried name, phone and address
        await run("outbox", """UPDATE outbox SET payload = jsonb_build_object('erased', true)
                               WHERE tenant_id = %s AND (aggregate_id = ANY(%s) OR payload::text LIKE %s)""",
                  (tenant_id, order_ids, f"%{phone}%"))  # fmt: skip
        await run("customers", "UPDATE customers SET default_address_id = NULL WHERE id = %s", (cid,))
        await run("addresses", "DELETE FROM addresses WHERE tenant_id = %s AND customer_id = %s", (tenant_id, cid))
        await run("payment_customers", "DELETE FROM payment_customers WHERE tenant_id = %s AND customer_id = %s",
                  (tenant_id, cid))  # fmt: skip
        if order_ids:
            await run("customers", """UPDATE customers SET phone = 'erased:' || id, name = NULL, email = NULL,
                                          cpf = NULL, preferences = '{}'::jsonb, tags = '{}', lgpd_consent_at = NULL,
                                          erased_at = now(), updated_at = now()
                                      WHERE id = %s""", (cid,))  # fmt: skip
        else:
            await run("customers", "DELETE FROM customers WHERE id = %s", (cid,))
    else:
        await run("outbox", "UPDATE outbox SET payload = jsonb_build_object('erased', true) "
                  "WHERE tenant_id = %s AND payload::text LIKE %s", (tenant_id, f"%{phone}%"))  # fmt: skip
    tickets = "SELECT id FROM handoff_tickets WHERE tenant_id = %s AND (phone = %s OR thread_id = %s)"
    await run("handoff_messages", f"DELETE FROM handoff_messages WHERE ticket_id IN ({tickets})",
              (tenant_id, phone, thread_id))  # fmt: skip
    await run("handoff_notes", f"DELETE FROM handoff_notes WHERE ticket_id IN ({tickets})",
              (tenant_id, phone, thread_id))  # fmt: skip
    await run("handoff_tickets", "DELETE FROM handoff_tickets WHERE tenant_id = %s AND (phone = %s OR thread_id = %s)",
              (tenant_id, phone, thread_id))  # fmt: skip
    for table in ("outbound_messages", "conversation_windows"):
        await run(table, f"DELETE FROM {table} WHERE tenant_id = %s AND phone = %s", (tenant_id, phone))
    # the restaurant's metered conversations stay counted (its bill for the month), without whose they were
    usage = "UPDATE conversation_usage SET phone = 'erased' WHERE tenant_id = %s AND phone = %s"
    await run("conversation_usage", usage, (tenant_id, phone))
    for table in _CHECKPOINT_TABLES:
        await run(table, f"DELETE FROM {table} WHERE thread_id = %s", (thread_id,))
    # queued memory extractions carry the customer's words (not one being run right now: its worker holds it)
    cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present")
    present = await cur.fetchone()
    if present and present["present"]:
        await run("jobs", """DELETE FROM procrastinate_jobs WHERE status <> 'doing'
                             AND (args ->> 'tenant_id')::text = %s AND args ->> 'phone' = %s""",
                  (str(tenant_id), phone))  # fmt: skip
    return cid, {k: v for k, v in counts.items() if v}


async def audit(
    conn: Conn,
    tenant_id: int,
    customer_id: int | None,
    subject: str,
    action: Literal["export", "erase"],
    actor: Literal["customer", "staff"],
    counts: dict[str, int],
) -> None:
    """Record that a right was exercised: ids and row counts, never the data."""
    await conn.execute(
        """INSERT INTO privacy_audit (tenant_id, customer_id, subject, action, actor, counts)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (tenant_id, customer_id, subject, action, actor, Jsonb(counts)),
    )


async def audit_count(conn: Conn, tenant_id: int, subject: str, action: str) -> int:
    """How many times this right was exercised for this customer."""
    cur = await conn.execute(
        "SELECT count(*) AS n FROM privacy_audit WHERE tenant_id = %s AND subject = %s AND action = %s",
        (tenant_id, subject, action),
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def refused_and_done(conn: Conn, idle_hours: int) -> list[tuple[int, str]]:
    """(tenant_id, phone) of customers whose latest answer to the notice was a refusal and who have no order under
    way: every order of theirs is finished, or they placed none in `idle_hours`."""
    cur = await conn.execute(
        """SELECT c.tenant_id, c.phone FROM customers c
            WHERE c.erased_at IS NULL
              AND (SELECT k.accepted FROM consents k WHERE k.tenant_id = c.tenant_id AND k.customer_id = c.id
                    ORDER BY k.at DESC, k.id DESC LIMIT 1) = false
              AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id = c.tenant_id AND o.customer_id = c.id
                                 AND o.status NOT IN ('delivered', 'cancelled', 'refunded'))
              AND (EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id = c.tenant_id AND o.customer_id = c.id)
                   OR c.updated_at < now() - make_interval(hours => %s))
            ORDER BY c.id""",
        (idle_hours,),
    )
    return [(int(r["tenant_id"]), str(r["phone"])) for r in await cur.fetchall()]
