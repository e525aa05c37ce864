"""The address tools one by one, through a real ToolNode on the real database: pick, default, rename, correct,
remove, a pin's coordinates, and what each refuses."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DEMO_MENU
from langchain_core.messages import AIMessage, HumanMessage
from tool_harness import call_tool, result

from graph.state import ConversationState
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from tools.cart.models import Cart, CartLine
from tools.context import TurnContext
from tools.customers import service
from tools.customers.models import LOCATION_KEY, AddressDraft, CustomerInfo, RegistrationDraft, SharedLocation
from tools.customers.tools import REGISTRATION_TOOLS
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

PHONE = "+5511987650002"
HOME = AddressDraft(
    label="casa", street="Rua das Flores", number="150", neighborhood="Jardim Primavera", city="São Paulo", state="SP"
)
WORK = AddressDraft(
    label="Trabalho", street="Av. Paulista", number="1000", neighborhood="Bela Vista", city="São Paulo", state="SP"
)


@pytest.fixture
async def ctx(db: Pool, embedder: Embedder) -> TurnContext:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    return TurnContext(pool=db, tenant=tenant, phone=PHONE)


async def joao(ctx: TurnContext) -> ConversationState:
    """João with casa (default) and Trabalho saved."""
    for address in (WORK, HOME):
        customer = await service.confirm_registration(
            ctx.pool, ctx.tenant, PHONE, RegistrationDraft(name="João Silva", address=address), None
        )
    return ConversationState(customer=customer)


async def run(ctx: TurnContext, state: ConversationState, name: str, /, **args: Any) -> tuple[ConversationState, Any]:
    new_state, messages = await call_tool(REGISTRATION_TOOLS, name, args, state=state, ctx=ctx)
    return new_state, result(messages)


async def saved(ctx: TurnContext) -> list[dict[str, Any]]:
    async with ctx.pool.connection() as conn:
        cur = await conn.execute(
            """SELECT a.label, a.number, a.latitude, a.longitude, a.id = c.default_address_id AS is_default
                 FROM addresses a JOIN customers c ON c.id = a.customer_id WHERE c.phone = %s ORDER BY a.id""",
            (PHONE,),
        )
        return list(await cur.fetchall())


async def test_choose_by_label_ignores_case_and_accents_and_sets_the_order_address(ctx: TurnContext) -> None:
    state = await joao(ctx)
    state, res = await run(ctx, state, "choose_address", label="trabalho")
    assert res["kind"] == "address_chosen" and res["label"] == "Trabalho" and "Av. Paulista" in res["text"]
    assert state.checkout.address_id == res["address_id"]
    state, res = await run(ctx, state, "choose_address", label="escritório")
    assert res["error"] == "invalid_field" and res["fields"] == ["label"]
    assert any("Trabalho: Av. Paulista" in s for s in res["suggestions"])


async def test_list_addresses_sends_the_answer_back_to_the_checkout_when_there_is_a_cart(ctx: TurnContext) -> None:
    state = await joao(ctx)
    _, res = await run(ctx, state, "list_addresses")
    assert [(a["index"], a["label"]) for a in res["addresses"]] == [(1, "casa"), (2, "Trabalho")]
    line = CartLine(line_id=1, sku="BB-COCA-LATA", name="Coca", qty=1, unit_price="7.00", line_total="7.00")
    at_checkout, _ = await run(ctx, state.model_copy(update={"cart": Cart(lines=[line])}), "list_addresses")
    assert at_checkout.awaiting == "payment.address_choice"


async def test_set_default_rename_correct_and_remove(ctx: TurnContext) -> None:
    state = await joao(ctx)
    state, res = await run(ctx, state, "set_default_address", index=2)
    assert res["kind"] == "default_address" and [a["is_default"] for a in await saved(ctx)] == [True, False]

    state, res = await run(ctx, state, "rename_address", label="trabalho", new_label="escritório")
    assert res["change"] == "renamed" and [a["label"] for a in await saved(ctx)] == ["escritório", "casa"]
    state, res = await run(ctx, state, "rename_address", index=1, new_label="🏢")
    assert res["error"] == "invalid_field" and [a["label"] for a in await saved(ctx)] == ["escritório", "casa"]

    state, res = await run(ctx, state, "correct_address", label="casa", number="510")
    assert res["change"] == "corrected" and "Rua das Flores, 510" in res["address_text"]
    assert [a["number"] for a in await saved(ctx)] == ["1000", "510"]
    state, res = await run(ctx, state, "correct_address", label="casa", postal_code="0131O-1OO")
    assert res["error"] == "invalid_field" and res["fields"] == ["postal_code"]

    state, res = await run(ctx, state, "remove_address", label="escritório")
    assert res["change"] == "removed" and [a["label"] for a in res["addresses"]] == ["casa"]
    # the default went with it: the one left is the default now
    assert [(a["label"], a["is_default"]) for a in await saved(ctx)] == [("casa", True)]
    state, res = await run(ctx, state, "remove_address", index=5)
    assert res["error"] == "invalid_field"


async def test_correct_address_without_saying_which_corrects_the_one_the_order_goes_to(ctx: TurnContext) -> None:
    state = await joao(ctx)
    state, _ = await run(ctx, state, "choose_address", index=2)
    state = state.model_copy(update={"checkout": state.checkout.model_copy(update={"awaiting_confirmation": True})})
    state, res = await run(ctx, state, "correct_address", number="1010")
    assert "Av. Paulista, 1010" in res["address_text"]
    assert state.checkout.awaiting_confirmation is False  # the summary shown before is stale


async def test_unknown_customer_cannot_manage_addresses(ctx: TurnContext) -> None:
    state = ConversationState(customer=CustomerInfo(phone=PHONE))
    for name in ("choose_address", "set_default_address", "remove_address"):
        _, res = await run(ctx, state, name, index=1)
        assert res["error"] == "not_registered", name


def pinned(state: ConversationState, pin: SharedLocation | None, text: str = "") -> ConversationState:
    kwargs = {LOCATION_KEY: pin.model_dump()} if pin else {}
    return state.model_copy(update={"messages": [HumanMessage(text, id="in:1", additional_kwargs=kwargs)]})


async def test_use_shared_location_takes_coordinates_from_the_message_and_saves_them(ctx: TurnContext) -> None:
    state = ConversationState(customer=CustomerInfo(phone=PHONE), registration=RegistrationDraft(name="Ana Lima"))
    pin = SharedLocation(latitude=-23.5614, longitude=-46.6559, address="Rua Augusta - Consolação")
    state, res = await run(
        ctx, pinned(state, pin), "use_shared_location", street="Rua Augusta", neighborhood="Consolação"
    )
    assert res["next_step"] == "address" and res["missing"] == ["number"]
    assert (state.registration.address.latitude, state.registration.address.longitude) == (-23.5614, -46.6559)
    state, res = await run(ctx, state, "update_registration", number="1200", no_email=True)
    state, res = await run(ctx, state, "confirm_registration")
    assert res["kind"] == "registered"
    assert [(a["number"], a["latitude"], a["longitude"]) for a in await saved(ctx)] == [("1200", -23.5614, -46.6559)]


async def test_use_shared_location_without_a_pin_in_this_turn_refuses(ctx: TurnContext) -> None:
    state = ConversationState(customer=CustomerInfo(phone=PHONE), registration=RegistrationDraft(name="Ana Lima"))
    _, res = await run(ctx, pinned(state, None, "oi"), "use_shared_location")
    assert res["error"] == "missing_field" and res["fields"] == ["location"]
    # a pin of an earlier turn was answered then: it is not this turn's
    old = SharedLocation(latitude=-23.5, longitude=-46.6)
    earlier = pinned(state, old)
    earlier = earlier.model_copy(
        update={"messages": [*earlier.messages, AIMessage("ok"), HumanMessage("de novo", id="in:2")]}
    )
    _, res = await run(ctx, earlier, "use_shared_location")
    assert res["error"] == "missing_field"


def test_a_pin_out_of_range_is_no_location() -> None:
    with pytest.raises(ValueError):
        SharedLocation(latitude=-91, longitude=0)
    with pytest.raises(ValueError):
        SharedLocation(latitude=0, longitude=180.5)
