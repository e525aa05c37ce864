"""Menu tools on the demo menu in the real database: hybrid search, item details, hours, delivery fee."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import DEMO_MENU

from graph.state import ConversationState
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from tests.tool_harness import call_tool, result
from tools.context import TurnContext
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.menu.search import resolve_item
from tools.menu.tools import MENU_TOOLS

SP = ZoneInfo("America/Sao_Paulo")
DOC: dict[str, Any] = json.loads(DEMO_MENU.read_text())
RAW = {i["sku"]: i for i in DOC["items"]}


class ReusingEmbedder:
    """The real e5 embedder, remembering passage vectors: every test re-imports the same 42 items."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.seen: dict[str, list[float]] = {}

    def query(self, text: str) -> list[float]:
        return self.inner.query(text)

    def passages(self, texts: Sequence[str]) -> list[list[float]]:
        missing = [t for t in texts if t not in self.seen]
        self.seen.update(zip(missing, self.inner.passages(missing), strict=True))
        return [self.seen[t] for t in texts]


_REUSING: dict[int, ReusingEmbedder] = {}


async def demo_context(db: Pool, embedder: Embedder) -> TurnContext:
    """The demo menu imported into the clean database, and a turn context on its tenant."""
    reusing = _REUSING.setdefault(id(embedder), ReusingEmbedder(embedder))
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), reusing)
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    return TurnContext(pool=db, tenant=tenant, phone="+5511987654321", extras={"embedder": embedder})


@pytest.fixture
async def ctx(db: Pool, embedder: Embedder) -> TurnContext:
    return await demo_context(db, embedder)


async def run(ctx: TurnContext, tool_name: str, /, **args: Any) -> dict[str, Any]:
    _, messages = await call_tool(MENU_TOOLS, tool_name, args, state=ConversationState(), ctx=ctx)
    return result(messages)


def names(res: dict[str, Any]) -> list[str]:
    return [i["name"] for i in res["items"]]


async def test_vegetarian_lists_only_vegetarian_items(ctx: TurnContext) -> None:
    res = await run(ctx, "search_menu", query="tem algo vegetariano?")
    assert res["kind"] == "menu_search"
    assert res["tag"] == "vegetariano"
    assert len(res["items"]) >= 4
    assert all("vegetariano" in i["tags"] and i["available"] for i in res["items"])
    # the explicit argument and English words mean the same filter
    res2 = await run(ctx, "search_menu", tag="vegetarian")
    assert names(res2) == names(res)
    vegan = await run(ctx, "search_menu", query="opções veganas")
    assert names(vegan) and all("vegano" in i["tags"] for i in vegan["items"])
    # a name is a name: "vegan burger" is the Burger Vegano, not a diet filter over burgers
    assert names(await run(ctx, "search_menu", query="vegan burger"))[0] == "Burger Vegano"


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("margerita", "Pizza Margherita"),
        ("calabreza", "Pizza Calabresa"),
        ("xsalada", "X-Salada"),
        ("x salada", "X-Salada"),
        ("pizza de frango", "Pizza Frango com Catupiry"),
        ("breja", "Cerveja Heineken long neck 330ml"),
        ("PIZZA QUATRO QUEIJO", "Pizza Quatro Queijos"),
    ],
)
async def test_typos_and_slang_find_the_item_first(ctx: TurnContext, query: str, first: str) -> None:
    res = await run(ctx, "search_menu", query=query)
    assert names(res)[0] == first


async def test_coca_finds_coca_cola_before_anything_chocolate(ctx: TurnContext) -> None:
    res = await run(ctx, "search_menu", query="coca")
    top = names(res)[:3]
    assert all(n.startswith("Coca-Cola") for n in top), top
    assert res["items"][0]["price_text"].startswith("R$ ")


async def test_refri_finds_soft_drinks(ctx: TurnContext) -> None:
    res = await run(ctx, "search_menu", query="refri")
    assert {"Coca-Cola lata 350ml", "Guaraná Antarctica lata 350ml"} <= set(names(res))


async def test_category_by_word_or_argument(ctx: TurnContext) -> None:
    by_word = await run(ctx, "search_menu", query="bebidas", limit=20)
    assert by_word["category"] == "Bebidas"
    assert names(by_word) and all(i["category"] == "Bebidas" and i["available"] for i in by_word["items"])
    # the unavailable beer is not offered in a listing
    assert "Cerveja Brahma lata 350ml" not in names(by_word)
    by_arg = await run(ctx, "search_menu", category="drinks", limit=20)
    assert names(by_arg) == names(by_word)
    burgers = await run(ctx, "search_menu", query="lanches")
    assert burgers["category"] == "Hambúrgueres"


async def test_free_text_finds_chocolate_desserts(ctx: TurnContext) -> None:
    res = await run(ctx, "search_menu", query="algo com chocolate")
    assert set(names(res)[:2]) == {"Petit Gâteau", "Brownie com Nozes"}


async def test_empty_query_gives_an_overview_by_category(ctx: TurnContext) -> None:
    res = await run(ctx, "search_menu")
    assert res["overview"] is True
    assert res["categories"] == ["Hambúrgueres", "Pizzas", "Porções", "Bebidas", "Sobremesas", "Combos"]
    assert {i["category"] for i in res["items"]} == set(res["categories"])


async def test_unavailable_item_asked_by_name_is_flagged(ctx: TurnContext) -> None:
    res = await run(ctx, "search_menu", query="pudim")
    assert res["items"][0]["name"] == "Pudim de Leite Condensado"
    assert res["items"][0]["available"] is False
    assert all(i["available"] for i in res["items"][1:])


async def test_item_details_with_options_and_deltas(ctx: TurnContext) -> None:
    res = await run(ctx, "item_details", item="pizza margerita")
    assert res["kind"] == "item_details"
    assert res["sku"] == "PZ-MARG"
    assert Decimal(res["price"]) == Decimal(RAW["PZ-MARG"]["price"])
    size = next(g for g in res["options"] if g["group"] == "Tamanho")
    assert size["required"] is True and size["min"] == 1 and size["max"] == 1
    grande = next(c for c in size["choices"] if c["name"] == "Grande")
    assert Decimal(grande["price_delta"]) == Decimal("16.00")
    assert grande["price_delta_text"] == "+R$ 16,00"
    broto = next(c for c in size["choices"] if c["name"] == "Broto")
    assert broto["price_delta_text"] == "-R$ 14,00"
    assert res["removable"] == ["tomate", "manjericão"]


async def test_item_details_unknown_and_ambiguous(ctx: TurnContext) -> None:
    unknown = await run(ctx, "item_details", item="lasanha bolonhesa")
    assert unknown["kind"] == "error" and unknown["error"] == "unknown_item"
    assert len(unknown["suggestions"]) == 3
    ambiguous = await run(ctx, "item_details", item="pizza")
    assert ambiguous["error"] == "ambiguous_item"
    assert "Pizza Margherita" in ambiguous["suggestions"]


async def test_resolve_item_reports_leftover_words(db: Pool, ctx: TurnContext) -> None:
    async with db.connection() as conn:
        m = await resolve_item(conn, ctx.tenant.id, "pizza margherita grande")
        assert m.status == "found" and m.item and m.item.sku == "PZ-MARG"
        assert m.leftover == ["grande"]
        assert (await resolve_item(conn, ctx.tenant.id, "bg-xsalada")).item.sku == "BG-XSALADA"  # type: ignore[union-attr]
        lata = await resolve_item(conn, ctx.tenant.id, "coca lata")
        assert lata.item is not None and lata.item.sku == "BB-COCA-LATA"
        coca = await resolve_item(conn, ctx.tenant.id, "coca")
        assert coca.status == "ambiguous"


@pytest.mark.parametrize(
    ("local", "open_now", "today", "next_opening"),
    [
        (datetime(2026, 11, 20, 20, 0, tzinfo=SP), True, "18:00-00:30", None),  # Friday evening
        (datetime(2026, 11, 21, 0, 15, tzinfo=SP), True, "18:00-00:30", None),  # Friday night after midnight
        (datetime(2026, 11, 21, 0, 45, tzinfo=SP), False, "18:00-00:30", "2026-11-21T18:00-03:00"),  # closed at 00:30
        (datetime(2026, 11, 23, 19, 0, tzinfo=SP), False, None, "2026-11-24T18:00-03:00"),  # Monday: closed all day
    ],
)
async def test_opening_hours_at_fixed_clocks(
    ctx: TurnContext, local: datetime, open_now: bool, today: str | None, next_opening: str | None
) -> None:
    ctx.clock = lambda: local
    res = await run(ctx, "opening_hours")
    assert res["kind"] == "hours"
    assert res["open_now"] is open_now
    assert res["today_hours"] == today
    assert res["next_opening"] == next_opening
    assert res["week"]["mon"] == "closed" and res["week"]["fri"] == "18:00-00:30"
    if open_now:
        assert res["closes_at"] == "00:30"


async def test_delivery_fee(ctx: TurnContext) -> None:
    res = await run(ctx, "delivery_fee")
    # the demo restaurant has no delivery areas: its flat fee for everyone
    assert (res["kind"], res["fee"], res["fee_text"], res["by_area"], res["areas"]) == (
        "delivery_fee",
        "7.50",
        "R$ 7,50",
        False,
        [],
    )
