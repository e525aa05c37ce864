"""A WhatsApp location pin, from Twilio's signed webhook through the queue, the worker and the real graph into the
customer's saved address: coordinates stay numbers, the map's words fill the address, number and complement are
asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from channel_support import CUSTOMER, post_signed, replies_to, running_worker, twilio_form, wait_traces, webhook_app
from conftest import DEMO_MENU
from redis.asyncio import Redis
from support import live_server

from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from server.queue import QueueSettings, conversation_key
from tools.customers import service as customers
from tools.customers.models import AddressDraft, RegistrationDraft
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

FAST = QueueSettings(coalesce_window_ms=0, reclaim_idle_ms=1500, lock_ttl_ms=1500, max_attempts=2)


@pytest.fixture
async def demo(db: Pool, embedder: Embedder) -> Pool:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    return db


@pytest.fixture
async def api(demo: Pool, redis: Redis) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with live_server(webhook_app(demo, redis)) as base, httpx.AsyncClient() as http:
        yield http, base


class Customer:
    """Maria on WhatsApp: each message goes through the signed webhook; `send` waits for the bot's answer."""

    def __init__(self, http: httpx.AsyncClient, base: str, pool: Pool, redis: Redis, conv: str) -> None:
        self.http, self.base, self.pool, self.redis, self.conv = http, base, pool, redis, conv
        self.turns = 0

    async def send(self, body: str = "", **extra: str) -> str:
        assert (await post_signed(self.http, self.base, twilio_form(body, **extra))).status_code == 200
        self.turns += 1
        await wait_traces(self.redis, self.conv, self.turns)
        return (await replies_to(self.pool))[-1]


async def saved_addresses(pool: Pool) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT a.* FROM addresses a JOIN customers c ON c.id = a.customer_id WHERE c.phone = %s
               ORDER BY a.id""",
            (CUSTOMER,),
        )
        return list(await cur.fetchall())


async def conv(pool: Pool) -> str:
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT id FROM tenants WHERE slug = 'demo'")).fetchone()
    assert row is not None
    return conversation_key(row["id"], CUSTOMER)


async def test_a_place_pin_fills_the_address_keeps_its_coordinates_and_asks_number_and_complement(
    api: tuple[httpx.AsyncClient, str], demo: Pool, redis: Redis
) -> None:
    http, base = api
    maria = Customer(http, base, demo, redis, await conv(demo))
    async with running_worker(demo, redis, FAST):
        await maria.send("oi")
        await maria.send("Maria Souza")
        reply = await maria.send(
            Latitude="-23.5614", Longitude="-46.6559", Address="Rua Augusta - Consolação, São Paulo - SP"
        )
        assert "localização" in reply and "número" in reply and "complemento" in reply, reply
        reply = await maria.send("1200, apto 31")
        assert "e-mail" in reply.lower(), reply
        reply = await maria.send("pular")
        assert "Rua Augusta, 1200, apto 31 - Consolação" in reply, reply
        await maria.send("sim")

    [address] = await saved_addresses(demo)
    assert (address["latitude"], address["longitude"]) == (-23.5614, -46.6559)
    assert (address["street"], address["number"], address["complement"], address["neighborhood"]) == (
        "Rua Augusta",
        "1200",
        "apto 31",
        "Consolação",
    )
    # no text field was made from the numbers (a pin once became neighborhood '23.5614')
    texts = [v for k, v in address.items() if isinstance(v, str)]
    assert not any("23.56" in t or "46.65" in t for t in texts), address


async def test_a_bare_pin_asks_for_what_the_map_did_not_say_and_the_coordinates_are_kept(
    api: tuple[httpx.AsyncClient, str], demo: Pool, redis: Redis
) -> None:
    http, base = api
    maria = Customer(http, base, demo, redis, await conv(demo))
    async with running_worker(demo, redis, FAST):
        await maria.send("oi")
        await maria.send("Maria Souza")
        reply = await maria.send(Latitude="-23.5505", Longitude="-46.6333")
        assert "localização" in reply and "a rua" in reply and "o bairro" in reply, reply
        reply = await maria.send("Rua Direita, 50, Sé")
        assert "e-mail" in reply.lower(), reply
        await maria.send("pular")
        await maria.send("sim")

    [address] = await saved_addresses(demo)
    assert (address["street"], address["number"], address["neighborhood"]) == ("Rua Direita", "50", "Sé")
    assert (address["latitude"], address["longitude"]) == (-23.5505, -46.6333)


async def _bare_pin_at_checkout(
    api: tuple[httpx.AsyncClient, str], demo: Pool, redis: Redis, at: tuple[float, float] | None
) -> None:
    """Maria, registered with her home (located at `at`, or not), sends a bare pin while ordering: it is her
    home's point now, and no other address is saved."""
    http, base = api
    async with demo.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    lat, lon = at if at else (None, None)
    home = AddressDraft(
        street="Rua das Flores",
        number="123",
        neighborhood="Jardim Primavera",
        city="São Paulo",
        state="SP",
        latitude=lat,
        longitude=lon,
    )
    await customers.confirm_registration(
        demo, tenant, CUSTOMER, RegistrationDraft(name="Maria Souza", address=home), None
    )
    maria = Customer(http, base, demo, redis, await conv(demo))
    async with running_worker(demo, redis, FAST):
        await maria.send("quero 2 coca lata")
        reply = await maria.send(Latitude="-23.5505", Longitude="-46.6333")
        assert "localização" in reply and "Rua das Flores, 123" in reply and "fechar o pedido" in reply, reply
        reply = await maria.send("sim")
        assert "Entregar em: Rua das Flores, 123" in reply, reply

    [address] = await saved_addresses(demo)
    assert (address["street"], address["latitude"], address["longitude"]) == ("Rua das Flores", -23.5505, -46.6333)


async def test_a_bare_pin_from_a_registered_customer_locates_the_address_the_order_goes_to(
    api: tuple[httpx.AsyncClient, str], demo: Pool, redis: Redis
) -> None:
    await _bare_pin_at_checkout(api, demo, redis, None)


async def test_a_pin_of_a_named_place_saves_the_address_under_the_places_name(
    api: tuple[httpx.AsyncClient, str], demo: Pool, redis: Redis
) -> None:
    http, base = api
    maria = Customer(http, base, demo, redis, await conv(demo))
    async with running_worker(demo, redis, FAST):
        await maria.send("oi")
        await maria.send("Maria Souza")
        await maria.send(
            Latitude="-23.5614",
            Longitude="-46.6559",
            Address="Rua Augusta - Consolação, São Paulo - SP",
            Label="  Edifício   Augusta ",
        )
        await maria.send("1200, apto 31")
        await maria.send("pular")
        await maria.send("sim")

    [address] = await saved_addresses(demo)
    # the customer picks it by that name later ("entrega no Edifício Augusta")
    assert (address["label"], address["street"], address["latitude"]) == ("Edifício Augusta", "Rua Augusta", -23.5614)


async def test_a_bare_pin_for_an_address_already_located_moves_its_point_and_adds_no_address(
    api: tuple[httpx.AsyncClient, str], demo: Pool, redis: Redis
) -> None:
    await _bare_pin_at_checkout(api, demo, redis, (-23.5500, -46.6300))
