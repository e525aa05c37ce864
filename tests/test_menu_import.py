"""Menu import: a good file, a bad file (every error reported, nothing written), idempotent re-import."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from conftest import DEMO_MENU

from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import menu as menu_repo
from memory.repos import tenants as tenant_repo
from tools.menu.importer import import_menu
from tools.menu.menu_file import InvalidMenuFile, parse_csv, parse_json, validate_menu


def demo_doc() -> dict[str, Any]:
    return json.loads(DEMO_MENU.read_text())


async def _counts(pool: Pool) -> tuple[int, int, list[Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM tenants")
        tenants = (await cur.fetchone() or {})["n"]
        cur = await conn.execute("SELECT sku, updated_at, available FROM menu_items ORDER BY sku")
        rows = await cur.fetchall()
    return tenants, len(rows), rows


async def test_demo_menu_imports_with_options_and_availability(db: Pool, embedder: Embedder) -> None:
    doc = demo_doc()
    report = await import_menu(db, "demo", parse_json(json.dumps(doc)), embedder)
    assert report.tenant_created
    assert len(report.added) == len(doc["items"]) >= 30
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
        assert tenant is not None
        assert tenant.delivery_fee == Decimal(doc["restaurant"]["delivery_fee"])
        items = await menu_repo.list_items(conn, tenant.id)
        cur = await conn.execute("SELECT count(*) AS n FROM menu_items WHERE embedding IS NOT NULL")
        assert (await cur.fetchone() or {})["n"] == len(items)
    assert len({i.category for i in items}) >= 5
    assert sum(not i.available for i in items) >= 1
    assert any("vegetariano" in i.tags for i in items)
    raw = {i["sku"]: i for i in doc["items"]}
    with_options = next(i for i in items if i.options)
    assert [g.group for g in with_options.options] == [g["group"] for g in raw[with_options.sku]["options"]]
    assert with_options.options[0].choices[0].price == Decimal(
        raw[with_options.sku]["options"][0]["choices"][0]["price"]
    )


async def test_three_errors_are_all_reported_and_nothing_is_written(db: Pool, embedder: Embedder) -> None:
    doc = demo_doc()
    doc["items"][0]["price"] = "12,50"  # comma instead of a dot
    doc["items"][1]["sku"] = doc["items"][2]["sku"]  # duplicate sku
    doc["items"][3]["colour"] = "red"  # unknown key
    with pytest.raises(InvalidMenuFile) as info:
        parse_json(json.dumps(doc))
    errors = info.value.errors
    assert len(errors) == 3, [str(e) for e in errors]
    rendered = [str(e) for e in errors]
    first, dup, extra = doc["items"][0]["sku"], doc["items"][1]["sku"], doc["items"][3]["sku"]
    assert any(f"item {first} (#0)" in e and "price" in e for e in rendered)
    assert any(f"item {dup} (#2): sku: repeats the sku of item #1" == e for e in rendered)
    assert any(f"item {extra} (#3)" in e and "colour" in e for e in rendered)
    assert await _counts(db) == (0, 0, [])


async def test_a_bad_file_leaves_an_existing_menu_untouched(db: Pool, embedder: Embedder) -> None:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    before = await _counts(db)
    doc = demo_doc()
    doc["items"][5]["options"] = [{"group": "Tamanho", "min": 2, "max": 1, "choices": [{"name": "P", "price": "0.00"}]}]
    with pytest.raises(InvalidMenuFile) as info:
        parse_json(json.dumps(doc))
    assert any("options.0.min" in str(e) for e in info.value.errors)
    assert await _counts(db) == before


async def test_reimporting_the_same_file_changes_nothing(db: Pool, embedder: Embedder) -> None:
    menu = parse_json(DEMO_MENU.read_text())
    await import_menu(db, "demo", menu, embedder)
    before = await _counts(db)
    again = await import_menu(db, "demo", menu, embedder)
    assert not again.changed
    assert again.unchanged == len(menu.items)
    assert await _counts(db) == before  # same rows, same updated_at: nothing was rewritten


async def test_an_item_missing_from_a_new_import_becomes_unavailable(db: Pool, embedder: Embedder) -> None:
    doc = demo_doc()
    await import_menu(db, "demo", parse_json(json.dumps(doc)), embedder)
    dropped = next(i for i in doc["items"] if i["available"])
    smaller = copy.deepcopy(doc)
    smaller["items"] = [i for i in doc["items"] if i["sku"] != dropped["sku"]]
    smaller["items"][0]["price"] = "99.90"
    report = await import_menu(db, "demo", parse_json(json.dumps(smaller)), embedder)
    assert report.made_unavailable == [dropped["sku"]]
    assert report.updated == [smaller["items"][0]["sku"]]
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
        assert tenant is not None
        item = await menu_repo.by_sku(conn, tenant.id, dropped["sku"])
        changed = await menu_repo.by_sku(conn, tenant.id, smaller["items"][0]["sku"])
    assert item is not None and not item.available  # kept, not deleted
    assert changed is not None and changed.price == Decimal("99.90")
    # bringing it back makes it available again
    back = await import_menu(db, "demo", parse_json(json.dumps(doc)), embedder)
    assert dropped["sku"] in back.updated


async def test_file_for_another_tenant_is_refused(db: Pool, embedder: Embedder) -> None:
    with pytest.raises(InvalidMenuFile) as info:
        await import_menu(db, "other", parse_json(DEMO_MENU.read_text()), embedder)
    assert "restaurant: slug" in str(info.value)
    assert await _counts(db) == (0, 0, [])


async def test_csv_menu_imports_into_an_existing_tenant(db: Pool, embedder: Embedder) -> None:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    csv_text = (
        "sku,category,name,description,price,tags,available,removable\n"
        "SUCO-UVA,Bebidas,Suco de Uva,Integral 300ml,9.50,vegano;sem glúten,true,\n"
        "PASTEL,Salgados,Pastel de Queijo,,8.00,vegetariano,false,orégano\n"
    )
    report = await import_menu(db, "demo", parse_csv(csv_text), embedder)
    assert sorted(report.added) == ["PASTEL", "SUCO-UVA"]
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
        assert tenant is not None
        pastel = await menu_repo.by_sku(conn, tenant.id, "PASTEL")
    assert pastel is not None and not pastel.available and pastel.removable == ["orégano"]


async def test_declared_allergens_are_stored_from_json_and_csv(db: Pool, embedder: Embedder) -> None:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    csv_text = (
        "sku,category,name,price,allergens\n"
        "PASTEL-CAM,Salgados,Pastel da Casa,12.00,camarão; glúten\n"
        "SUCO-UVA,Bebidas,Suco de Uva,9.50,\n"
    )
    await import_menu(db, "demo", parse_csv(csv_text), embedder)
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
        assert tenant is not None
        items = await menu_repo.by_skus(conn, tenant.id, ["PZ-4QUEIJOS", "PASTEL-CAM", "SUCO-UVA"])
    assert items["PZ-4QUEIJOS"].allergens == ["glúten", "leite"]
    assert items["PASTEL-CAM"].allergens == ["camarão", "glúten"]
    assert items["SUCO-UVA"].allergens == []


def test_csv_errors_name_the_row_and_field() -> None:
    csv_text = "sku,category,name,price\nA1,Bebidas,Água,abc\n,Bebidas,Sem sku,3.00\n"
    with pytest.raises(InvalidMenuFile) as info:
        parse_csv(csv_text)
    rendered = [str(e) for e in info.value.errors]
    assert any(e.startswith("item A1 (#0): price") for e in rendered)
    assert any(e.startswith("item #1: sku") for e in rendered)


def test_restaurant_block_is_validated_field_by_field() -> None:
    doc = demo_doc()
    doc["restaurant"]["timezone"] = "Mars/Olympus"
    doc["restaurant"]["hours"]["tue"] = "18h-23h"
    doc["restaurant"]["whatsapp"] = "12"
    with pytest.raises(InvalidMenuFile) as info:
        validate_menu(doc, with_restaurant=True)
    fields = {(e.where, e.field) for e in info.value.errors}
    assert fields == {("restaurant", "timezone"), ("restaurant", "hours"), ("restaurant", "whatsapp")}
