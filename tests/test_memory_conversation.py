"""Memories at work in the conversation (issue 13): the real graph with the offline model, Postgres checkpoints,
and the extraction the jobs worker runs after each turn (`remember_turn`, the job's body)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from channel_support import demo_tenant, post_signed, replies_to, twilio_form, webhook_app
from conftest import DEMO_MENU
from conversation_support import OPEN_CLOCK, Chat, make_runner, open_chat
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from redis.asyncio import Redis
from support import live_server

from graph.graph import build_graph
from graph.models import ModelConfig, make_chat_model
from graph.runner import ConversationRunner
from memory.checkpointer import make_checkpointer
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos.tenants import Tenant
from prompts import catalog, load_prompt_set
from server.channels import ConsoleChannel
from server.jobs import JobDeps, MemoryJobs, ensure_schema, make_app, run_jobs
from server.queue import InboundQueue, QueueSettings
from server.turns import ConversationTurns
from server.worker import Worker
from tools.context import TurnContext
from tools.memory.service import list_memories, remember_turn
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

PHONE = "+5511988887777"


@pytest.fixture
async def demo(db: Pool, embedder: Embedder) -> Pool:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        # the shrimp pizza is sold out in the fixture: back today
        await conn.execute("UPDATE menu_items SET available = true WHERE sku = 'PZ-CAMARAO'")
    return db


async def _turn(chat: Chat, text: str, embedder: Embedder) -> str:
    """A customer's turn, then what the jobs worker does once the reply went out."""
    reply = await chat.say(text)
    await remember_turn(chat.ctx.pool, chat.ctx.tenant.id, chat.ctx.phone, [text], embedder=embedder)
    return reply


async def _days_later(chat: Chat) -> Chat:
    """The same phone in a new conversation: every checkpoint of the thread is gone."""
    async with chat.ctx.pool.connection() as conn:
        for table in ("checkpoint_writes", "checkpoint_blobs", "checkpoints"):
            await conn.execute(f"DELETE FROM {table} WHERE thread_id = %s", (chat.ctx.thread_id,))
    return await open_chat(chat.ctx.pool, chat.ctx.phone)


async def _cart(chat: Chat) -> list[str]:
    state = await chat.runner.graph.aget_state({"configurable": {"thread_id": chat.ctx.thread_id}})
    cart = state.values.get("cart")
    return [f"{line.name}|{','.join(line.removed)}" for line in cart.lines] if cart else []


async def _regular_back(demo: Pool, embedder: Embedder, order: str, told: str) -> Chat:
    """A customer who registered, placed `order` (cash), then told us `told` (an allergy, a standing "sem ..."),
    back in a new conversation days later: the greeting offers that order as their usual."""
    first = await open_chat(demo, PHONE)
    for text in ("oi", "Marina Costa", "Rua Harmonia, 250, Vila Madalena", "pular", "sim"):
        await _turn(first, text, embedder)
    for text in (order, "fechar pedido", "dinheiro, sem troco"):
        await _turn(first, text, embedder)
    assert "#" in await _turn(first, "sim", embedder), first.dump()
    await _turn(first, told, embedder)
    return await _days_later(first)


async def test_an_allergy_told_days_ago_makes_the_bot_warn_and_ask_before_adding_the_shrimp_pizza(
    demo: Pool, embedder: Embedder
) -> None:
    first = await open_chat(demo, PHONE)
    await _turn(first, "oi", embedder)
    await _turn(first, "sou alérgica a camarão", embedder)

    chat = await _days_later(first)
    warning = await chat.say("quero uma pizza camarão com catupiry grande")
    assert "alergia a *camarão*" in warning and "Pizza Camarão com Catupiry" in warning, chat.dump()
    assert await _cart(chat) == []
    confirmed = await chat.say("sim")
    assert "Anotado" in confirmed, chat.dump()
    assert [c.split("|")[0] for c in await _cart(chat)] == ["Pizza Camarão com Catupiry"]


async def test_with_memory_off_nothing_told_before_is_read(demo: Pool, embedder: Embedder) -> None:
    # COMANDA_MEMORY=off: a restaurant that keeps no long-term memory gets no warning from an earlier conversation
    first = await open_chat(demo, PHONE)
    await _turn(first, "oi", embedder)
    await _turn(first, "sou alérgica a camarão", embedder)
    async with demo.connection() as conn:
        assert await list_memories(conn, first.ctx.tenant.id, PHONE)  # it was remembered, with memory on
    forgetful = build_graph(
        make_chat_model(ModelConfig(spec="offline")),
        load_prompt_set(),
        checkpointer=await make_checkpointer(demo),
        memory=False,
    )
    chat = await _days_later(first)
    chat = Chat(ConversationRunner(forgetful), chat.ctx)
    reply = await chat.say("quero uma pizza camarão com catupiry grande")
    assert "alergia" not in reply.lower() and "Anotado" in reply, chat.dump()
    assert [c.split("|")[0] for c in await _cart(chat)] == ["Pizza Camarão com Catupiry"]


async def test_an_allergen_the_menu_declares_but_the_name_does_not_say_still_stops_the_item(
    demo: Pool, embedder: Embedder
) -> None:
    # "Pizza Quatro Queijos" never says "leite": only the menu file's `allergens` list does
    first = await open_chat(demo, PHONE)
    await _turn(first, "sou alérgico a leite", embedder)
    chat = await _days_later(first)
    warning = await chat.say("quero uma pizza quatro queijos grande")
    assert "alergia a *leite*" in warning and "Pizza Quatro Queijos" in warning, chat.dump()
    assert await _cart(chat) == []
    declined = await chat.say("não")
    assert "não coloquei" in declined, chat.dump()
    # the same customer's fries declare no milk: they go straight in
    assert "Anotado" in await chat.say("quero uma batata frita"), chat.dump()
    assert [c.split("|")[0] for c in await _cart(chat)] == ["Batata Frita"]


async def test_declining_after_the_allergy_warning_leaves_the_item_out(demo: Pool, embedder: Embedder) -> None:
    first = await open_chat(demo, PHONE)
    await _turn(first, "sou alérgico a camarão", embedder)
    chat = await _days_later(first)
    await chat.say("quero uma pizza camarão com catupiry grande")
    declined = await chat.say("não")
    assert "não coloquei" in declined, chat.dump()
    assert await _cart(chat) == []
    # and an item without it goes straight in
    assert "Anotado" in await chat.say("quero um x-salada"), chat.dump()


async def test_sem_cebola_sempre_is_applied_to_the_next_order(demo: Pool, embedder: Embedder) -> None:
    first = await open_chat(demo, PHONE)
    await _turn(first, "quero um x-tudo, e sem cebola sempre tá?", embedder)
    chat = await _days_later(first)
    reply = await chat.say("quero um x-salada")
    assert "cebola" in reply, chat.dump()
    assert await _cart(chat) == ["X-Salada|cebola"]


async def test_a_regular_is_greeted_with_their_usual_and_a_yes_repeats_it_with_the_preference(
    demo: Pool, embedder: Embedder
) -> None:
    first = await open_chat(demo, PHONE)
    for text in ("oi", "Marina Costa", "Rua Harmonia, 250, Vila Madalena", "pular", "sim"):
        await _turn(first, text, embedder)
    await _turn(first, "quero 2 x-salada e 1 coca lata", embedder)
    await _turn(first, "fechar pedido", embedder)
    await _turn(first, "dinheiro, sem troco", embedder)
    placed = await _turn(first, "sim", embedder)
    assert "#" in placed, first.dump()
    await _turn(first, "ah, e da próxima vez sem cebola sempre tá?", embedder)

    chat = await _days_later(first)
    greeting = await chat.say("oi")
    assert "Marina" in greeting and "o de sempre" in greeting and "sem cebola" in greeting, chat.dump()
    repeated = await chat.say("sim")
    assert "cebola" in repeated, chat.dump()
    assert sorted(await _cart(chat)) == ["Coca-Cola lata 350ml|", "X-Salada|cebola"], chat.dump()


async def test_a_no_to_the_usual_asks_what_it_is_today_and_leaves_the_cart_empty(
    demo: Pool, embedder: Embedder
) -> None:
    first = await open_chat(demo, PHONE)
    for text in ("oi", "Marina Costa", "Rua Harmonia, 250, Vila Madalena", "pular", "sim"):
        await _turn(first, text, embedder)
    for text in ("quero 1 x-salada", "fechar pedido", "dinheiro, sem troco"):
        await _turn(first, text, embedder)
    assert "#" in await _turn(first, "sim", embedder), first.dump()
    await _turn(first, "valeu! ah, sempre sem cebola pra mim", embedder)
    chat = await _days_later(first)
    assert "sem cebola" in await chat.say("boa noite"), chat.dump()
    declined = await chat.say("não")
    assert declined == catalog.text("greeting.usual_declined", "pt-BR"), chat.dump()
    assert await _cart(chat) == []
    # the offer lasts one turn: a later yes is just a yes
    assert "Anotado" in await chat.say("quero uma coca lata"), chat.dump()


async def test_the_usual_repeated_on_a_yes_holds_back_the_item_with_an_allergen_told_since_and_asks(
    demo: Pool, embedder: Embedder
) -> None:
    chat = await _regular_back(
        demo,
        embedder,
        "quero 1 x-salada e 1 pizza camarão com catupiry grande",
        "da próxima vez sem cebola sempre tá? e descobri que sou alérgica a camarão",
    )
    greeting = await chat.say("oi")
    assert "o de sempre" in greeting and "Pizza Camarão com Catupiry" in greeting, chat.dump()
    repeated = await chat.say("sim")
    # the rest of the usual went in, the shrimp pizza waits for an answer: never added silently
    assert "alergia a *camarão*" in repeated and "Pizza Camarão com Catupiry" in repeated, chat.dump()
    assert "X-Salada" in repeated and "(sim/não)" in repeated, chat.dump()
    assert await _cart(chat) == ["X-Salada|cebola"], chat.dump()
    confirmed = await chat.say("sim")
    assert "Anotado" in confirmed, chat.dump()
    assert sorted(c.split("|")[0] for c in await _cart(chat)) == ["Pizza Camarão com Catupiry", "X-Salada"]


async def test_the_greeting_names_the_usuals_item_with_a_told_allergen_as_held_back(
    demo: Pool, embedder: Embedder
) -> None:
    # the greeting listed the shrimp pizza in "o de sempre (...)" as if nothing were wrong; only a "sim" met the guard
    chat = await _regular_back(
        demo,
        embedder,
        "quero 1 x-salada e 1 pizza camarão com catupiry grande",
        "sempre sem cebola pra mim. ah, e tenho alergia a camarão",
    )
    greeting = await chat.say("oi")
    assert "o de sempre" in greeting and "alergia a *camarão*" in greeting, chat.dump()
    held = catalog.text("greeting.usual_held", "pt-BR", item="Pizza Camarão com Catupiry", option="camarão")
    assert held in greeting, chat.dump()
    # the yes still holds it back and asks, as the greeting said it would
    repeated = await chat.say("sim")
    assert "(sim/não)" in repeated and await _cart(chat) == ["X-Salada|cebola"], chat.dump()


async def test_the_greeting_names_every_item_of_the_usual_with_a_told_allergen(demo: Pool, embedder: Embedder) -> None:
    usual = "quero 1 x-salada, 1 pizza calabresa grande e 1 petit gâteau"
    chat = await _regular_back(demo, embedder, usual, "sempre sem cebola pra mim. ah, e tenho alergia a leite")
    greeting = await chat.say("oi")
    assert "o de sempre" in greeting and "alergia a *leite*" in greeting, chat.dump()
    both = "Pizza Calabresa e Petit Gâteau"
    contains = catalog.text("cart.allergy_contains_many", "pt-BR", items=both, option="leite")
    held = catalog.text("greeting.usual_held_many", "pt-BR", options="leite", contains=contains)
    assert held in greeting, chat.dump()


async def test_a_no_after_the_usuals_allergy_warning_keeps_the_rest_of_the_usual(
    demo: Pool, embedder: Embedder
) -> None:
    chat = await _regular_back(
        demo,
        embedder,
        "quero 1 x-salada e 1 pizza camarão com catupiry grande",
        "sempre sem cebola pra mim. ah, e tenho alergia a camarão",
    )
    assert "o de sempre" in await chat.say("boa noite"), chat.dump()
    assert "alergia a *camarão*" in await chat.say("sim"), chat.dump()
    declined = await chat.say("não")
    assert "não coloquei *Pizza Camarão com Catupiry*" in declined, chat.dump()
    assert await _cart(chat) == ["X-Salada|cebola"], chat.dump()


async def test_the_usual_with_two_items_with_the_allergen_holds_both_back_names_both_and_a_yes_adds_both(
    demo: Pool, embedder: Embedder
) -> None:
    # the pizza and the petit gâteau both declare milk: neither may go in unasked, and one answer settles both
    usual = "quero 1 x-salada, 1 pizza calabresa grande e 1 petit gâteau"
    chat = await _regular_back(demo, embedder, usual, "sempre sem cebola pra mim. ah, e tenho alergia a leite")
    assert "o de sempre" in await chat.say("oi"), chat.dump()
    repeated = await chat.say("sim")
    assert "alergia a *leite*" in repeated and "(sim/não)" in repeated, chat.dump()
    assert "Pizza Calabresa" in repeated and "Petit Gâteau" in repeated, chat.dump()
    assert await _cart(chat) == ["X-Salada|cebola"], chat.dump()
    confirmed = await chat.say("sim")
    assert "Anotado" in confirmed and "1x Pizza Calabresa e 1x Petit Gâteau" in confirmed, chat.dump()
    assert sorted(c.split("|")[0] for c in await _cart(chat)) == ["Petit Gâteau", "Pizza Calabresa", "X-Salada"]


async def test_a_no_to_the_usuals_warning_about_two_items_leaves_both_out_and_says_so(
    demo: Pool, embedder: Embedder
) -> None:
    usual = "quero 1 x-salada, 1 pizza calabresa grande e 1 petit gâteau"
    chat = await _regular_back(demo, embedder, usual, "sempre sem cebola pra mim. ah, e tenho alergia a leite")
    assert "o de sempre" in await chat.say("boa noite"), chat.dump()
    assert "alergia a *leite*" in await chat.say("sim"), chat.dump()
    declined = await chat.say("não")
    assert "não coloquei" in declined and "Pizza Calabresa" in declined and "Petit Gâteau" in declined, chat.dump()
    assert await _cart(chat) == ["X-Salada|cebola"], chat.dump()
    # no held line is left waiting for an answer: the next item goes straight in
    assert "Anotado" in await chat.say("quero uma coca lata"), chat.dump()


async def _sold_out(pool: Pool, sku: str) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE menu_items SET available = false WHERE sku = %s", (sku,))


async def test_the_usual_with_a_held_item_and_a_sold_out_one_says_both(demo: Pool, embedder: Embedder) -> None:
    # the reply asked about the shrimp pizza and never said the coke had left the menu today
    usual = "quero 1 x-salada, 1 pizza camarão com catupiry grande e 1 coca lata"
    chat = await _regular_back(demo, embedder, usual, "sempre sem cebola pra mim. ah, e tenho alergia a camarão")
    await _sold_out(demo, "BB-COCA-LATA")
    assert "o de sempre" in await chat.say("oi"), chat.dump()
    repeated = await chat.say("sim")
    assert "alergia a *camarão*" in repeated and "(sim/não)" in repeated, chat.dump()
    assert "Coca-Cola lata 350ml" in repeated, chat.dump()
    gone = catalog.text("cart.unavailable_today", "pt-BR", skipped="Coca-Cola lata 350ml")
    assert gone in repeated, chat.dump()
    assert await _cart(chat) == ["X-Salada|cebola"], chat.dump()


async def test_a_yes_to_held_lines_says_which_one_left_the_menu_meanwhile(demo: Pool, embedder: Embedder) -> None:
    usual = "quero 1 x-salada, 1 pizza calabresa grande e 1 petit gâteau"
    chat = await _regular_back(demo, embedder, usual, "sempre sem cebola pra mim. ah, e tenho alergia a leite")
    assert "o de sempre" in await chat.say("oi"), chat.dump()
    assert "alergia a *leite*" in await chat.say("sim"), chat.dump()
    await _sold_out(demo, "SB-PETIT")  # between the question and the answer
    confirmed = await chat.say("sim")
    assert "Anotado" in confirmed and "1x Pizza Calabresa" in confirmed and "Petit Gâteau" in confirmed, chat.dump()
    assert catalog.text("cart.unavailable_today", "pt-BR", skipped="Petit Gâteau") in confirmed, chat.dump()
    assert sorted(c.split("|")[0] for c in await _cart(chat)) == ["Pizza Calabresa", "X-Salada"]


async def test_another_restaurants_customer_with_the_same_phone_is_not_warned(demo: Pool, embedder: Embedder) -> None:
    async with demo.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO tenants (slug, name, whatsapp) VALUES ('outra', 'Outra', '+5511900009999') RETURNING id"
        )
        row = await cur.fetchone()
    assert row is not None
    await remember_turn(demo, int(row["id"]), PHONE, ["sou alérgica a camarão"], embedder=embedder)
    chat = await open_chat(demo, PHONE)
    reply = await chat.say("quero uma pizza camarão com catupiry grande")
    assert "alergia" not in reply and "Anotado" in reply, chat.dump()


async def test_what_trimming_drops_stays_as_a_summary_and_reaches_the_handoff_ticket(
    demo: Pool, embedder: Embedder
) -> None:
    chat = await open_chat(demo, PHONE)
    await _turn(chat, "sou alérgica a camarão", embedder)
    old: list[BaseMessage] = [HumanMessage("a pizza de ontem chegou fria e sem a borda", id="old-0")]
    for i in range(1, 40):
        old.append(AIMessage(f"resposta {i}", id=f"old-a{i}") if i % 2 else HumanMessage(f"msg {i}", id=f"old-h{i}"))
    config: RunnableConfig = {"configurable": {"thread_id": chat.ctx.thread_id}}
    await chat.runner.graph.aupdate_state(config, {"messages": old}, as_node="finish")

    await chat.say("tem pizza de calabresa?")
    state = (await chat.runner.graph.aget_state(config)).values
    assert all(m.id != "old-0" for m in state["messages"])
    assert "> a pizza de ontem chegou fria e sem a borda" in state["summary"]

    await chat.say("quero falar com um atendente")
    async with demo.connection() as conn:
        cur = await conn.execute("SELECT summary FROM handoff_tickets")
        tickets = [r["summary"] for r in await cur.fetchall()]
    assert len(tickets) == 1, chat.dump()
    assert "allergy: sou alérgica a camarão" in tickets[0]
    assert "chegou fria e sem a borda" in tickets[0]


async def test_through_webhook_worker_and_jobs_a_told_allergy_warns_in_the_next_conversation(
    demo: Pool, redis: Redis, database_url: str, embedder: Embedder
) -> None:
    phone = "+5511977776666"
    runner = await make_runner(demo)

    def context_for(tenant: Tenant, who: str) -> TurnContext:
        return TurnContext(pool=demo, tenant=tenant, phone=who, clock=lambda: OPEN_CLOCK)

    turns = ConversationTurns(demo, runner, ConsoleChannel(demo), context_for, redis, memory=MemoryJobs(demo))
    deps = JobDeps(pool=demo, notifier=ConsoleChannel(demo), embedder=embedder)
    await ensure_schema(database_url, make_app(database_url, deps))
    stop = asyncio.Event()
    queue = QueueSettings(coalesce_window_ms=0, reclaim_idle_ms=1500, lock_ttl_ms=1500, max_attempts=2)
    tasks = [
        asyncio.create_task(Worker(InboundQueue(redis, queue), turns, slots=2).run(stop)),
        asyncio.create_task(run_jobs(database_url, deps, stop, name="mem-e2e")),
    ]
    tenant = await demo_tenant(demo)
    try:
        async with live_server(webhook_app(demo, redis)) as base, httpx.AsyncClient() as http:
            await post_signed(http, base, twilio_form("oi, sou alérgica a camarão", phone=phone))

            async def remembered() -> bool:
                async with demo.connection() as conn:
                    return any(m.kind == "allergy" for m in await list_memories(conn, tenant.id, phone))

            await _until(remembered)
            async with demo.connection() as conn:
                for table in ("checkpoint_writes", "checkpoint_blobs", "checkpoints"):
                    await conn.execute(f"DELETE FROM {table} WHERE thread_id = %s", (f"{tenant.id}:{phone}",))
            await post_signed(http, base, twilio_form("quero uma pizza camarão com catupiry grande", phone=phone))

            async def warned() -> bool:
                return any("alergia a *camarão*" in r for r in await replies_to(demo, phone))

            await _until(warned)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(60):
        while not await check():  # noqa: ASYNC110 - the database has no event to wait on
            await asyncio.sleep(0.2)
