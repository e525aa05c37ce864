"""The staff console over real HTTP, at work: the live inbox (SSE), claiming, replying, giving back to the bot
under the conversation's lock, the orders board, sold out, hours and fee, the dashboard."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from channel_support import post_signed, twilio_form
from console_support import (
    CUSTOMER,
    ConsoleStack,
    console_stack,
    hidden_csrf,
    open_ticket_by_whatsapp,
    sent_to,
    wait_for,
)
from redis.asyncio import Redis

from memory.db import Pool
from memory.repos import handoffs as handoff_repo
from server.queue import conversation_key

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def stack(demo: Pool, redis: Redis) -> ConsoleStack:  # type: ignore[misc]
    async with console_stack(demo, redis) as s:
        yield s


async def test_a_new_ticket_reaches_the_inbox_live_then_claim_reply_and_resolve(stack: ConsoleStack) -> None:
    ana = await stack.staff(stack.demo, "Ana")
    bia = await stack.staff(stack.demo, "Bia")
    async with stack.client(ana) as http:
        events: list[tuple[str, dict[str, object]]] = []
        listening = asyncio.Event()

        async def listen() -> None:
            async with http.stream("GET", "/console/events") as r:
                assert r.status_code == 200
                kind = ""
                async for line in r.aiter_lines():
                    if line.startswith(":"):
                        listening.set()
                    elif line.startswith("event:"):
                        kind = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        events.append((kind, json.loads(line.split(":", 1)[1])))

        task = asyncio.create_task(listen())
        await asyncio.wait_for(listening.wait(), 10)
        ticket_id = await open_ticket_by_whatsapp(stack)
        await wait_for(lambda: _true(any(k == "ticket" and e["id"] == ticket_id for k, e in events)))
        task.cancel()

        listed = await http.get("/console/inbox/list")
        assert f'data-ticket="{ticket_id}"' in listed.text
        page = await http.get(f"/console/tickets/{ticket_id}")
        assert "quero falar com um atendente" in page.text
        csrf = hidden_csrf(page.text)
        claimed = await http.post(f"/console/tickets/{ticket_id}/claim", data={"csrf": csrf})
        assert claimed.status_code == 303

        # Bia can't take it, and is told who has it
        async with stack.client(bia) as other:
            bia_page = await other.get(f"/console/tickets/{ticket_id}")
            taken = await other.post(f"/console/tickets/{ticket_id}/claim", data={"csrf": hidden_csrf(bia_page.text)})
            assert taken.status_code == 409 and "Ana já está atendendo" in taken.text
            assert "data-ticket" in (await other.get("/console/inbox/list")).text
            # nor answer the customer over Ana's head
            barged = await other.post(
                f"/console/tickets/{ticket_id}/reply", data={"csrf": hidden_csrf(bia_page.text), "text": "Sou a Bia"}
            )
            assert barged.status_code == 409
            assert not any("Sou a Bia" in b for b in await sent_to(stack.pool))

        replied = await http.post(f"/console/tickets/{ticket_id}/reply", data={"csrf": csrf, "text": "Oi, sou a Ana!"})
        assert replied.status_code == 303
        assert any("Oi, sou a Ana!" in b and "Ana" in b for b in await sent_to(stack.pool))
        note = await http.post(f"/console/tickets/{ticket_id}/notes", data={"csrf": csrf, "text": "cliente VIP"})
        assert note.status_code == 303
        assert "cliente VIP" in (await http.get(f"/console/tickets/{ticket_id}")).text
        assert "cliente VIP" not in " ".join(await sent_to(stack.pool))

        resolved = await http.post(f"/console/tickets/{ticket_id}/resolve", data={"csrf": csrf})
        assert resolved.status_code == 303
        assert f'data-ticket="{ticket_id}"' not in (await http.get("/console/inbox/list")).text
    # the bot answers the customer's next message again
    before = len(await sent_to(stack.pool))
    async with httpx.AsyncClient() as client:
        await post_signed(client, stack.base, twilio_form("qual o horário de vocês?"))
    await wait_for(lambda: _count_above(stack.pool, before))


async def _true(value: bool) -> bool:
    return value


async def _count_above(pool: Pool, n: int) -> bool:
    return len(await sent_to(pool)) > n


async def test_giving_back_waits_for_the_conversation_lock_and_loses_no_message(stack: ConsoleStack) -> None:
    ticket_id = await open_ticket_by_whatsapp(stack)
    ana = await stack.staff(stack.demo, "Ana")
    conv = conversation_key(stack.demo.id, CUSTOMER)
    # a turn of this conversation is running (another worker holds its lock); the turn that opened the ticket may
    # still be finishing, so take it once that one has let go
    await wait_for(lambda: stack.deps.queue.hold(conv, "busy-worker"))
    async with stack.client(ana) as http:
        csrf = hidden_csrf((await http.get(f"/console/tickets/{ticket_id}")).text)
        resolving = asyncio.create_task(http.post(f"/console/tickets/{ticket_id}/resolve", data={"csrf": csrf}))
        await asyncio.sleep(0.5)
        assert not resolving.done()
        async with stack.pool.connection() as conn:
            ticket = await handoff_repo.get(conn, ticket_id)
        assert ticket is not None and ticket.status == "open"
        # a message arriving now waits behind the lock
        before = len(await sent_to(stack.pool))
        async with httpx.AsyncClient() as client:
            await post_signed(client, stack.base, twilio_form("qual o horário de vocês?"))
        await asyncio.sleep(0.3)
        await stack.deps.queue.release(conv, "busy-worker")
        assert (await resolving).status_code == 303
    # ...and is answered by the bot once the conversation is given back, not filed on the closed ticket
    await wait_for(lambda: _count_above(stack.pool, before))
    async with stack.pool.connection() as conn:
        ticket = await handoff_repo.get(conn, ticket_id)
    assert ticket is not None and ticket.status == "resolved"
    assert "qual o horário de vocês?" not in [m.body for m in ticket.messages]


async def test_a_paid_order_is_on_the_board_and_moving_it_tells_the_customer(stack: ConsoleStack) -> None:
    async with stack.pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, 'Carla') RETURNING id",
            (stack.demo.id, CUSTOMER),
        )
        customer = await cur.fetchone()
        assert customer is not None
        cur = await conn.execute(
            """INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method, subtotal,
                                   delivery_fee, total, address, locale)
               VALUES (%s, %s, 'k1', 'paid', 'pix', 40, 5, 45, '{}', 'pt-BR') RETURNING id""",
            (stack.demo.id, customer["id"]),
        )
        order = await cur.fetchone()
        assert order is not None
    ana = await stack.staff(stack.demo, "Ana")
    async with stack.client(ana) as http:
        board = await http.get("/console/orders")
        column = board.text.split('data-column="new"')[1].split('data-column="preparing"')[0]
        assert f'data-order="{order["id"]}"' in column and "Carla" in column
        csrf = hidden_csrf(board.text)
        moved = await http.post(
            f"/console/orders/{order['id']}/move", data={"to": "preparing", "csrf": csrf}, headers={"HX-Request": "1"}
        )
        assert moved.status_code == 200
        column = moved.text.split('data-column="preparing"')[1].split('data-column="out_for_delivery"')[0]
        assert f'data-order="{order["id"]}"' in column
        told = await sent_to(stack.pool)
        assert told and "prepar" in told[-1].lower(), told
        illegal = await http.post(f"/console/orders/{order['id']}/move", data={"to": "paid", "csrf": csrf})
        assert illegal.status_code == 409
        kitchen = await http.get(f"/console/orders/{order['id']}/print")
        assert kitchen.status_code == 200 and "kitchen.css" in kitchen.text


async def test_a_manager_marks_an_item_sold_out_and_the_bot_says_so(stack: ConsoleStack) -> None:
    boss = await stack.staff(stack.demo, "Rita", role="manager")
    ana = await stack.staff(stack.demo, "Ana")
    async with stack.client(ana) as agent:
        assert (await agent.get("/console/menu")).status_code == 403
        csrf = hidden_csrf((await agent.get("/console/inbox")).text)
        refused = await agent.post("/console/menu/BG-XBURGER/available", data={"available": "false", "csrf": csrf})
        assert refused.status_code == 403
    async with stack.client(boss) as http:
        menu = await http.get("/console/menu")
        assert menu.status_code == 200 and 'data-sku="BG-XBURGER"' in menu.text
        done = await http.post(
            "/console/menu/BG-XBURGER/available", data={"available": "false", "csrf": hidden_csrf(menu.text)}
        )
        assert done.status_code == 303
        assert 'class="sold-out"' in (await http.get("/console/menu")).text
    async with httpx.AsyncClient() as client:
        await post_signed(client, stack.base, twilio_form("quero um x-burger"))
    replies = await wait_for(lambda: sent_to(stack.pool))
    assert any("em falta" in r for r in replies), replies  # type: ignore[attr-defined]


async def test_a_manager_edits_hours_and_fee_and_pausing_the_bot_sends_everyone_to_the_inbox(
    stack: ConsoleStack,
) -> None:
    ana = await stack.staff(stack.demo, "Ana")
    async with stack.client(ana) as agent:
        assert (await agent.get("/console/settings")).status_code == 403
        csrf = hidden_csrf((await agent.get("/console/inbox")).text)
        assert (await agent.post("/console/settings/bot", data={"paused": "true", "csrf": csrf})).status_code == 403
    boss = await stack.staff(stack.demo, "Rita", role="manager")
    async with stack.client(boss) as http:
        page = await http.get("/console/settings")
        assert page.status_code == 200 and 'value="18:00-23:30"' in page.text
        csrf = hidden_csrf(page.text)
        bad = await http.post("/console/settings", data={"csrf": csrf, "hours_mon": "18h às 23h", "delivery_fee": "7"})
        assert bad.status_code == 400 and "18:00-23:30" in bad.text
        form = {"csrf": csrf, "hours_mon": "11:00-15:00", "hours_fri": "18:00-01:00", "delivery_fee": "7,50"}
        saved = await http.post("/console/settings", data=form)
        assert saved.status_code == 200
        async with stack.pool.connection() as conn:
            cur = await conn.execute("SELECT hours, delivery_fee FROM tenants WHERE id = %s", (stack.demo.id,))
            row = await cur.fetchone()
        assert row is not None and row["hours"] == {"mon": "11:00-15:00", "fri": "18:00-01:00"}
        assert str(row["delivery_fee"]) == "7.50"

        paused = await http.post("/console/settings/bot", data={"paused": "true", "csrf": csrf})
        assert paused.status_code == 303
        assert "bot está pausado" in (await http.get("/console/inbox")).text
    # a customer's first words now open a ticket instead of getting the bot
    async with httpx.AsyncClient() as client:
        await post_signed(client, stack.base, twilio_form("oi, quero pedir uma pizza"))

    async def ticket() -> bool:
        async with stack.pool.connection() as conn:
            return bool(await handoff_repo.list_tickets(conn, stack.demo.id))

    await wait_for(ticket)
    replies = await wait_for(lambda: sent_to(stack.pool))
    assert any("atendente" in r for r in replies), replies  # type: ignore[attr-defined]


async def test_the_dashboard_shows_todays_figures_to_managers_only(stack: ConsoleStack) -> None:
    async with stack.pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, 'Carla') RETURNING id",
            (stack.demo.id, CUSTOMER),
        )
        customer = await cur.fetchone()
        assert customer is not None
        for key, total in (("k1", 45), ("k2", 55)):
            await conn.execute(
                """INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method, subtotal,
                                       delivery_fee, total, address)
                   VALUES (%s, %s, %s, 'paid', 'pix', %s, 0, %s, '{}')""",
                (stack.demo.id, customer["id"], key, total, total),
            )
    ana = await stack.staff(stack.demo, "Ana")
    async with stack.client(ana) as agent:
        assert (await agent.get("/console/dashboard")).status_code == 403
    boss = await stack.staff(stack.demo, "Rita", role="manager")
    async with stack.client(boss) as http:
        page = await http.get("/console/dashboard")
        assert page.status_code == 200
        card = page.text.split('data-figure="dash_orders"')[1].split("</section>")[0]
        assert '<span class="today" data-today>2</span>' in card and "<svg" in card
        revenue = page.text.split('data-figure="dash_revenue"')[1].split("</section>")[0]
        assert "R$ 100,00" in revenue
        average = page.text.split('data-figure="dash_average"')[1].split("</section>")[0]
        assert "R$ 50,00" in average
