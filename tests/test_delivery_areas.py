"""Delivery areas (issue 14): neighbourhood/CEP areas and radius bands, each with its fee, set from the menu file and
the CLI; the area's fee in the cart, the summary and the order; an address outside every area refused before any
order exists. Conversations run through the real graph with the offline model."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conversation_support import OPEN_CLOCK, Chat, make_runner
from delivery_support import CANTINA, PLACES, RAIO, restaurant_ctx
from tool_harness import call_tool, result
from typer.testing import CliRunner, Result

from comanda.cli_commands import app as cli_app
from graph.context import prompt_context
from graph.offline.policy.menu import fee_follow_up, fee_place
from graph.offline.view import TurnView
from graph.state import ConversationState
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import delivery_areas as delivery_repo
from memory.repos import tenants as tenant_repo
from memory.repos.delivery_areas import AddressPoint, DeliveryArea, DeliverySetup
from tools.cart.tools import CART_TOOLS
from tools.context import TurnContext
from tools.customers import service as customers
from tools.customers.models import AddressDraft, CustomerInfo, RegistrationDraft
from tools.delivery.areas import haversine_km, match
from tools.menu.importer import import_menu
from tools.menu.menu_file import InvalidMenuFile, parse_json, validate_menu
from tools.menu.tools import MENU_TOOLS
from tools.orders.tools import PAYMENT_TOOLS

runner = CliRunner()

# points around Raio Burger (-23.589, -46.635)
NEAR = (-23.5812, -46.6384)  # Rua Domingos de Morais at Ana Rosa, ~0.9 km
MID = (-23.5560, -46.6620)  # Paulista at Consolação, ~4.6 km
FAR = (-23.5020, -46.6250)  # Santana, ~9.7 km

BANDS = DeliverySetup(
    latitude=-23.589,
    longitude=-46.635,
    areas=[
        DeliveryArea(name="de 3 a 6 km", fee=Decimal("10.00"), max_km=Decimal("6")),
        DeliveryArea(name="até 3 km", fee=Decimal("6.00"), max_km=Decimal("3")),
    ],
)


def point(neighborhood: str, cep: str | None = None, at: tuple[float, float] | None = None) -> AddressPoint:
    lat, lon = at if at else (None, None)
    return AddressPoint(neighborhood=neighborhood, postal_code=cep, latitude=lat, longitude=lon)


# --- the matcher ----------------------------------------------------------------------------------------------


def test_neighbourhoods_match_without_accents_or_case_and_the_first_area_wins() -> None:
    assert match(PLACES, point("  PINHEIROS "), Decimal("8")).fee == Decimal("5.00")
    pompeia = match(PLACES, point("pompeia"), Decimal("8"))
    assert (pompeia.status, pompeia.area, pompeia.fee) == ("area", "Perdizes e Pompeia", Decimal("9.50"))
    # a Pinheiros CEP in an unknown neighbourhood name: the CEP decides; "05" also holds it, but Pinheiros is first
    assert match(PLACES, point("Pinheiros de Baixo", "05422-010"), Decimal("8")).area == "Pinheiros"
    assert match(PLACES, point("Alto de Pinheiros", "05466-000"), Decimal("8")).area == "Zona Oeste"


def test_an_address_in_no_area_is_outside_and_without_areas_the_flat_fee_applies() -> None:
    outside = match(PLACES, point("Moema", "04077-000"), Decimal("8"))
    assert outside.status == "outside" and outside.fee is None and not outside.delivers
    flat = match(DeliverySetup(), point("Moema"), Decimal("7.5"))
    assert (flat.status, flat.fee) == ("flat", Decimal("7.50")) and flat.delivers


def test_radius_bands_take_the_nearest_band_that_holds_the_address() -> None:
    near = match(BANDS, point("Vila Mariana", at=NEAR), Decimal("8"))
    assert (near.area, near.fee) == ("até 3 km", Decimal("6.00")) and near.distance_km == Decimal("0.9")
    mid = match(BANDS, point("Consolação", at=MID), Decimal("8"))
    assert (mid.area, mid.fee) == ("de 3 a 6 km", Decimal("10.00")) and Decimal("4") < (mid.distance_km or 0) < 5
    far = match(BANDS, point("Santana", at=FAR), Decimal("8"))
    assert far.status == "outside" and (far.distance_km or 0) > 9
    # a typed address has no coordinates: the distance can't be measured, so it is neither in nor out
    assert match(BANDS, point("Vila Mariana"), Decimal("8")).status == "unlocated"


def test_haversine_on_the_equator_and_across_sao_paulo() -> None:
    assert haversine_km(0, 0, 0, 1) == pytest.approx(111.195, abs=0.01)
    # Praça da Sé to MASP on Avenida Paulista: about 2.6 km as the crow flies
    assert haversine_km(-23.5503, -46.6339, -23.5614, -46.6559) == pytest.approx(2.56, abs=0.05)


# --- the menu file --------------------------------------------------------------------------------------------


def _doc(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def test_menu_file_reports_every_delivery_area_problem_at_once() -> None:
    doc = _doc(CANTINA)
    doc["restaurant"]["delivery_areas"] = [
        {"name": "Pinheiros", "neighborhoods": ["Pinheiros"], "fee": "5"},  # fee without centavos
        {"name": "Perto", "max_km": 3, "fee": "6.00"},  # a band, and the restaurant has no coordinates
        {"name": "Ambos", "neighborhoods": ["Butantã"], "max_km": 2, "fee": "6.00"},  # both kinds
        {"name": "Lapa", "cep_prefixes": ["05A"], "fee": "6.00"},  # a CEP with a letter
        {"name": "Oeste", "neighborhoods": ["pinheiros"], "fee": "6.00"},  # Pinheiros is already in area #0
    ]
    with pytest.raises(InvalidMenuFile) as caught:
        validate_menu(doc, with_restaurant=True)
    found = {(e.field, e.message.split(":")[0].split(",")[0]) for e in caught.value.errors}
    fields = {f for f, _ in found}
    assert "delivery_areas.0.fee" in fields
    assert "delivery_areas.2" in fields  # neighborhoods/cep_prefixes or max_km, not both
    assert "delivery_areas.3.cep_prefixes" in fields
    assert len(caught.value.errors) == 3  # the cross-area checks run once every area is valid on its own

    doc["restaurant"]["delivery_areas"] = [
        {"name": "Pinheiros", "neighborhoods": ["Pinheiros"], "fee": "5.00"},
        {"name": "Perto", "max_km": 3, "fee": "6.00"},
        {"name": "Oeste", "neighborhoods": ["PINHEIROS"], "fee": "6.00"},
    ]
    with pytest.raises(InvalidMenuFile) as caught:
        validate_menu(doc, with_restaurant=True)
    messages = {str(e) for e in caught.value.errors}
    assert "restaurant: delivery_areas.1.max_km: a radius band needs the restaurant's latitude and longitude" in (
        messages
    )
    assert "restaurant: delivery_areas.2.neighborhoods: 'pinheiros' is already in area #0" in messages


async def _import(db: Pool, embedder: Embedder, path: Path, doc: dict[str, Any] | None = None) -> Any:
    menu = parse_json(json.dumps(doc if doc is not None else _doc(path)))
    assert menu.restaurant is not None
    return await import_menu(db, menu.restaurant.slug, menu, embedder)


async def _setup(db: Pool, slug: str) -> DeliverySetup:
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, slug)
        assert tenant is not None
        return await delivery_repo.setup(conn, tenant.id)


async def test_import_writes_areas_once_keeps_them_without_the_key_and_clears_them_with_an_empty_list(
    db: Pool, embedder: Embedder
) -> None:
    first = await _import(db, embedder, RAIO)
    assert first.delivery_areas_updated
    stored = await _setup(db, "raio")
    assert (stored.latitude, stored.longitude) == (-23.589, -46.635)
    assert [(a.name, a.max_km, a.fee) for a in stored.areas] == [
        ("até 3 km", Decimal("3.00"), Decimal("6.00")),
        ("de 3 a 6 km", Decimal("6.00"), Decimal("10.00")),
    ]
    again = await _import(db, embedder, RAIO)
    assert not again.delivery_areas_updated and not again.changed

    doc = _doc(RAIO)
    del doc["restaurant"]["delivery_areas"]
    assert not (await _import(db, embedder, RAIO, doc)).delivery_areas_updated
    assert len((await _setup(db, "raio")).areas) == 2

    doc["restaurant"]["delivery_areas"] = []
    assert (await _import(db, embedder, RAIO, doc)).delivery_areas_updated
    assert (await _setup(db, "raio")).areas == []


# --- the CLI --------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(db: Pool, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COMANDA_MODEL", raising=False)


async def cli(*args: str) -> Result:
    """Run the CLI in a thread: it starts its own event loop."""
    return await asyncio.to_thread(lambda: runner.invoke(cli_app, ["tenants", "delivery-areas", *args]))


async def test_cli_lists_sets_and_clears_a_restaurants_areas(
    db: Pool, embedder: Embedder, cli_env: None, tmp_path: Path
) -> None:
    await _import(db, embedder, CANTINA)
    listed = await cli("--tenant", "cantina")
    assert listed.exit_code == 0, listed.output
    assert "Vila Madalena" in listed.output and "R$ 7,00" in listed.output and "CEP 05422" in listed.output

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"delivery_areas": [{"name": "Perto", "max_km": 3, "fee": "6.00"}]}))
    refused = await cli("--tenant", "cantina", "--set", str(bad))
    assert refused.exit_code == 2
    assert "delivery_areas.0.max_km: a radius band needs the restaurant's latitude and longitude" in refused.output
    assert len((await _setup(db, "cantina")).areas) == 3  # nothing changed

    good = tmp_path / "bands.json"
    good.write_text(
        json.dumps(
            {
                "latitude": -23.566,
                "longitude": -46.6847,
                "delivery_areas": [{"name": "até 4 km", "max_km": 4, "fee": "6.50"}],
            }
        )
    )
    changed = await cli("--tenant", "cantina", "--set", str(good), "--json")
    assert changed.exit_code == 0, changed.output
    shown = json.loads(changed.output)
    assert shown["latitude"] == -23.566 and [a["name"] for a in shown["areas"]] == ["até 4 km"]
    assert shown["areas"][0]["fee"] == "6.50"

    cleared = await cli("--tenant", "cantina", "--clear")
    assert cleared.exit_code == 0 and "flat fee R$ 8,00" in cleared.output
    assert (await _setup(db, "cantina")).areas == []

    unknown = await cli("--tenant", "nope")
    assert unknown.exit_code == 1 and "no tenant 'nope'" in unknown.output


async def test_cli_menu_import_says_when_it_replaced_the_areas(db: Pool, cli_env: None) -> None:
    def run() -> Result:
        return runner.invoke(cli_app, ["menu", "import", str(RAIO), "--tenant", "raio"])

    first = await asyncio.to_thread(run)
    assert first.exit_code == 0, first.output
    assert "replaced the delivery areas of raio" in first.output
    again = await asyncio.to_thread(run)
    assert again.exit_code == 0 and "nothing changed" in again.output
    listed = await cli("--tenant", "raio")
    assert "up to 3.00 km" in listed.output and "R$ 10,00" in listed.output and "-23.589, -46.635" in listed.output


# --- tools: cart, summary, order, the delivery_fee question -----------------------------------------------------


async def _customer(
    ctx: TurnContext, neighborhood: str, *, cep: str | None = None, at: tuple[float, float] | None = None
) -> CustomerInfo:
    address = AddressDraft(
        street="Rua Harmonia", number="321", neighborhood=neighborhood, city="São Paulo", state="SP", postal_code=cep
    )
    draft = RegistrationDraft(name="Ana Souza", address=address)
    customer = await customers.confirm_registration(ctx.pool, ctx.tenant, ctx.phone, draft, None)
    if at is not None:
        assert customer.id is not None and customer.addresses[0].id is not None
        async with ctx.pool.connection() as conn:
            await delivery_repo.set_address_coordinates(conn, ctx.tenant.id, customer.addresses[0].id, *at)
    return customer


async def _orders(db: Pool) -> list[dict[str, Any]]:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT delivery_fee, subtotal, total FROM orders ORDER BY id")
        return list(await cur.fetchall())


async def test_the_areas_fee_is_in_the_cart_the_summary_and_the_order(db: Pool, embedder: Embedder) -> None:
    ctx = await restaurant_ctx(db, embedder, CANTINA)
    customer = await _customer(ctx, "Vila Madalena")
    state = ConversationState(customer=customer)
    state, messages = await call_tool(CART_TOOLS, "add_to_cart", {"item": "MS-CARBONARA"}, state=state, ctx=ctx)
    cart = result(messages)["cart"]
    assert cart["delivery_fee"] == "7.00" and "R$ 7,00" in cart["text"] and cart["total"] == "49.00"

    state, messages = await call_tool(PAYMENT_TOOLS, "set_payment_method", {"method": "pix"}, state=state, ctx=ctx)
    summary = result(messages)
    assert summary["delivery_fee"] == "7.00" and summary["total"] == "49.00"
    state, messages = await call_tool(PAYMENT_TOOLS, "place_order", {}, state=state, ctx=ctx)
    assert result(messages)["kind"] == "order_placed"
    assert await _orders(db) == [
        {"delivery_fee": Decimal("7.00"), "subtotal": Decimal("42.00"), "total": Decimal("49.00")}
    ]


async def test_the_agents_prompt_says_the_fee_depends_on_the_area_not_the_flat_fee(
    db: Pool, embedder: Embedder
) -> None:
    # a real model reads the fee from its prompt: a restaurant with areas must not be quoted its flat fee
    ctx = await restaurant_ctx(db, embedder, CANTINA)
    assert ctx.tenant.has_delivery_areas
    fee = prompt_context({"messages": []}, ctx)["delivery_fee"]
    assert "região" in fee and "delivery_fee" in fee
    async with db.connection() as conn:
        await delivery_repo.replace(conn, ctx.tenant.id, DeliverySetup())
        flat = await tenant_repo.by_id(conn, ctx.tenant.id)
    assert flat is not None and not flat.has_delivery_areas
    assert prompt_context({"messages": []}, dataclasses.replace(ctx, tenant=flat))["delivery_fee"].startswith("R$")


async def test_an_address_outside_every_area_is_refused_before_any_order(db: Pool, embedder: Embedder) -> None:
    ctx = await restaurant_ctx(db, embedder, CANTINA)
    state = ConversationState(customer=await _customer(ctx, "Moema", cep="04077-000"))
    state, messages = await call_tool(CART_TOOLS, "add_to_cart", {"item": "MS-CARBONARA"}, state=state, ctx=ctx)
    cart = result(messages)["cart"]
    assert cart["delivery_fee"] == "0.00" and "Taxa de entrega" not in cart["text"]  # no fee it wouldn't charge

    _, messages = await call_tool(PAYMENT_TOOLS, "set_payment_method", {"method": "cash"}, state=state, ctx=ctx)
    refused = result(messages)
    assert refused["error"] == "outside_delivery_area" and refused["item"] == "Moema"
    assert refused["suggestions"] == ["Pinheiros: R$ 5,00", "Vila Madalena: R$ 7,00", "Perdizes e Pompeia: R$ 9,50"]
    assert await _orders(db) == []


async def test_delivery_fee_question_answers_for_the_customers_address_or_lists_the_areas(
    db: Pool, embedder: Embedder
) -> None:
    ctx = await restaurant_ctx(db, embedder, CANTINA)
    _, messages = await call_tool(MENU_TOOLS, "delivery_fee", {}, state=ConversationState(), ctx=ctx)
    anyone = result(messages)
    assert anyone["by_area"] and anyone["fee"] is None
    assert [a["text"] for a in anyone["areas"]][:2] == ["Pinheiros: R$ 5,00", "Vila Madalena: R$ 7,00"]
    state = ConversationState(customer=await _customer(ctx, "perdizes"))
    _, messages = await call_tool(MENU_TOOLS, "delivery_fee", {}, state=state, ctx=ctx)
    mine = result(messages)
    assert (mine["fee"], mine["area"], mine["place"]) == ("9.50", "Perdizes e Pompeia", "perdizes")


async def test_delivery_fee_for_a_place_the_customer_names(db: Pool, embedder: Embedder) -> None:
    ctx = await restaurant_ctx(db, embedder, CANTINA)
    state = ConversationState()
    _, messages = await call_tool(MENU_TOOLS, "delivery_fee", {"place": "vila madalena"}, state=state, ctx=ctx)
    assert (result(messages)["fee"], result(messages)["area"]) == ("7.00", "Vila Madalena")
    _, messages = await call_tool(MENU_TOOLS, "delivery_fee", {"place": "05422-120"}, state=state, ctx=ctx)
    assert result(messages)["area"] == "Pinheiros"
    _, messages = await call_tool(MENU_TOOLS, "delivery_fee", {"place": "Moema"}, state=state, ctx=ctx)
    moema = result(messages)
    assert moema["outside"] and moema["fee"] is None and moema["place"] == "Moema"
    # a CEP no area lists may still be in a listed neighbourhood: not "outside", the areas are listed instead
    _, messages = await call_tool(MENU_TOOLS, "delivery_fee", {"place": "04077-000"}, state=state, ctx=ctx)
    assert not result(messages)["outside"] and result(messages)["fee"] is None


def test_the_offline_model_reads_the_place_of_a_fee_question() -> None:
    assert fee_place("vocês entregam em Moema?") == "Moema"
    assert fee_place("quanto é a entrega pra Vila Madalena?") == "Vila Madalena"
    assert fee_place("qual o frete para o CEP 05422-010") == "05422-010"
    assert fee_place("How much is delivery to Pinheiros?") == "Pinheiros"
    for no_place in ("qual a taxa de entrega?", "entregam no domingo?", "a entrega pra minha casa", "entregam em SP"):
        assert fee_place(no_place) is None, no_place


def test_a_follow_up_continues_the_fee_question_it_follows() -> None:
    def view(text: str, *earlier: str) -> TurnView:
        return TurnView(tools=set(), context={}, text=text, exchanges=[], prompt_tokens=0, earlier=earlier)

    asked = "qual a taxa de entrega pro Jardim Primavera?"
    assert fee_follow_up(view("e em Moema?", asked)) == "Moema"
    assert fee_follow_up(view("e pra Vila Mariana?", "e em Moema?", asked)) == "Vila Mariana"
    assert fee_follow_up(view("e no bairro de Perdizes", asked)) == "Perdizes"
    assert fee_follow_up(view("what about Pinheiros?", "how much is delivery to Moema?")) == "Pinheiros"
    # not a fee question before, not a place, not a follow-up
    assert fee_follow_up(view("e em Moema?", "tem pizza de calabresa?")) is None
    assert fee_follow_up(view("e pra amanhã?", asked)) is None
    assert fee_follow_up(view("e pra mim uma coca", asked)) is None
    assert fee_follow_up(view("Moema", asked)) is None


# --- conversations through the real graph (offline model) ------------------------------------------------------


async def _chat(db: Pool, ctx: TurnContext) -> Chat:
    return Chat(await make_runner(db), ctx)


async def test_conversation_neighbourhood_area_fee_in_summary_and_order(db: Pool, embedder: Embedder) -> None:
    ctx = await restaurant_ctx(db, embedder, CANTINA)
    await _customer(ctx, "Pinheiros")
    chat = await _chat(db, ctx)
    fee = await chat.say("qual a taxa de entrega?")
    assert "Pinheiros" in fee and "R$ 5,00" in fee, chat.dump()
    await chat.say("quero 1 espaguete à carbonara")
    await chat.say("fechar pedido")
    reply = await chat.say("dinheiro, sem troco")
    assert "Entrega: R$ 5,00" in reply and "Total: R$ 47,00" in reply, chat.dump()
    await chat.say("sim")
    assert await _orders(db) == [
        {"delivery_fee": Decimal("5.00"), "subtotal": Decimal("42.00"), "total": Decimal("47.00")}
    ], chat.dump()


async def test_conversation_asks_about_a_neighbourhood_before_ordering(db: Pool, embedder: Embedder) -> None:
    ctx = await restaurant_ctx(db, embedder, CANTINA)
    chat = await _chat(db, ctx)
    inside = await chat.say("vocês entregam em Perdizes?")
    assert "Perdizes" in inside and "R$ 9,50" in inside, chat.dump()
    outside = await chat.say("e em Moema, entregam?")
    assert "não entregamos em Moema" in outside and "Pinheiros: R$ 5,00" in outside, chat.dump()


async def test_conversation_outside_every_area_is_told_and_nothing_is_ordered(db: Pool, embedder: Embedder) -> None:
    ctx = await restaurant_ctx(db, embedder, CANTINA)
    await _customer(ctx, "Moema")
    chat = await _chat(db, ctx)
    await chat.say("quero 1 espaguete à carbonara")
    reply = await chat.say("fechar pedido")
    assert "não entregamos em *Moema*" in reply and "Vila Madalena: R$ 7,00" in reply, chat.dump()
    assert "outro endereço" in reply
    await chat.say("pix")
    await chat.say("sim")
    assert await _orders(db) == [], chat.dump()


async def test_conversation_radius_band_fee_and_a_far_address_refused(db: Pool, embedder: Embedder) -> None:
    ctx = await restaurant_ctx(db, embedder, RAIO)
    await _customer(ctx, "Consolação", at=MID)
    chat = await _chat(db, ctx)
    await chat.say("quero 1 burger clássico")
    await chat.say("fechar pedido")
    reply = await chat.say("pix")
    assert "Entrega: R$ 10,00" in reply and "Total: R$ 39,00" in reply, chat.dump()

    far_ctx = TurnContext(pool=db, tenant=ctx.tenant, phone="+5511987650002", clock=lambda: OPEN_CLOCK)
    await _customer(far_ctx, "Santana", at=FAR)
    far = Chat(chat.runner, far_ctx)
    await far.say("quero 1 burger duplo")
    refused = await far.say("fechar pedido")
    assert "não entregamos em *Santana*" in refused and "até 3 km: R$ 6,00" in refused, far.dump()
    await far.say("pix")
    await far.say("sim")
    assert await _orders(db) == [], far.dump()  # the first customer never confirmed; the far one can't order


async def test_conversation_a_follow_up_names_only_the_next_neighbourhood(db: Pool, embedder: Embedder) -> None:
    # "e em Moema?" right after a fee answer is the same question for Moema; it once went unanswered
    ctx = await restaurant_ctx(db, embedder, CANTINA)
    chat = await _chat(db, ctx)
    first = await chat.say("qual a taxa de entrega pra Vila Madalena?")
    assert "Vila Madalena" in first and "R$ 7,00" in first, chat.dump()
    inside = await chat.say("e em Pinheiros?")
    assert "Pinheiros" in inside and "R$ 5,00" in inside, chat.dump()
    outside = await chat.say("e pra Moema?")
    assert "não entregamos em Moema" in outside and "Perdizes e Pompeia: R$ 9,50" in outside, chat.dump()
    again = await chat.say("e no bairro de Perdizes")
    assert "Perdizes" in again and "R$ 9,50" in again, chat.dump()
    assert chat.last and chat.last.state and chat.last.state.cart.is_empty, chat.dump()
