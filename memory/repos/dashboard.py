"""The console dashboard's figures for one restaurant over a time window, each from one query.

A conversation is a customer phone the restaurant talked with in the window: one that got a bot or agent message or
opened a ticket. It "became an order" when that customer placed an order in the window, and the bot "finished it
alone" when no ticket was opened for it in the window.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn

# orders whose money is in: paid online, or cash orders the kitchen took
REVENUE_STATES = ("paid", "accepted", "preparing", "out_for_delivery", "delivered")


class Figures(BaseModel):
    """What the dashboard shows for one window."""

    model_config = ConfigDict(frozen=True)

    orders: int  # orders placed (cancelled ones excluded)
    revenue: Decimal  # total of the orders whose money is in
    paid_orders: int
    conversations: int
    converted: int  # conversations whose customer placed an order
    handoffs: int  # tickets opened
    first_reply_median_s: float | None  # opening → first agent reply, median over tickets answered
    bot_alone: int  # conversations without a ticket

    @property
    def average_ticket(self) -> Decimal | None:
        """Revenue per paid order."""
        return (self.revenue / self.paid_orders).quantize(Decimal("0.01")) if self.paid_orders else None

    @property
    def conversion(self) -> float | None:
        """Share of conversations that became an order."""
        return self.converted / self.conversations if self.conversations else None

    @property
    def bot_alone_share(self) -> float | None:
        """Share of conversations the bot finished without a person."""
        return self.bot_alone / self.conversations if self.conversations else None


_FIGURES = """
WITH o AS (
    SELECT o.total, o.status, c.phone FROM orders o JOIN customers c ON c.id = o.customer_id
     WHERE o.tenant_id = %(t)s AND o.created_at >= %(since)s AND o.created_at < %(until)s
), t AS (
    SELECT id, phone, opened_at FROM handoff_tickets
     WHERE tenant_id = %(t)s AND opened_at >= %(since)s AND opened_at < %(until)s
), conv AS (
    SELECT phone FROM outbound_messages
     WHERE tenant_id = %(t)s AND kind IN ('reply', 'agent') AND created_at >= %(since)s AND created_at < %(until)s
    UNION
    SELECT phone FROM t
), first_reply AS (
    SELECT extract(epoch FROM min(m.created_at) - t.opened_at) AS s
      FROM t JOIN handoff_messages m ON m.tenant_id = %(t)s AND m.ticket_id = t.id AND m.sender = 'agent'
     GROUP BY t.id, t.opened_at
)
SELECT
    (SELECT count(*) FROM o WHERE status NOT IN ('cancelled', 'refunded')) AS orders,
    (SELECT coalesce(sum(total), 0) FROM o WHERE status = ANY(%(revenue)s)) AS revenue,
    (SELECT count(*) FROM o WHERE status = ANY(%(revenue)s)) AS paid_orders,
    (SELECT count(*) FROM conv) AS conversations,
    (SELECT count(*) FROM conv WHERE phone IN (SELECT phone FROM o WHERE status NOT IN ('cancelled', 'refunded')))
        AS converted,
    (SELECT count(*) FROM t) AS handoffs,
    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) FROM first_reply) AS first_reply_median_s,
    (SELECT count(*) FROM conv WHERE phone NOT IN (SELECT phone FROM t)) AS bot_alone
"""


async def figures(conn: Conn, tenant_id: int, since: datetime, until: datetime) -> Figures:
    """The restaurant's figures for [since, until)."""
    cur = await conn.execute(
        _FIGURES, {"t": tenant_id, "since": since, "until": until, "revenue": list(REVENUE_STATES)}
    )
    row = await cur.fetchone()
    assert row is not None
    return Figures.model_validate(row)
