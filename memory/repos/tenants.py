"""Tenants: a restaurant with its WhatsApp number, hours, fees and locale."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from memory.db import Conn


class Tenant(BaseModel):
    """A restaurant as stored."""

    model_config = ConfigDict(frozen=True)

    id: int
    slug: str
    name: str
    whatsapp: str
    address: str
    timezone: str
    locale: str
    delivery_fee: Decimal
    hours: dict[str, str]
    bot_paused: bool = False  # the manager sent every conversation to a person
    privacy_url: str | None = None  # the privacy notice customers are shown before registering (LGPD)
    has_delivery_areas: bool = False  # fees by area (tools/delivery): the flat delivery_fee is not the answer


class TenantFields(BaseModel):
    """What an operator (or a menu file) sets on a tenant."""

    slug: str
    name: str
    whatsapp: str
    address: str = ""
    timezone: str = "America/Sao_Paulo"
    locale: str = "pt-BR"
    delivery_fee: Decimal = Decimal("0.00")
    hours: dict[str, str] = {}
    privacy_url: str | None = None  # None keeps the stored link


_COLUMNS = (
    "id, slug, name, whatsapp, address, timezone, locale, delivery_fee, hours, bot_paused, privacy_url, "
    "EXISTS (SELECT 1 FROM delivery_areas a WHERE a.tenant_id = tenants.id) AS has_delivery_areas"
)


def _row(row: dict[str, Any] | None) -> Tenant | None:
    return Tenant.model_validate(row) if row else None


async def by_slug(conn: Conn, slug: str) -> Tenant | None:
    """The tenant with this slug, if any."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM tenants WHERE slug = %s", (slug,))
    return _row(await cur.fetchone())


async def by_id(conn: Conn, tenant_id: int) -> Tenant | None:
    """The tenant with this id, if any."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM tenants WHERE id = %s", (tenant_id,))
    return _row(await cur.fetchone())


async def by_whatsapp(conn: Conn, number: str) -> Tenant | None:
    """The tenant that owns this WhatsApp number (E.164), if any."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM tenants WHERE whatsapp = %s", (number,))
    return _row(await cur.fetchone())


async def list_all(conn: Conn) -> list[Tenant]:
    """Every tenant, by slug."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM tenants ORDER BY slug")
    return [Tenant.model_validate(r) for r in await cur.fetchall()]


def _params(fields: TenantFields) -> dict[str, Any]:
    return {**fields.model_dump(exclude={"hours"}), "hours": Jsonb(fields.hours)}


async def insert(conn: Conn, fields: TenantFields) -> Tenant:
    """Create a tenant; the slug and WhatsApp number must be free."""
    cur = await conn.execute(
        f"""INSERT INTO tenants (slug, name, whatsapp, address, timezone, locale, delivery_fee, hours, privacy_url)
            VALUES (%(slug)s, %(name)s, %(whatsapp)s, %(address)s, %(timezone)s, %(locale)s, %(delivery_fee)s,
                    %(hours)s, %(privacy_url)s)
            RETURNING {_COLUMNS}""",
        _params(fields),
    )
    row = await cur.fetchone()
    assert row is not None
    return Tenant.model_validate(row)


async def update_if_changed(conn: Conn, tenant_id: int, fields: TenantFields) -> bool:
    """Overwrite a tenant's settings; returns False (and writes nothing) when they are already equal."""
    cur = await conn.execute(
        """UPDATE tenants SET name = %(name)s, whatsapp = %(whatsapp)s, address = %(address)s,
                  timezone = %(timezone)s, locale = %(locale)s, delivery_fee = %(delivery_fee)s,
                  hours = %(hours)s, privacy_url = COALESCE(%(privacy_url)s, privacy_url), updated_at = now()
            WHERE id = %(id)s
              AND (name, whatsapp, address, timezone, locale, delivery_fee, hours, privacy_url)
                  IS DISTINCT FROM (%(name)s, %(whatsapp)s, %(address)s, %(timezone)s, %(locale)s,
                                    %(delivery_fee)s::numeric(12,2), %(hours)s::jsonb,
                                    COALESCE(%(privacy_url)s, privacy_url))""",
        {**_params(fields), "id": tenant_id},
    )
    return cur.rowcount > 0


async def set_hours_and_fee(conn: Conn, tenant_id: int, hours: dict[str, str], delivery_fee: Decimal) -> Tenant | None:
    """Staff's edit of the opening hours and the delivery fee (validated by the caller)."""
    cur = await conn.execute(
        f"""UPDATE tenants SET hours = %s, delivery_fee = %s, updated_at = now() WHERE id = %s
            RETURNING {_COLUMNS}""",
        (Jsonb(hours), delivery_fee, tenant_id),
    )
    return _row(await cur.fetchone())


async def set_bot_paused(conn: Conn, tenant_id: int, paused: bool) -> Tenant | None:
    """Pause the bot for the whole restaurant (every conversation goes to a person), or let it answer again."""
    cur = await conn.execute(
        f"UPDATE tenants SET bot_paused = %s, updated_at = now() WHERE id = %s RETURNING {_COLUMNS}",
        (paused, tenant_id),
    )
    return _row(await cur.fetchone())
