"""Registration step by step, validation, addresses: the tools through a real ToolNode on the real database."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DEMO_MENU
from tool_harness import call_tool, result

from graph.state import ConversationState
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from tools.context import TurnContext
from tools.customers.models import CustomerInfo
from tools.customers.service import identify_customer, normalize_cep, normalize_cpf, tenant_city_state, to_e164
from tools.customers.tools import REGISTRATION_TOOLS
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

PHONE = "+5511987654321"


@pytest.fixture
async def ctx(db: Pool, embedder: Embedder) -> TurnContext:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    return TurnContext(pool=db, tenant=tenant, phone=PHONE)


async def run(
    ctx: TurnContext, state: ConversationState, tool_name: str, /, **args: Any
) -> tuple[ConversationState, dict[str, Any]]:
    new_state, messages = await call_tool(REGISTRATION_TOOLS, tool_name, args, state=state, ctx=ctx)
    return new_state, result(messages)


async def counts(db: Pool) -> tuple[int, int]:
    async with db.connection() as conn:
        c = await (await conn.execute("SELECT count(*) AS n FROM customers")).fetchone()
        a = await (await conn.execute("SELECT count(*) AS n FROM addresses")).fetchone()
    assert c and a
    return c["n"], a["n"]


def new_state() -> ConversationState:
    return ConversationState(customer=CustomerInfo(phone=PHONE))


async def register(ctx: TurnContext) -> ConversationState:
    state, _ = await run(ctx, new_state(), "update_registration", name="João Silva")
    state, _ = await run(
        ctx, state, "update_registration", street="Rua das Flores", number="123", neighborhood="Jardim Primavera"
    )
    state, _ = await run(ctx, state, "update_registration", no_email=True)
    state, _ = await run(ctx, state, "confirm_registration")
    return state


async def test_registration_step_by_step_creates_one_customer_even_when_confirmed_twice(
    ctx: TurnContext, db: Pool
) -> None:
    state, res = await run(ctx, new_state(), "update_registration", name="João Silva")
    assert res["kind"] == "registration" and res["next_step"] == "address"
    assert state.awaiting == "registration.address"
    assert set(res["missing"]) >= {"street", "number", "neighborhood"}

    state, res = await run(
        ctx,
        state,
        "update_registration",
        street="Rua das Flores",
        number="123",
        complement="Apto 45",
        neighborhood="Jardim Primavera",
    )
    assert res["next_step"] == "email" and res["missing"] == []
    # city and state default to the restaurant's ("…, São Paulo - SP, 05405-150")
    assert res["draft"]["address"]["city"] == "São Paulo" and res["draft"]["address"]["state"] == "SP"
    assert "Rua das Flores, 123, Apto 45 - Jardim Primavera, São Paulo/SP" in res["summary_text"]

    state, res = await run(ctx, state, "update_registration", no_email=True)
    assert res["next_step"] == "confirm" and state.awaiting == "registration.confirm"
    before_confirm = state

    state, res = await run(ctx, state, "confirm_registration")
    assert res["kind"] == "registered"
    assert res["customer"]["name"] == "João Silva" and res["customer"]["phone"] == PHONE
    assert state.customer is not None and state.customer.registered
    assert state.awaiting is None and state.registration.name is None
    assert state.checkout.address_id == state.customer.default_address_id is not None
    assert await counts(db) == (1, 1)

    # the customer says "sim" again, and a crashed turn is replayed from the state before confirming
    _, res = await run(ctx, state, "confirm_registration")
    assert res["kind"] == "registered"
    _, res = await run(ctx, before_confirm, "confirm_registration")
    assert res["kind"] == "registered"
    assert await counts(db) == (1, 1)

    async with db.connection() as conn:
        known = await identify_customer(conn, ctx.tenant.id, PHONE)
    assert known.registered and known.addresses[0].complement == "Apto 45" and known.last_order is None


async def test_email_is_asked_once_and_an_answer_without_one_skips_it(ctx: TurnContext) -> None:
    state, res = await run(
        ctx,
        new_state(),
        "update_registration",
        name="Ana",
        street="Av. Paulista",
        number="1000",
        neighborhood="Bela Vista",
    )
    assert res["next_step"] == "email"
    state, res = await run(ctx, state, "update_registration", email="Ana.Souza@Example.com")
    assert res["next_step"] == "confirm" and res["draft"]["email"] == "ana.souza@example.com"
    state, res = await run(ctx, state, "confirm_registration")
    assert res["customer"]["email"] == "ana.souza@example.com"


async def test_invalid_email_cpf_cep_and_state_are_refused_by_name(ctx: TurnContext, db: Pool) -> None:
    state, res = await run(
        ctx,
        new_state(),
        "update_registration",
        name="Maria Lima",
        email="maria@",
        cpf="123.456.789-00",
        postal_code="1234-56",
        state="XX",
    )
    assert res["kind"] == "error" and res["error"] == "invalid_field"
    assert set(res["fields"]) == {"email", "cpf", "postal_code", "state"}
    assert "maria@" in res["message"]
    # the valid field was kept, the invalid ones were not
    assert state.registration.name == "Maria Lima"
    assert state.registration.email is None and state.registration.address.postal_code is None
    _, res = await run(ctx, state, "update_registration", postal_code="05405150", cpf="529.982.247-25")
    assert res["kind"] == "registration"
    assert res["draft"]["address"]["postal_code"] == "05405-150"
    assert await counts(db) == (0, 0)


async def test_confirm_before_the_address_names_what_is_missing(ctx: TurnContext, db: Pool) -> None:
    state, _ = await run(ctx, new_state(), "update_registration", name="Pedro")
    _, res = await run(ctx, state, "confirm_registration")
    assert res["error"] == "missing_field" and {"street", "number", "neighborhood"} <= set(res["fields"])
    assert await counts(db) == (0, 0)


async def test_second_address_then_choose_among_saved_addresses(ctx: TurnContext, db: Pool) -> None:
    state = await register(ctx)
    first_id = state.customer.default_address_id if state.customer else None

    state, res = await run(ctx, state, "start_new_address")
    assert res["next_step"] == "address" and state.awaiting == "registration.address"
    state, res = await run(
        ctx, state, "update_registration", street="Rua Augusta", number="500", neighborhood="Consolação"
    )
    assert res["next_step"] == "confirm"  # a known customer is not asked for name or e-mail again
    state, res = await run(ctx, state, "confirm_registration")
    assert res["kind"] == "registered" and len(res["customer"]["addresses"]) == 2
    assert await counts(db) == (1, 2)

    state, res = await run(ctx, state, "list_addresses")
    assert res["kind"] == "addresses" and res["default_index"] == 1
    assert res["addresses"][0]["text"].startswith("Rua Augusta, 500")
    assert res["addresses"][1]["text"].startswith("Rua das Flores, 123")

    state, res = await run(ctx, state, "choose_address", index=2)
    assert res["kind"] == "address_chosen" and res["address_id"] == first_id
    assert state.checkout.address_id == first_id
    async with db.connection() as conn:
        known = await identify_customer(conn, ctx.tenant.id, PHONE)
    assert known.default_address_id == first_id and known.addresses[0].id == first_id

    _, res = await run(ctx, state, "choose_address", index=3)
    assert res["error"] == "invalid_field" and len(res["suggestions"]) == 2


async def test_registered_customer_changes_email(ctx: TurnContext) -> None:
    state = await register(ctx)
    _, res = await run(ctx, state, "update_customer", email="nao-e-email")
    assert res["error"] == "invalid_field" and res["fields"] == ["email"]
    state, res = await run(ctx, state, "update_customer", email="joao.novo@example.com")
    assert res["kind"] == "customer_updated" and res["customer"]["email"] == "joao.novo@example.com"
    assert state.customer is not None and state.customer.email == "joao.novo@example.com"


async def test_unknown_customer_cannot_list_addresses(ctx: TurnContext) -> None:
    _, res = await run(ctx, new_state(), "list_addresses")
    assert res["error"] == "not_registered"


def test_validators() -> None:
    assert normalize_cpf("529.982.247-25") == "52998224725"
    assert normalize_cpf("111.111.111-11") is None
    assert normalize_cep("05405-150") == "05405-150" and normalize_cep("0540-150") is None
    assert to_e164("(11) 98765-4321") == "+5511987654321"
    tenant = tenant_repo.Tenant(
        id=1,
        slug="x",
        name="x",
        whatsapp="+5511900000000",
        address="Rua Teodoro Sampaio, 1245 - Pinheiros, São Paulo - SP, 05405-150",
        timezone="America/Sao_Paulo",
        locale="pt-BR",
        delivery_fee=0,
        hours={},
    )
    assert tenant_city_state(tenant) == ("São Paulo", "SP")
