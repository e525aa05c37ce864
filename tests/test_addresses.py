"""Seed 003 §3.4, every address flow, as a customer lives it: through the real graph, the offline model and Postgres."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DEMO_MENU
from conversation_support import Chat, open_chat

from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from tools.customers import service as customers
from tools.customers.models import AddressDraft, RegistrationDraft
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

PHONE = "+5511987650001"
HOME = AddressDraft(
    label="casa", street="Rua das Flores", number="123", neighborhood="Jardim Primavera", city="São Paulo", state="SP"
)
WORK = AddressDraft(
    label="trabalho", street="Avenida Paulista", number="1000", neighborhood="Bela Vista", city="São Paulo", state="SP"
)


@pytest.fixture
async def demo(db: Pool, embedder: Embedder) -> Pool:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    return db


async def saved_customer(pool: Pool, *addresses: AddressDraft, phone: str = PHONE) -> None:
    """João, registered earlier with these addresses (the last one saved is the default)."""
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    for address in addresses:
        await customers.confirm_registration(
            pool, tenant, phone, RegistrationDraft(name="João Silva", address=address), None
        )


async def rows(pool: Pool, sql: str, *args: object) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(sql, args)
        return list(await cur.fetchall())


async def addresses_of(pool: Pool, phone: str = PHONE) -> list[dict[str, Any]]:
    return await rows(
        pool,
        """SELECT a.label, a.street, a.number, a.complement, a.neighborhood, a.latitude, a.longitude,
                  a.id = c.default_address_id AS is_default
             FROM addresses a JOIN customers c ON c.id = a.customer_id WHERE c.phone = %s ORDER BY a.id""",
        phone,
    )


async def last_order(pool: Pool, phone: str = PHONE) -> dict[str, Any]:
    found = await rows(
        pool,
        """SELECT o.address_id, o.address, a.label FROM orders o JOIN customers c ON c.id = o.customer_id
             LEFT JOIN addresses a ON a.id = o.address_id WHERE c.phone = %s ORDER BY o.id DESC LIMIT 1""",
        phone,
    )
    assert found, "no order was placed"
    return found[0]


async def to_checkout(chat: Chat) -> str:
    await chat.say("oi")
    reply = await chat.say("quero 2 coca lata")
    assert "Coca" in reply, chat.dump()
    return await chat.say("fechar pedido")


@pytest.mark.parametrize("answer", ["2", "trabalho", "a do trabalho"])
async def test_several_addresses_are_listed_with_labels_and_the_chosen_one_is_on_the_summary_and_the_order(
    demo: Pool, answer: str
) -> None:
    await saved_customer(demo, WORK, HOME)
    chat = await open_chat(demo, PHONE)

    reply = await to_checkout(chat)
    assert "1. *casa*: Rua das Flores, 123" in reply and "2. *trabalho*: Avenida Paulista, 1000" in reply, chat.dump()

    reply = await chat.say(answer)
    assert "Entregar em: Avenida Paulista, 1000" in reply and "Pix" in reply, chat.dump()
    reply = await chat.say("pix")
    assert "Avenida Paulista, 1000" in reply and "Posso confirmar" in reply, chat.dump()
    await chat.say("sim")

    order = await last_order(demo)
    assert order["label"] == "trabalho" and order["address"]["street"] == "Avenida Paulista", chat.dump()


async def test_one_saved_address_is_shown_at_checkout_and_outro_sends_the_order_to_a_new_one(demo: Pool) -> None:
    await saved_customer(demo, HOME)
    chat = await open_chat(demo, PHONE)

    reply = await to_checkout(chat)
    assert "Entregar em: Rua das Flores, 123" in reply, chat.dump()
    reply = await chat.say("pix")
    assert "Rua das Flores, 123" in reply and "Posso confirmar" in reply, chat.dump()

    reply = await chat.say("quero entregar em outro endereço")
    assert "novo endereço" in reply, chat.dump()
    reply = await chat.say("Rua Augusta, 500, apto 12, Consolação")
    assert "Rua Augusta, 500" in reply and "sim" in reply.lower(), chat.dump()
    reply = await chat.say("sim")
    assert "fechar o pedido" in reply, chat.dump()
    reply = await chat.say("sim")
    assert "Entregar em: Rua Augusta, 500" in reply, chat.dump()
    if "Posso confirmar" not in reply:
        reply = await chat.say("pix")
    assert "Posso confirmar" in reply, chat.dump()
    await chat.say("sim")

    order = await last_order(demo)
    assert order["address"]["street"] == "Rua Augusta" and order["address"]["number"] == "500", chat.dump()
    assert [a["street"] for a in await addresses_of(demo)] == ["Rua das Flores", "Rua Augusta"]


async def test_a_bare_outro_at_the_confirmation_asks_for_the_new_address(demo: Pool) -> None:
    await saved_customer(demo, HOME)
    chat = await open_chat(demo, PHONE)
    await to_checkout(chat)
    await chat.say("pix")
    reply = await chat.say("outro")
    assert "novo endereço" in reply, chat.dump()
    assert await rows(demo, "SELECT id FROM orders") == []


async def test_managing_addresses_rename_default_correct_and_remove(demo: Pool) -> None:
    await saved_customer(demo, HOME, WORK)
    chat = await open_chat(demo, PHONE)
    await chat.say("oi")

    reply = await chat.say("meus endereços")
    assert "1. *trabalho*" in reply and "2. *casa*" in reply, chat.dump()  # the default first

    reply = await chat.say("chama o endereço 1 de escritório")
    assert "*escritório*" in reply and "Avenida Paulista" in reply, chat.dump()
    assert [a["label"] for a in await addresses_of(demo)] == ["casa", "escritório"]

    reply = await chat.say("deixa a casa como padrão")
    assert "Rua das Flores" in reply and "padrão" in reply, chat.dump()
    assert [a["is_default"] for a in await addresses_of(demo)] == [True, False]

    reply = await chat.say("o número é 150, não 123")
    assert "Rua das Flores, 150" in reply, chat.dump()
    assert [a["number"] for a in await addresses_of(demo)] == ["150", "1000"]

    reply = await chat.say("apaga o endereço do escritório")
    assert "Avenida Paulista" in reply, chat.dump()
    assert [a["street"] for a in await addresses_of(demo)] == ["Rua das Flores"]


async def test_adding_an_address_with_a_label(demo: Pool) -> None:
    await saved_customer(demo, HOME)
    chat = await open_chat(demo, PHONE)
    await chat.say("oi")
    reply = await chat.say("quero cadastrar um novo endereço do trabalho")
    assert "novo endereço" in reply, chat.dump()
    reply = await chat.say("Avenida Paulista, 1000, Bela Vista")
    assert "Avenida Paulista, 1000" in reply, chat.dump()
    await chat.say("sim")
    saved = await addresses_of(demo)
    assert [(a["label"], a["street"], a["is_default"]) for a in saved] == [
        ("casa", "Rua das Flores", False),
        ("trabalho", "Avenida Paulista", True),
    ], chat.dump()


async def test_a_cep_with_letters_is_refused_and_nothing_is_saved(demo: Pool) -> None:
    chat = await open_chat(demo, PHONE)
    await chat.say("oi")
    await chat.say("Maria Souza")
    reply = await chat.say("Rua das Flores, 123, Jardim Primavera, CEP 0131O-1OO")
    assert "CEP" in reply and "01310-100" in reply, chat.dump()
    assert await rows(demo, "SELECT id FROM addresses") == []
    reply = await chat.say("CEP 01310-100")
    assert "e-mail" in reply.lower(), chat.dump()


async def test_an_address_answer_of_only_emojis_is_asked_again_kindly_and_nothing_is_saved(demo: Pool) -> None:
    chat = await open_chat(demo, PHONE)
    await chat.say("oi")
    await chat.say("Maria Souza")
    reply = await chat.say("🏠🏠📍")
    assert chat.last and chat.last.state and chat.last.state.awaiting == "registration.address", chat.dump()
    assert "endereço" in reply.lower(), chat.dump()
    assert await rows(demo, "SELECT id FROM addresses") == []
    assert chat.last.state.registration.address == AddressDraft(), chat.dump()
    reply = await chat.say("Rua das Flores, 123, Jardim Primavera")
    assert "e-mail" in reply.lower(), chat.dump()


async def test_an_address_typed_at_the_checkout_is_confirmed_then_gets_the_order(demo: Pool) -> None:
    await saved_customer(demo, HOME)
    chat = await open_chat(demo, PHONE)
    await to_checkout(chat)
    reply = await chat.say("entrega na Rua Augusta, 500, Consolação")
    assert "Rua Augusta, 500 - Consolação" in reply and "Posso salvar" in reply, chat.dump()
    assert await rows(demo, "SELECT id FROM orders") == []
    reply = await chat.say("sim")
    assert "Endereço salvo" in reply, chat.dump()
    reply = await chat.say("sim")
    assert "Entregar em: Rua Augusta, 500" in reply, chat.dump()
    await chat.say("dinheiro")
    await chat.say("sim")
    assert (await last_order(demo))["address"]["street"] == "Rua Augusta", chat.dump()
