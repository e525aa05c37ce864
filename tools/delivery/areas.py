"""The delivery fee of an address: the first neighbourhood/CEP area that names it, else the nearest radius band
that holds it, else "outside every area". A restaurant without areas charges its flat `delivery_fee` everywhere.

Every fee comes from the database; the model never states one.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz

from memory.db import Conn
from memory.repos import delivery_areas as repo
from memory.repos.delivery_areas import AddressPoint, DeliveryArea, DeliverySetup
from memory.repos.tenants import Tenant
from tools.customers.models import CustomerInfo
from tools.money import format_brl, to_cents
from tools.text import fold

_EARTH_RADIUS_KM = 6371.0088  # the IUGG mean radius
_NOT_WORD = re.compile(r"[^a-z0-9]+")
# how alike (rapidfuzz's ratio, 0-100) a name must be to a neighbourhood an area names to be asked about: a letter
# or two off in a name ("Vila Madalema", "Pinheros", "Perdises"), never another neighbourhood ("Vila Mariana" is 80
# from "Vila Madalena", "Perdiz" 86 from "Perdizes"). Only ever a question: a fee is quoted after the customer's yes
_NEAR_SCORE = 87.0

QuoteStatus = Literal["flat", "area", "outside", "unlocated"]


class DeliveryQuote(BaseModel):
    """Where an address stands: the flat fee (no areas), an area's fee, outside every area, or unlocated (only
    radius bands could hold it and the address has no coordinates)."""

    model_config = ConfigDict(frozen=True)

    status: QuoteStatus
    fee: Decimal | None = None
    area: str | None = None
    distance_km: Decimal | None = None  # from the restaurant, when a radius band was measured

    @property
    def delivers(self) -> bool:
        """True when the restaurant delivers to the address (with `fee`)."""
        return self.status in ("flat", "area")


class AreaBrief(BaseModel):
    """One area as the customer hears it: "Pinheiros: R$ 5,00"."""

    model_config = ConfigDict(frozen=True)

    name: str
    fee: Decimal
    fee_text: str
    text: str


def place_key(text: str) -> str:
    """A place name compared without accents, case, punctuation or extra spaces ("Jd. São Luís " = "jd sao luis")."""
    return " ".join(_NOT_WORD.split(fold(text))).strip()


def cep_digits(text: str | None) -> str:
    """The digits of a CEP or CEP prefix ("05422-010" → "05422010")."""
    return re.sub(r"\D", "", text or "")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _names_it(area: DeliveryArea, point: AddressPoint) -> bool:
    if place_key(point.neighborhood) in {place_key(n) for n in area.neighborhoods}:
        return True
    cep = cep_digits(point.postal_code)
    return bool(cep) and any(cep.startswith(prefix) for prefix in area.cep_prefixes)


def near_place(setup: DeliverySetup, neighborhood: str) -> str | None:
    """The one neighbourhood the areas name that `neighborhood`, named by none, is very likely a misspelling of, as
    the area spells it; None when no name is that close or several are (a guess between two is no guess)."""
    key = place_key(neighborhood)
    if not key:
        return None
    close: dict[str, str] = {}
    for area in setup.areas:
        if area.max_km is not None:
            continue
        for name in area.neighborhoods:
            other = place_key(name)
            if other == key:
                return None  # named after all: nothing to correct
            if fuzz.ratio(key, other) >= _NEAR_SCORE:
                close.setdefault(other, name)
    return next(iter(close.values())) if len(close) == 1 else None


def match(setup: DeliverySetup, point: AddressPoint | None, flat_fee: Decimal) -> DeliveryQuote:
    """The quote for an address (None: no address known) under a restaurant's areas."""
    if not setup.areas:
        return DeliveryQuote(status="flat", fee=to_cents(flat_fee))
    if point is None:
        return DeliveryQuote(status="unlocated")
    for area in setup.areas:
        if area.max_km is None and _names_it(area, point):
            return DeliveryQuote(status="area", fee=to_cents(area.fee), area=area.name)
    bands = sorted((a for a in setup.areas if a.max_km is not None), key=lambda a: a.max_km or Decimal(0))
    if not bands:
        return DeliveryQuote(status="outside")
    if point.latitude is None or point.longitude is None or setup.latitude is None or setup.longitude is None:
        return DeliveryQuote(status="unlocated")
    km = Decimal(str(haversine_km(setup.latitude, setup.longitude, point.latitude, point.longitude)))
    distance = km.quantize(Decimal("0.1"))
    for band in bands:
        assert band.max_km is not None
        if km <= band.max_km:
            return DeliveryQuote(status="area", fee=to_cents(band.fee), area=band.name, distance_km=distance)
    return DeliveryQuote(status="outside", distance_km=distance)


def chosen_address_id(customer: CustomerInfo | None, wanted: int | None = None) -> int | None:
    """The address an order goes to: the one chosen at checkout, else the default, else the first saved."""
    if customer is None or not customer.addresses:
        return None
    ids = [a.id for a in customer.addresses if a.id is not None]
    for candidate in (wanted, customer.default_address_id):
        if candidate is not None and candidate in ids:
            return candidate
    return ids[0] if ids else None


async def quote(conn: Conn, tenant: Tenant, address_id: int | None) -> DeliveryQuote:
    """The delivery quote for one of the restaurant's saved addresses (None: the customer has none yet)."""
    found = await repo.setup(conn, tenant.id)
    if not found.areas:
        return match(found, None, tenant.delivery_fee)
    point = await repo.address_point(conn, tenant.id, address_id) if address_id is not None else None
    return match(found, point, tenant.delivery_fee)


def briefs(setup: DeliverySetup, locale: str) -> list[AreaBrief]:
    """Every area in the restaurant's order, each with its fee."""
    out = []
    for area in setup.areas:
        fee_text = format_brl(area.fee, locale)
        out.append(
            AreaBrief(name=area.name, fee=to_cents(area.fee), fee_text=fee_text, text=f"{area.name}: {fee_text}")
        )
    return out
