"""Telling customers what happened to their order, in their language, through whatever channel the caller has.

Tools can't import the server, so the channel comes in as a `Notifier` (the server's `OutboundChannel` is one).
A move records that its customer must be told in the same transaction as the move itself
(`order_transitions.notified_at` stays empty); the caller holding a channel tells them right after the commit,
and a periodic job (`server/jobs.py`) tells whoever a crash or a channel-less caller (the CLI without Twilio)
left untold. Every message carries a dedupe key, so telling twice sends once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from memory.db import Pool
from memory.repos import orders as order_repo
from memory.repos import tenants as tenant_repo
from memory.repos.outbound import OutboundKind
from memory.repos.tenants import Tenant
from prompts import catalog

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Sends a message to a customer on behalf of a tenant; returns the recorded outbound message id.

    With a `dedupe_key`, sending the same key again (a replayed turn) sends nothing new. The server's channels
    (console, Twilio) implement it; the server calls it `OutboundChannel`.
    """

    async def send(
        self,
        tenant: Tenant,
        to: str,
        text: str,
        *,
        kind: OutboundKind = "reply",
        media_url: str | None = None,
        dedupe_key: str | None = None,
    ) -> int: ...


def state_text(status: str, locale: str) -> str:
    """An order state in the customer's words ("sendo preparado")."""
    key = f"order.state.{status}"
    return catalog.text(key, locale) if catalog.has(key) else status


def ago_text(delta: timedelta, locale: str) -> str:
    """How long ago, the way people say it ("há 5 min", "2 h ago")."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return catalog.text("order.ago.now", locale)
    if seconds < 3600:
        return catalog.text("order.ago.minutes", locale, n=seconds // 60)
    if seconds < 86400:
        return catalog.text("order.ago.hours", locale, n=seconds // 3600)
    return catalog.text("order.ago.days", locale, n=seconds // 86400)


def move_text(to_status: str, locale: str, order_id: int, *, reason: str | None = None) -> str:
    """The message a move sends; an unpaid PIX that ran out says so instead of a bare "cancelled"."""
    expired = to_status == "cancelled" and reason == EXPIRED_REASON
    key = "order.notify.expired" if expired else f"order.notify.{to_status}"
    return catalog.text(key, locale, order_id=order_id)


# the reason the expiry job gives: the customer hears "the PIX ran out", not a bare "cancelled"
EXPIRED_REASON = "pix expired"


def transition_dedupe_key(transition_id: int) -> str:
    """The outbound dedupe key of a move's message."""
    return f"order-move:{transition_id}"


async def tell(pool: Pool, notifier: Notifier, transition_id: int) -> bool:
    """Tell the customer about one move, once; True if it is (now or already) told."""
    async with pool.connection() as conn:
        move = await order_repo.get_transition(conn, transition_id)
        if move is None:
            return False
        if move.notified_at is not None:
            return True
        order = await order_repo.by_id(conn, move.tenant_id, move.order_id)
        tenant = await tenant_repo.by_id(conn, move.tenant_id)
        cur = await conn.execute(
            "SELECT phone FROM customers WHERE tenant_id = %s AND id = %s",
            (move.tenant_id, order.customer_id if order else 0),
        )
        who = await cur.fetchone()
    if order is None or tenant is None or who is None:
        return False
    locale = order.locale or tenant.locale
    text = move_text(move.to_status, locale, order.id, reason=move.reason)
    await notifier.send(tenant, who["phone"], text, kind="notification", dedupe_key=transition_dedupe_key(move.id))
    async with pool.connection() as conn:
        await order_repo.mark_told(conn, move.id)
    return True


async def tell_untold(pool: Pool, notifier: Notifier, *, older_than: timedelta = timedelta(0), limit: int = 100) -> int:
    """Tell every customer a move left untold (a crash after the commit, a caller without a channel); how many."""
    async with pool.connection() as conn:
        moves = await order_repo.untold_transitions(conn, older_than_s=older_than.total_seconds(), limit=limit)
    told = 0
    for move in moves:
        try:
            told += await tell(pool, notifier, move.id)
        except Exception:
            # one customer's failing channel must not keep the others from hearing about their orders
            log.exception("could not tell the customer of order %s about its move to %s", move.order_id, move.to_status)
    return told


def since(changed_at: datetime | None, now: datetime) -> timedelta:
    """Time since a change (zero when unknown)."""
    return now - changed_at if changed_at is not None else timedelta(0)
