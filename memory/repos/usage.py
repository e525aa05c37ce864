"""Metered usage: conversations a restaurant had this month against its plan's quota."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from memory.db import Conn

Admission = Literal["ongoing", "new", "over_quota"]
# a conversation is a customer's messages with no gap of a day (WhatsApp bills the same way)
SESSION_S = 24 * 3600
_SESSION = f"interval '{SESSION_S} seconds'"


class MonthUsage(BaseModel):
    """A restaurant's conversations in one calendar month (UTC) and its quota (None: no limit)."""

    month: date
    conversations: int
    quota: int | None

    @property
    def remaining(self) -> int | None:
        return None if self.quota is None else max(0, self.quota - self.conversations)


async def admit(conn: Conn, tenant_id: int, phone: str) -> tuple[Admission, float]:
    """Count the customer's message: part of an ongoing conversation, a new one (recorded), or a new one the
    month's quota has no room for (not recorded: it didn't happen as far as the bot is concerned). With it, the
    seconds the conversation stays ongoing (0 over quota), so a caller can answer its next messages itself."""
    # most messages belong to a conversation under way: answered without a lock
    cur = await conn.execute(
        f"""SELECT extract(epoch FROM max(started_at) + {_SESSION} - now())::float8 AS left_s FROM conversation_usage
             WHERE tenant_id = %s AND phone = %s AND started_at > now() - {_SESSION}""",
        (tenant_id, phone),
    )
    row = await cur.fetchone()
    if row is not None and row["left_s"] is not None:
        return "ongoing", row["left_s"]
    # the restaurant's row lock serialises new conversations: two first messages can't both take the last slot
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM tenants WHERE id = %s FOR UPDATE", (tenant_id,))
        cur = await conn.execute(
            f"""SELECT EXISTS (SELECT 1 FROM conversation_usage WHERE tenant_id = %s AND phone = %s
                               AND started_at > now() - {_SESSION}) AS ongoing,
                      (SELECT count(*) FROM conversation_usage WHERE tenant_id = %s
                       AND started_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS used,
                      (SELECT monthly_conversation_quota FROM tenants WHERE id = %s) AS quota""",
            (tenant_id, phone, tenant_id, tenant_id),
        )
        row = await cur.fetchone()
        assert row is not None
        if row["ongoing"]:
            return "ongoing", 0.0  # started a moment ago by a message racing this one: the next asks again
        if row["quota"] is not None and row["used"] >= row["quota"]:
            return "over_quota", 0.0
        await conn.execute("INSERT INTO conversation_usage (tenant_id, phone) VALUES (%s, %s)", (tenant_id, phone))
        return "new", SESSION_S


async def month_usage(conn: Conn, tenant_id: int, month: date) -> MonthUsage:
    """Conversations started in `month` (any day of it) and the quota today."""
    first = month.replace(day=1)
    cur = await conn.execute(
        """SELECT (SELECT count(*) FROM conversation_usage WHERE tenant_id = %s
                   AND started_at >= %s::date AT TIME ZONE 'UTC'
                   AND started_at < (%s::date + interval '1 month') AT TIME ZONE 'UTC') AS used,
                  (SELECT monthly_conversation_quota FROM tenants WHERE id = %s) AS quota""",
        (tenant_id, first, first, tenant_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return MonthUsage(month=first, conversations=row["used"], quota=row["quota"])


async def set_quota(conn: Conn, tenant_id: int, quota: int | None) -> None:
    """The restaurant's monthly conversation quota (None: no limit)."""
    await conn.execute("UPDATE tenants SET monthly_conversation_quota = %s WHERE id = %s", (quota, tenant_id))
