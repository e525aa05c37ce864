"""Unpaid PIX orders: one reminder before the restaurant's expiry, then the order is cancelled and the customer told.

Run by a periodic job (`server/jobs.py`), so it is idempotent by construction: the reminder goes out under a fixed
dedupe key and is marked in the order, and the cancel is a lifecycle move (a second one finds it done).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pydantic import BaseModel

from memory.db import Pool
from memory.repos import orders as order_repo
from memory.repos import payments as payment_repo
from memory.repos import tenants as tenant_repo
from memory.repos.payments import Payment
from prompts import catalog
from tools.money import format_brl
from tools.orders import lifecycle
from tools.orders.notify import EXPIRED_REASON, Notifier

log = logging.getLogger(__name__)

# the reminder goes out when this share of the expiry has passed (20 of 30 minutes)
REMIND_AT = 2 / 3

# withdraws a charge at its provider (Asaas deletes it), so a cancelled order can't be paid
VoidCharge = Callable[[Payment], Awaitable[None]]


class SweepReport(BaseModel):
    """What one pass did."""

    reminded: list[int] = []
    expired: list[int] = []


def reminder_key(order_id: int) -> str:
    """The dedupe key of an order's one PIX reminder."""
    return f"order:{order_id}:pix-reminder"


async def sweep(pool: Pool, notifier: Notifier, *, void: VoidCharge | None = None) -> SweepReport:
    """Remind and expire unpaid PIX orders as their restaurants' expiry says."""
    report = SweepReport()
    async with pool.connection() as conn:
        waiting = await order_repo.unpaid_pix(conn)
    for order in waiting:
        expiry_s = order.expiry_minutes * 60
        try:
            if order.waited_s >= expiry_s:
                if await _expire(pool, notifier, order.tenant_id, order.order_id, void):
                    report.expired.append(order.order_id)
            elif order.waited_s >= expiry_s * REMIND_AT and not order.reminded:
                left = max(1, round((expiry_s - order.waited_s) / 60))
                await _remind(pool, notifier, order.tenant_id, order.order_id, left)
                report.reminded.append(order.order_id)
        except Exception:
            log.exception("unpaid PIX order %s: reminder or expiry failed; the next pass tries again", order.order_id)
    return report


async def _remind(pool: Pool, notifier: Notifier, tenant_id: int, order_id: int, minutes_left: int) -> None:
    async with pool.connection() as conn:
        order = await order_repo.by_id(conn, tenant_id, order_id)
        tenant = await tenant_repo.by_id(conn, tenant_id)
        cur = await conn.execute(
            "SELECT phone FROM customers WHERE tenant_id = %s AND id = %s",
            (tenant_id, order.customer_id if order else 0),
        )
        who = await cur.fetchone()
    if order is None or tenant is None or who is None:
        return
    locale = order.locale or tenant.locale
    text = catalog.text(
        "order.pix_reminder", locale, order_id=order.id, total=format_brl(order.total, locale), minutes=minutes_left
    )
    # sent before it is marked: a crash in between re-sends under the same key, which the channel drops
    await notifier.send(tenant, who["phone"], text, kind="notification", dedupe_key=reminder_key(order.id))
    async with pool.connection() as conn:
        await order_repo.mark_reminded(conn, tenant_id, order_id)


async def _expire(pool: Pool, notifier: Notifier, tenant_id: int, order_id: int, void: VoidCharge | None) -> bool:
    try:
        done = await lifecycle.cancel(
            pool, tenant_id, order_id, actor="system", reason=EXPIRED_REASON, notifier=notifier
        )
    except lifecycle.IllegalTransition:
        return False  # paid (or moved on) between the look and the move
    async with pool.connection() as conn:
        expired = await payment_repo.close_pending(conn, tenant_id, order_id, "expired")
    for payment in expired if void is not None else ():
        assert void is not None
        try:
            await void(payment)
        except Exception:
            # the order stays cancelled; a payment that still arrives is flagged for staff to refund
            log.exception("could not withdraw charge %s of expired order %s", payment.provider_ref, order_id)
    return done.changed
