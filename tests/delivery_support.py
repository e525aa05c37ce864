"""Restaurants that deliver by neighbourhood or by distance, as the delivery tests set them up."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from conftest import ROOT
from conversation_support import OPEN_CLOCK

from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from memory.repos.delivery_areas import DeliveryArea, DeliverySetup
from tools.context import TurnContext
from tools.menu.importer import import_menu
from tools.menu.menu_file import MenuFile, parse_json

CANTINA = ROOT / "comanda" / "fixtures" / "cantina-bairros.json"  # Pinheiros R$ 5, Vila Madalena R$ 7, Perdizes R$ 9,50
RAIO = ROOT / "comanda" / "fixtures" / "burger-raio.json"  # up to 3 km R$ 6, up to 6 km R$ 10, from Vila Mariana
PHONE = "+5511987650001"

# areas by neighbourhood and CEP, without a database
PLACES = DeliverySetup(
    areas=[
        DeliveryArea(name="Pinheiros", fee=Decimal("5.00"), neighborhoods=["Pinheiros"], cep_prefixes=["05422"]),
        DeliveryArea(name="Perdizes e Pompeia", fee=Decimal("9.50"), neighborhoods=["Perdizes", "Pompéia"]),
        DeliveryArea(name="Zona Oeste", fee=Decimal("12.00"), cep_prefixes=["05"]),
    ]
)


def _menu(path: Path) -> MenuFile:
    return parse_json(path.read_text())


async def restaurant_ctx(db: Pool, embedder: Embedder, path: Path) -> TurnContext:
    """The restaurant of the menu file at `path`, imported, and a turn of customer PHONE there (open all day)."""
    menu = _menu(path)
    assert menu.restaurant is not None
    await import_menu(db, menu.restaurant.slug, menu, embedder)
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, menu.restaurant.slug)
    assert tenant is not None
    return TurnContext(pool=db, tenant=tenant, phone=PHONE, clock=lambda: OPEN_CLOCK)
