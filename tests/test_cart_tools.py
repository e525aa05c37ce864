"""Cart tools on the demo menu in the real database: choices, removals, validation, totals, re-pricing, repeat."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from graph.state import ConversationState
from memory.db import Pool
from memory.embeddings import Embedder
from tests.test_menu_tools import RAW, demo_context
from tests.tool_harness import call_tool, result
from tools.cart.tools import CART_TOOLS
from tools.context import TurnContext
from tools.customers.models import CustomerInfo

PHONE = "+5511987654321"


def price(sku: str) -> Decimal:
    return Decimal(RAW[sku]["price"])


def delta(sku: str, group: str, choice: str) -> Decimal:
    g = next(g for g in RAW[sku]["options"] if g["group"] == group)
    return Decimal(next(c["price"] for c in g["choices"] if c["name"] == choice))


FEE = Decimal("7.50")


@pytest.fixture
async def ctx(db: Pool, embedder: Embedder) -> TurnContext:
    return await demo_context(db, embedder)


class Chat:
    """A conversation's state carried from tool call to tool call, as the graph would."""

    def __init__(self, ctx: TurnContext, state: ConversationState | None = None) -> None:
        self.ctx = ctx
        self.state = state or ConversationState()

    async def __call__(self, tool_name: str, /, **args: Any) -> dict[str, Any]:
        self.state, messages = await call_tool(CART_TOOLS, tool_name, args, state=self.state, ctx=self.ctx)
        return result(messages)


async def test_add_with_option_and_removal_prices_from_the_menu(ctx: TurnContext) -> None:
    chat = Chat(ctx)
    res = await chat(
        "add_to_cart", item="pizza margherita grande", options=["borda de catupiry"], removals=["sem manjericão"]
    )
    assert res["kind"] == "cart" and res["action"] == "added"
    line = res["changed_line"]
    expected = price("PZ-MARG") + delta("PZ-MARG", "Tamanho", "Grande") + delta("PZ-MARG", "Borda", "Catupiry")
    assert Decimal(line["unit_price"]) == expected == Decimal("79.00")
    assert line["options_text"] == "Grande, Borda Catupiry"
    assert line["removed_text"] == "sem manjericão"
    res = await chat("add_to_cart", item="coca lata", qty=2)
    cart = res["cart"]
    subtotal = expected + 2 * price("BB-COCA-LATA")
    assert Decimal(cart["subtotal"]) == subtotal
    assert Decimal(cart["total"]) == subtotal + FEE
    assert cart["text"] == (
        "1x Pizza Margherita (Grande, Borda Catupiry, sem manjericão) — R$ 79,00\n"
        "2x Coca-Cola lata 350ml — R$ 14,00\n"
        "Subtotal: R$ 93,00\n"
        "Taxa de entrega: R$ 7,50\n"
        "Total: R$ 100,50"
    )
    # the state carries the cart, with prices and a revision that moved with each edit
    assert [ln.sku for ln in chat.state.cart.lines] == ["PZ-MARG", "BB-COCA-LATA"]
    assert chat.state.cart.revision == 2


async def test_extras_and_removals_in_the_item_text(ctx: TurnContext) -> None:
    chat = Chat(ctx)
    res = await chat("add_to_cart", item="x salada com bacon sem cebola", removals=["tomates"])
    line = res["changed_line"]
    assert line["sku"] == "BG-XSALADA"
    assert Decimal(line["unit_price"]) == price("BG-XSALADA") + delta("BG-XSALADA", "Adicionais", "Bacon extra")
    assert line["options_text"] == "Bacon extra"
    assert line["removed_text"] == "sem cebola, sem tomate"


async def test_english_labels(ctx: TurnContext) -> None:
    chat = Chat(ctx, ConversationState(locale="en"))
    res = await chat("add_to_cart", item="BB-GUARANA-LATA")
    assert res["cart"]["text"].splitlines() == [
        "1x Guaraná Antarctica lata 350ml — R$ 6.50",
        "Subtotal: R$ 6.50",
        "Delivery fee: R$ 7.50",
        "Total: R$ 14.00",
    ]


async def test_required_option_is_asked_then_completed(ctx: TurnContext) -> None:
    chat = Chat(ctx)
    res = await chat("add_to_cart", item="pizza calabreza", qty=2)
    assert res["kind"] == "cart_needs_option"
    assert res["item"] == "Pizza Calabresa" and res["group"] == "Tamanho"
    assert [c["name"] for c in res["choices"]] == ["Broto", "Média", "Grande"]
    assert [c["price_text"] for c in res["choices"]] == ["R$ 40,00", "R$ 54,00", "R$ 70,00"]
    assert chat.state.cart.is_empty
    assert chat.state.pending is not None and chat.state.awaiting == "cart.option"
    res = await chat("choose_option", choice="grande")
    assert res["kind"] == "cart" and res["action"] == "added"
    line = res["changed_line"]
    assert line["qty"] == 2
    assert Decimal(line["line_total"]) == 2 * (price("PZ-CALA") + delta("PZ-CALA", "Tamanho", "Grande"))
    assert chat.state.pending is None and chat.state.awaiting is None


async def test_two_required_groups_are_asked_one_after_the_other(ctx: TurnContext) -> None:
    chat = Chat(ctx)
    res = await chat("add_to_cart", item="combo pizza grande + refri")
    assert res["kind"] == "cart_needs_option" and res["group"] == "Bebida"
    res = await chat("choose_option", choice="guarana")
    assert res["kind"] == "cart_needs_option" and res["group"] == "Sabor da pizza"
    assert chat.state.cart.is_empty
    wrong = await chat("choose_option", choice="strogonoff")
    assert wrong["error"] == "invalid_option"
    assert wrong["suggestions"] == ["Mussarela", "Calabresa", "Margherita", "Frango com Catupiry", "Portuguesa"]
    res = await chat("choose_option", choice="4")  # the customer answers with the number of the choice
    line = res["changed_line"]
    assert line["options_text"] == "Guaraná Antarctica 2L, Frango com Catupiry"
    expected = (
        price("CB-PIZZA-REFRI")
        + delta("CB-PIZZA-REFRI", "Bebida", "Guaraná Antarctica 2L")
        + delta("CB-PIZZA-REFRI", "Sabor da pizza", "Frango com Catupiry")
    )
    assert Decimal(line["unit_price"]) == expected


async def test_choose_option_with_nothing_pending(ctx: TurnContext) -> None:
    res = await Chat(ctx)("choose_option", choice="grande")
    assert res["kind"] == "error"
    assert "nothing is waiting" in res["message"].lower()


@pytest.mark.parametrize("qty", [0, -3, 1000])
async def test_bad_quantities_are_refused_and_the_cart_is_kept(ctx: TurnContext, qty: int) -> None:
    chat = Chat(ctx)
    await chat("add_to_cart", item="coca lata")
    before = chat.state.cart
    res = await chat("add_to_cart", item="guarana", qty=qty)
    assert res["error"] == "invalid_quantity"
    assert "between 1 and 50" in res["message"]
    assert chat.state.cart == before
    res = await chat("set_quantity", item="1", qty=qty) if qty != 0 else {"error": "invalid_quantity"}
    assert res["error"] == "invalid_quantity"
    assert chat.state.cart == before


async def test_unknown_item_gets_suggestions(ctx: TurnContext) -> None:
    res = await Chat(ctx)("add_to_cart", item="lasanha à bolonhesa")
    assert res["error"] == "unknown_item"
    assert len(res["suggestions"]) == 3


async def test_unavailable_item_gets_alternatives_from_its_category(ctx: TurnContext) -> None:
    chat = Chat(ctx)
    res = await chat("add_to_cart", item="pizza de camarão", options=["grande"])
    assert res["error"] == "unavailable_item"
    assert len(res["suggestions"]) == 3
    pizzas = {i["name"] for i in RAW.values() if i["category"] == "Pizzas" and i["available"]}
    assert set(res["suggestions"]) <= pizzas
    assert chat.state.cart.is_empty


async def test_an_unavailable_item_named_with_its_size_is_not_swapped_for_a_combo(ctx: TurnContext) -> None:
    # "pizza ... grande" also matches "Combo Pizza Grande + Refri 2L", which is available: the customer still
    # asked for the shrimp pizza, and must hear that it is unavailable, not get a combo error
    chat = Chat(ctx)
    res = await chat("add_to_cart", item="pizza de camarão grande")
    assert res["error"] == "unavailable_item"
    assert res["item"] == "Pizza Camarão com Catupiry"
    assert chat.state.cart.is_empty


async def test_nonexistent_option_and_removal_are_refused_with_the_valid_ones(ctx: TurnContext) -> None:
    chat = Chat(ctx)
    res = await chat("add_to_cart", item="pizza margherita", options=["grande", "borda de goiabada"])
    assert res["error"] == "invalid_option"
    assert res["group"] == "Borda" and res["option"] == "borda de goiabada"
    assert res["suggestions"] == ["Catupiry", "Cheddar", "Chocolate"]
    res = await chat("add_to_cart", item="pizza margherita", options=["grande"], removals=["queijo"])
    assert res["error"] == "invalid_option" and res["option"] == "queijo"
    assert res["suggestions"] == ["tomate", "manjericão"]
    res = await chat("add_to_cart", item="pizza margherita", options=["grande", "borda catupiry", "borda cheddar"])
    assert res["error"] == "too_many_options" and res["group"] == "Borda"
    assert chat.state.cart.is_empty


async def test_identical_line_merges_quantity(ctx: TurnContext) -> None:
    chat = Chat(ctx)
    await chat("add_to_cart", item="coca lata")
    res = await chat("add_to_cart", item="Coca-Cola lata 350ml", qty=2)
    assert len(res["cart"]["lines"]) == 1
    assert res["changed_line"]["qty"] == 3
    assert Decimal(res["changed_line"]["line_total"]) == 3 * price("BB-COCA-LATA")
    # different choices make a different line
    res = await chat("add_to_cart", item="coca lata", options=["com gelo"])
    assert len(res["cart"]["lines"]) == 2


async def test_remove_set_quantity_and_update_line(ctx: TurnContext) -> None:
    chat = Chat(ctx)
    await chat("add_to_cart", item="pizza margherita", options=["grande", "catupiry"])
    await chat("add_to_cart", item="coca lata")
    await chat("add_to_cart", item="batata frita")
    # a new size replaces the old one (Tamanho allows one); the border stays
    res = await chat("update_line", item="1", options=["broto"])
    assert res["action"] == "updated"
    assert res["changed_line"]["options_text"] == "Broto, Borda Catupiry"
    assert Decimal(res["changed_line"]["unit_price"]) == (
        price("PZ-MARG") + delta("PZ-MARG", "Tamanho", "Broto") + delta("PZ-MARG", "Borda", "Catupiry")
    )
    res = await chat("update_line", item="margherita", removals=["tomate"])
    assert res["changed_line"]["removed_text"] == "sem tomate"
    res = await chat("set_quantity", item="coca", qty=3)
    assert res["changed_line"]["qty"] == 3
    assert Decimal(res["changed_line"]["line_total"]) == 3 * price("BB-COCA-LATA")
    res = await chat("set_quantity", item="3", qty=0)
    assert res["action"] == "removed" and res["changed_line"]["name"] == "Batata Frita"
    res = await chat("remove_from_cart", item="pizza")
    assert res["action"] == "removed"
    assert [ln["name"] for ln in res["cart"]["lines"]] == ["Coca-Cola lata 350ml"]
    missing = await chat("remove_from_cart", item="sorvete")
    assert missing["error"] == "not_in_cart"
    res = await chat("clear_cart")
    assert res["action"] == "cleared" and res["cart"]["empty"] is True
    assert chat.state.cart.is_empty


async def test_show_cart_totals_and_repricing(ctx: TurnContext, db: Pool) -> None:
    chat = Chat(ctx)
    await chat("add_to_cart", item="pizza margherita", options=["grande"])
    await chat("add_to_cart", item="brownie")
    res = await chat("show_cart")
    cart = res["cart"]
    assert res["action"] == "shown"
    assert Decimal(cart["total"]) == Decimal(cart["subtotal"]) + FEE
    assert Decimal(cart["delivery_fee"]) == FEE
    # the restaurant changes a price and runs out of brownies: the cart follows the menu, never the old prices
    async with db.connection() as conn:
        await conn.execute("UPDATE menu_items SET price = 60.00 WHERE sku = 'PZ-MARG'")
        await conn.execute("UPDATE menu_items SET available = false WHERE sku = 'SB-BROWNIE'")
    res = await chat("show_cart")
    assert res["price_changed"] == ["Pizza Margherita"]
    assert res["skipped"] == ["Brownie com Nozes"]
    cart = res["cart"]
    assert [ln["name"] for ln in cart["lines"]] == ["Pizza Margherita"]
    assert Decimal(cart["subtotal"]) == Decimal("60.00") + delta("PZ-MARG", "Tamanho", "Grande")
    assert Decimal(cart["total"]) == Decimal(cart["subtotal"]) + FEE
    assert chat.state.cart.lines[0].unit_price == Decimal("76.00")


async def test_empty_cart_shows_no_fee(ctx: TurnContext) -> None:
    res = await Chat(ctx)("show_cart")
    assert res["cart"]["empty"] is True
    assert Decimal(res["cart"]["total"]) == 0


async def _past_order(db: Pool, tenant_id: int, lines: list[dict[str, Any]]) -> int:
    async with db.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, 'Ana') RETURNING id", (tenant_id, PHONE)
        )
        customer_id = int((await cur.fetchone() or {})["id"])
        cur = await conn.execute(
            """INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method,
                                   subtotal, delivery_fee, total, address, created_at)
               VALUES (%s, %s, 'old-1', 'delivered', 'pix', 100, 7.5, 107.5, '{}'::jsonb, now() - interval '7 days')
               RETURNING id""",
            (tenant_id, customer_id),
        )
        order_id = int((await cur.fetchone() or {})["id"])
        for pos, ln in enumerate(lines):
            await conn.execute(
                """INSERT INTO order_items (tenant_id, order_id, menu_item_id, sku, name, qty, unit_price, line_total,
                                            options, removed, position)
                   SELECT %s, %s, id, sku, name, %s, %s, %s, %s, %s, %s FROM menu_items
                    WHERE tenant_id = %s AND sku = %s""",
                (
                    tenant_id,
                    order_id,
                    ln["qty"],
                    ln["unit_price"],
                    ln["unit_price"] * ln["qty"],
                    Jsonb(ln.get("options", [])),
                    ln.get("removed", []),
                    pos,
                    tenant_id,
                    ln["sku"],
                ),
            )
    return customer_id


async def test_repeat_last_order_at_todays_prices(ctx: TurnContext, db: Pool) -> None:
    customer_id = await _past_order(
        db,
        ctx.tenant.id,
        [
            {
                "sku": "PZ-MARG",
                "qty": 1,
                "unit_price": Decimal("50.00"),  # what it cost back then
                "options": [
                    {"group": "Tamanho", "choice": "Grande", "price_delta": "10.00"},
                    {"group": "Borda", "choice": "Goiabada", "price_delta": "5.00"},  # no longer offered
                ],
                "removed": ["manjericão"],
            },
            {"sku": "BB-COCA-LATA", "qty": 2, "unit_price": Decimal("5.00")},
            {"sku": "PZ-CAMARAO", "qty": 1, "unit_price": Decimal("70.00")},  # unavailable today
        ],
    )
    chat = Chat(ctx, ConversationState(customer=CustomerInfo(id=customer_id, phone=PHONE, name="Ana")))
    await chat("add_to_cart", item="onion rings")  # the current cart is replaced
    res = await chat("repeat_last_order")
    assert res["action"] == "repeated"
    assert set(res["skipped"]) == {"Pizza Margherita: Goiabada", "Pizza Camarão com Catupiry"}
    lines = res["cart"]["lines"]
    assert [(ln["name"], ln["qty"]) for ln in lines] == [("Pizza Margherita", 1), ("Coca-Cola lata 350ml", 2)]
    assert Decimal(lines[0]["unit_price"]) == price("PZ-MARG") + delta("PZ-MARG", "Tamanho", "Grande")
    assert lines[0]["removed_text"] == "sem manjericão"
    assert Decimal(res["cart"]["subtotal"]) == (
        price("PZ-MARG") + delta("PZ-MARG", "Tamanho", "Grande") + 2 * price("BB-COCA-LATA")
    )


async def test_nothing_to_repeat(ctx: TurnContext) -> None:
    res = await Chat(ctx, ConversationState(customer=CustomerInfo(id=None, phone=PHONE)))("repeat_last_order")
    assert res["error"] == "nothing_to_repeat"


def test_no_cart_tool_takes_a_price() -> None:
    for t in CART_TOOLS:
        props = t.tool_call_schema.model_json_schema().get("properties", {})
        assert not any("price" in name for name in props), t.name
        assert "runtime" not in props, t.name
        if "qty" in props:
            assert props["qty"]["type"] == "integer"


async def test_a_category_word_asks_which_item(ctx: TurnContext) -> None:
    res = await Chat(ctx)("add_to_cart", item="um hamburguer")
    assert res["error"] == "ambiguous_item"
    assert {"X-Burger", "X-Salada", "Veggie Burger"} <= set(res["suggestions"])
