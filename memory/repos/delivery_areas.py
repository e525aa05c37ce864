"""Delivery areas of a restaurant (neighbourhoods/CEP prefixes or radius bands, each with a fee) and its coordinates."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn


class DeliveryArea(BaseModel):
    """One area as stored: a list of places (neighbourhoods, CEP prefixes) or a radius band (`max_km`)."""

    model_config = ConfigDict(frozen=True)

    name: str
    fee: Decimal
    neighborhoods: list[str] = []
    cep_prefixes: list[str] = []  # digits only, "05422"
    max_km: Decimal | None = None


class DeliverySetup(BaseModel):
    """A restaurant's coordinates and its areas in the order it wrote them (no areas: the flat fee applies)."""

    model_config = ConfigDict(frozen=True)

    latitude: float | None = None
    longitude: float | None = None
    areas: list[DeliveryArea] = []


class AddressPoint(BaseModel):
    """What of a saved address decides its area."""

    model_config = ConfigDict(frozen=True)

    neighborhood: str
    postal_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None


async def setup(conn: Conn, tenant_id: int) -> DeliverySetup:
    """The restaurant's coordinates and areas (one query: a checkout reads them on most turns)."""
    cur = await conn.execute(
        """SELECT t.latitude, t.longitude, a.name, a.fee, a.neighborhoods, a.cep_prefixes, a.max_km
             FROM tenants t LEFT JOIN delivery_areas a ON a.tenant_id = t.id
            WHERE t.id = %s ORDER BY a.position""",
        (tenant_id,),
    )
    rows = await cur.fetchall()
    if not rows:
        return DeliverySetup()
    areas = [
        DeliveryArea.model_validate({k: r[k] for k in ("name", "fee", "neighborhoods", "cep_prefixes", "max_km")})
        for r in rows
        if r["name"] is not None
    ]
    return DeliverySetup(latitude=rows[0]["latitude"], longitude=rows[0]["longitude"], areas=areas)


async def replace(conn: Conn, tenant_id: int, new: DeliverySetup) -> bool:
    """Make `new` the restaurant's coordinates and areas; returns False (and writes nothing) when already equal."""
    if await setup(conn, tenant_id) == new:
        return False
    await conn.execute(
        "UPDATE tenants SET latitude = %s, longitude = %s, updated_at = now() WHERE id = %s",
        (new.latitude, new.longitude, tenant_id),
    )
    await conn.execute("DELETE FROM delivery_areas WHERE tenant_id = %s", (tenant_id,))
    for position, area in enumerate(new.areas):
        await conn.execute(
            """INSERT INTO delivery_areas (tenant_id, position, name, fee, neighborhoods, cep_prefixes, max_km)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (tenant_id, position, area.name, area.fee, area.neighborhoods, area.cep_prefixes, area.max_km),
        )
    return True


async def address_point(conn: Conn, tenant_id: int, address_id: int) -> AddressPoint | None:
    """The saved address's neighbourhood, CEP and coordinates, if it belongs to this restaurant."""
    cur = await conn.execute(
        "SELECT neighborhood, postal_code, latitude, longitude FROM addresses WHERE tenant_id = %s AND id = %s",
        (tenant_id, address_id),
    )
    row = await cur.fetchone()
    return AddressPoint.model_validate(row) if row else None


async def set_address_coordinates(
    conn: Conn, tenant_id: int, address_id: int, latitude: float, longitude: float
) -> None:
    """Store where a saved address is (a WhatsApp pin, or a seeded customer's address)."""
    await conn.execute(
        "UPDATE addresses SET latitude = %s, longitude = %s WHERE tenant_id = %s AND id = %s",
        (latitude, longitude, tenant_id, address_id),
    )
