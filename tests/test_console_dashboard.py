"""Every dashboard figure from its query, over rows placed in and around the window, with a second restaurant's
rows that must not count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from memory.db import Pool
from memory.repos import dashboard
from memory.repos import tenants as tenant_repo
from memory.repos.dashboard import Figures
from memory.repos.tenants import TenantFields

SINCE = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # Monday 00:00 in São Paulo
UNTIL = SINCE + timedelta(days=1)
IN = SINCE + timedelta(hours=12)
BEFORE = SINCE - timedelta(hours=2)
PHONES = {name: f"+55119000000{i:02d}" for i, name in enumerate("ABCDEFG", start=1)}


class Rows:
    def __init__(self, pool: Pool, tenant_id: int) -> None:
        self.pool = pool
        self.tenant_id = tenant_id
        self.customers: dict[str, int] = {}

    async def customer(self, who: str) -> int:
        if who not in self.customers:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, %s) RETURNING id",
                    (self.tenant_id, PHONES[who], who),
                )
                row = await cur.fetchone()
            assert row is not None
            self.customers[who] = int(row["id"])
        return self.customers[who]

    async def order(self, who: str, status: str, total: str, at: datetime) -> None:
        customer = await self.customer(who)
        async with self.pool.connection() as conn:
            await conn.execute(
                """INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method, subtotal,
                                      delivery_fee, total, address, created_at)
                   VALUES (%s, %s, gen_random_uuid()::text, %s, 'pix', %s, 0, %s, '{}', %s)""",
                (self.tenant_id, customer, status, total, total, at),
            )

    async def reply(self, who: str, at: datetime, kind: str = "reply") -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                """INSERT INTO outbound_messages (tenant_id, phone, body, kind, status, created_at)
                   VALUES (%s, %s, 'oi', %s, 'sent', %s)""",
                (self.tenant_id, PHONES[who], kind, at),
            )

    async def ticket(self, who: str, at: datetime, agent_after_s: list[int]) -> None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                """INSERT INTO handoff_tickets (tenant_id, thread_id, phone, reason, summary, opened_at)
                   VALUES (%s, %s, %s, 'x', 'x', %s) RETURNING id""",
                (self.tenant_id, f"{self.tenant_id}:{PHONES[who]}", PHONES[who], at),
            )
            row = await cur.fetchone()
            assert row is not None
            # the customer wrote first: only the staff's words count as a reply
            await conn.execute(
                """INSERT INTO handoff_messages (tenant_id, ticket_id, sender, body, created_at)
                   VALUES (%s, %s, 'customer', 'alô', %s)""",
                (self.tenant_id, row["id"], at + timedelta(seconds=5)),
            )
            for s in agent_after_s:
                await conn.execute(
                    """INSERT INTO handoff_messages (tenant_id, ticket_id, sender, body, created_at)
                       VALUES (%s, %s, 'agent', 'oi', %s)""",
                    (self.tenant_id, row["id"], at + timedelta(seconds=s)),
                )


@pytest.fixture
async def window(db: Pool) -> Figures:
    async with db.connection() as conn:
        shop = await tenant_repo.insert(conn, TenantFields(slug="brasa", name="Brasa", whatsapp="+5511911110001"))
        other = await tenant_repo.insert(conn, TenantFields(slug="nona", name="Nona", whatsapp="+5511911110002"))
    rows, noise = Rows(db, shop.id), Rows(db, other.id)
    await rows.order("A", "paid", "50.00", IN)
    await rows.order("B", "delivered", "30.00", IN)
    await rows.order("C", "cancelled", "20.00", IN)
    await rows.order("D", "awaiting_payment", "40.00", IN)
    await rows.order("A", "paid", "100.00", BEFORE)  # the day before: not in the window
    for who in "ABCE":
        await rows.reply(who, IN)
    await rows.reply("G", BEFORE)
    await rows.ticket("E", IN, [120, 300])
    await rows.ticket("F", IN, [60])
    await rows.ticket("A", IN + timedelta(minutes=1), [600])
    await rows.ticket("C", IN + timedelta(minutes=2), [])
    # the other restaurant, same phones and times
    await noise.order("A", "paid", "999.00", IN)
    await noise.reply("B", IN)
    await noise.ticket("B", IN, [1])
    async with db.connection() as conn:
        return await dashboard.figures(conn, shop.id, SINCE, UNTIL)


def test_orders_count_everything_placed_but_cancelled(window: Figures) -> None:
    assert window.orders == 3


def test_revenue_and_average_ticket_count_only_orders_whose_money_is_in(window: Figures) -> None:
    assert window.revenue == Decimal("80.00") and window.paid_orders == 2
    assert window.average_ticket == Decimal("40.00")


def test_conversations_are_the_phones_we_talked_with_or_that_opened_a_ticket(window: Figures) -> None:
    assert window.conversations == 5  # A, B, C, E by the bot's replies, F by its ticket; G was the day before


def test_conversion_counts_conversations_whose_customer_placed_an_order(window: Figures) -> None:
    assert window.converted == 2  # A and B (C's was cancelled, D never talked with us in the window)
    assert window.conversion == pytest.approx(0.4)


def test_handoffs_and_the_median_time_to_the_first_agent_reply(window: Figures) -> None:
    assert window.handoffs == 4
    # first agent replies after 120, 60 and 600 s; C's ticket has none yet and doesn't count
    assert window.first_reply_median_s == pytest.approx(120.0)


def test_the_bot_finished_alone_the_conversations_without_a_ticket(window: Figures) -> None:
    assert window.bot_alone == 1  # B
    assert window.bot_alone_share == pytest.approx(0.2)


async def test_an_empty_window_has_no_ratios(db: Pool) -> None:
    async with db.connection() as conn:
        shop = await tenant_repo.insert(conn, TenantFields(slug="vazia", name="Vazia", whatsapp="+5511911110003"))
        empty = await dashboard.figures(conn, shop.id, SINCE, UNTIL)
    assert (empty.orders, empty.revenue, empty.conversations, empty.handoffs) == (0, Decimal("0"), 0, 0)
    assert empty.average_ticket is None and empty.conversion is None and empty.first_reply_median_s is None
