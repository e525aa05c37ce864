"""The staff console over real HTTP: accounts, sessions, CSRF, login limits, isolation between restaurants, the live
inbox (SSE), claiming, replying, giving back to the bot under the conversation's lock, the orders board, sold out."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from channel_support import post_signed, twilio_form
from console_support import PASSWORD, ConsoleStack, console_stack, hidden_csrf, login, wait_for
from redis.asyncio import Redis
from typer.testing import CliRunner

from memory.db import Pool
from memory.repos import handoffs as handoff_repo
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import TenantFields
from server.queue import conversation_key

ROOT = Path(__file__).resolve().parent.parent
DEMO_MENU = ROOT / "comanda" / "fixtures" / "demo-restaurant.json"
CUSTOMER = "+5511999990001"


@pytest.fixture
async def stack(demo: Pool, redis: Redis) -> ConsoleStack:  # type: ignore[misc]
    async with console_stack(demo, redis) as s:
        yield s


async def sent_to(pool: Pool, phone: str = CUSTOMER) -> list[str]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT body FROM outbound_messages WHERE phone = %s ORDER BY id", (phone,))
        return [r["body"] for r in await cur.fetchall()]


async def open_ticket_by_whatsapp(stack: ConsoleStack, text: str = "quero falar com um atendente") -> int:
    """The customer asks for a person through the signed webhook; the worker opens the ticket."""
    async with httpx.AsyncClient() as http:
        r = await post_signed(http, stack.base, twilio_form("oi"))
        assert r.status_code == 200
        await wait_for(lambda: sent_to(stack.pool))
        r = await post_signed(http, stack.base, twilio_form(text))
        assert r.status_code == 200

    async def ticket() -> int | None:
        async with stack.pool.connection() as conn:
            found = await handoff_repo.list_tickets(conn, stack.demo.id)
        return found[0].id if found else None

    return int(await wait_for(ticket))  # type: ignore[call-overload]


# accounts and sessions ------------------------------------------------------------------------------------------


async def test_agents_add_prints_a_one_time_setup_link_that_sets_the_password(
    stack: ConsoleStack, database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": database_url, "COMANDA_DATA_DIR": str(tmp_path), "COMANDA_PUBLIC_BASE_URL": stack.base}
    from comanda.cli import app

    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["agents", "add", "--tenant", "demo", "--email", "ana@brasa.example.com", "--role", "manager", "--name", "Ana"],
        env={**os.environ, **env},
    )
    assert result.exit_code == 0, result.output
    link = next(line.strip() for line in result.output.splitlines() if "/console/setup/" in line)
    assert link.startswith(stack.base + "/console/setup/")
    path = link.removeprefix(stack.base)

    async with stack.client() as http:
        page = await http.get(path)
        assert page.status_code == 200 and "Ana" in page.text
        # no password until the link is used
        assert (await login(http, "demo", "ana@brasa.example.com", "qualquer-senha")).status_code == 401
        csrf = hidden_csrf(page.text)
        short = await http.post(path, data={"password": "curta", "password_again": "curta", "csrf": csrf})
        assert short.status_code == 400
        done = await http.post(path, data={"password": PASSWORD, "password_again": PASSWORD, "csrf": csrf})
        assert done.status_code == 303 and done.headers["location"] == "/console/login"
        # the link works once
        again = await http.get(path)
        assert again.status_code == 404 and "expirou" in again.text
        logged = await login(http, "demo", "ana@brasa.example.com", PASSWORD)
        assert logged.status_code == 303
        inbox = await http.get("/console/inbox")
        assert inbox.status_code == 200 and "Brasa &amp; Forno" in inbox.text and "Ana" in inbox.text

    duplicate = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["agents", "add", "--tenant", "demo", "--email", "ana@brasa.example.com", "--role", "agent"],
        env={**os.environ, **env},
    )
    assert duplicate.exit_code == 1 and "already has an account" in duplicate.output


async def test_the_session_cookie_is_httponly_lax_and_logout_ends_it(stack: ConsoleStack) -> None:
    ana = await stack.staff(stack.demo, "Ana")
    async with stack.client() as http:
        r = await login(http, "demo", ana.email, PASSWORD)
        cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and "comanda_console=" in v)
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # served over plain http here
        page = await http.get("/console/inbox")
        assert page.status_code == 200
        out = await http.post("/console/logout", data={"csrf": hidden_csrf(page.text)})
        assert out.status_code == 303
        after = await http.get("/console/inbox")
        assert after.status_code == 303 and after.headers["location"] == "/console/login"


async def test_cookies_are_secure_when_the_console_is_public_over_https(demo: Pool, redis: Redis) -> None:
    async with console_stack(demo, redis, public_base_url="https://console.example.com") as stack:
        ana = await stack.staff(stack.demo, "Ana")
        async with stack.client() as http:
            page = await http.get("/console/login")
            cookie = page.headers["set-cookie"]
            assert "comanda_console_pre=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
            # a browser keeps a Secure cookie off plain http, so the form's token can't be matched there
            assert (await login(http, "demo", ana.email, PASSWORD)).status_code == 403


async def test_a_session_expires_after_inactivity(demo: Pool, redis: Redis) -> None:
    async with console_stack(demo, redis, idle_s=1) as stack:
        ana = await stack.staff(stack.demo, "Ana")
        async with stack.client(ana) as http:
            assert (await http.get("/console/inbox")).status_code == 200
            await asyncio.sleep(1.3)
            expired = await http.get("/console/inbox")
            assert expired.status_code == 303 and expired.headers["location"] == "/console/login"


async def test_state_changing_requests_without_the_csrf_token_are_refused(stack: ConsoleStack) -> None:
    ticket_id = await open_ticket_by_whatsapp(stack)
    ana = await stack.staff(stack.demo, "Ana")
    async with stack.client(ana) as http:
        assert (await http.post(f"/console/tickets/{ticket_id}/claim")).status_code == 403
        wrong = await http.post(f"/console/tickets/{ticket_id}/claim", data={"csrf": "0" * 32})
        assert wrong.status_code == 403
        reply = await http.post(f"/console/tickets/{ticket_id}/reply", data={"text": "oi"})
        assert reply.status_code == 403
        assert (await http.post(f"/console/tickets/{ticket_id}/resolve")).status_code == 403
        assert (await http.post("/console/logout")).status_code == 403
        async with stack.pool.connection() as conn:
            ticket = await handoff_repo.get(conn, ticket_id)
        assert ticket is not None and ticket.agent_id is None and ticket.status == "open" and not ticket.messages[1:]
        # the login form has its own token
        async with stack.client() as bare:
            r = await bare.post("/console/login", data={"restaurant": "demo", "email": ana.email, "password": PASSWORD})
            assert r.status_code == 403


async def test_wrong_passwords_are_rate_limited_even_before_the_right_one(stack: ConsoleStack) -> None:
    ana = await stack.staff(stack.demo, "Ana")
    async with stack.client() as http:
        for _ in range(5):
            assert (await login(http, "demo", ana.email, "errada-123456")).status_code == 401
        blocked = await login(http, "demo", ana.email, PASSWORD)
        assert blocked.status_code == 429 and "Muitas tentativas" in blocked.text
        # another account from another browser isn't blocked by Ana's attempts
        bia = await stack.staff(stack.demo, "Bia")
        async with stack.client() as other:
            assert (await login(other, "demo", bia.email, PASSWORD)).status_code == 303


# isolation ------------------------------------------------------------------------------------------------------


async def test_another_restaurants_ticket_and_order_are_404_by_url_and_by_form(stack: ConsoleStack) -> None:
    ticket_id = await open_ticket_by_whatsapp(stack)
    async with stack.pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, '+5511999990077', 'Duda') RETURNING id",
            (stack.demo.id,),
        )
        customer = await cur.fetchone()
        assert customer is not None
        cur = await conn.execute(
            """INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method, subtotal,
                                   delivery_fee, total, address) VALUES (%s, %s, 'k1', 'paid', 'pix', 40, 5, 45, '{}')
               RETURNING id""",
            (stack.demo.id, customer["id"]),
        )
        order = await cur.fetchone()
        assert order is not None
    outsider = await stack.staff(stack.other, "Zeca")
    async with stack.client(outsider) as http:
        csrf = hidden_csrf((await http.get("/console/inbox")).text)
        assert (await http.get(f"/console/tickets/{ticket_id}")).status_code == 404
        assert (await http.get(f"/console/tickets/{ticket_id}/conversation")).status_code == 404
        for action, data in (("claim", {}), ("reply", {"text": "oi"}), ("notes", {"text": "x"}), ("resolve", {})):
            r = await http.post(f"/console/tickets/{ticket_id}/{action}", data={**data, "csrf": csrf})
            assert r.status_code == 404, action
        assert (await http.get(f"/console/orders/{order['id']}")).status_code == 404
        move = await http.post(f"/console/orders/{order['id']}/move", data={"to": "preparing", "csrf": csrf})
        assert move.status_code == 404
        board = await http.get("/console/orders")
        assert f'data-order="{order["id"]}"' not in board.text
        assert "quero falar" not in (await http.get("/console/inbox")).text
    async with stack.pool.connection() as conn:
        ticket = await handoff_repo.get(conn, ticket_id)
        cur = await conn.execute("SELECT status FROM orders WHERE id = %s", (order["id"],))
        status = await cur.fetchone()
    assert ticket is not None and ticket.status == "open" and ticket.agent_id is None
    assert status is not None and status["status"] == "paid"
    assert not any(b.startswith("Zeca") or "oi" == b for b in await sent_to(stack.pool))


# inbox ----------------------------------------------------------------------------------------------------------


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


# orders and menu ------------------------------------------------------------------------------------------------


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


async def test_a_manager_adds_staff_from_the_console_and_the_link_works_once(stack: ConsoleStack) -> None:
    await stack.staff(stack.other, "Zeca")  # another restaurant's: never listed here
    ana = await stack.staff(stack.demo, "Ana")
    async with stack.client(ana) as agent:
        assert (await agent.get("/console/staff")).status_code == 403
    boss = await stack.staff(stack.demo, "Rita", role="manager")
    async with stack.client(boss) as http:
        page = await http.get("/console/staff")
        assert page.status_code == 200 and "ana@demo.example.com" in page.text and "Zeca" not in page.text
        csrf = hidden_csrf(page.text)
        form = {"csrf": csrf, "name": "Bia", "email": "bia@demo.example.com", "role": "agent"}
        added = await http.post("/console/staff", data=form)
        assert added.status_code == 200
        link = added.text.split('id="setup-link"')[0].rsplit('value="', 1)[1].split('"')[0]
        assert link.startswith(stack.base + "/console/setup/")
        assert link not in (await http.get("/console/staff")).text  # shown once
        assert (await http.post("/console/staff", data=form)).status_code == 409
    async with stack.client() as fresh:
        path = link.removeprefix(stack.base)
        setup = await fresh.get(path)
        done = await fresh.post(
            path, data={"password": PASSWORD, "password_again": PASSWORD, "csrf": hidden_csrf(setup.text)}
        )
        assert done.status_code == 303
        assert (await login(fresh, "demo", "bia@demo.example.com", PASSWORD)).status_code == 303


async def test_the_handoff_cli_confined_to_a_restaurant_refuses_another_ones_ticket(
    demo: Pool, database_url: str, tmp_path: Path
) -> None:
    from comanda.cli import app
    from tools.handoff.service import open_handoff

    async with demo.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
        await tenant_repo.insert(conn, TenantFields(slug="nona", name="Nona", whatsapp="+5511900000009"))
    assert tenant is not None
    ticket, _ = await open_handoff(
        demo,
        tenant_id=tenant.id,
        thread_id=f"{tenant.id}:{CUSTOMER}",
        phone=CUSTOMER,
        customer_id=None,
        reason="reclamação",
        summary="-",
    )
    env = {**os.environ, "DATABASE_URL": database_url, "COMANDA_DATA_DIR": str(tmp_path)}

    def cli(*args: str) -> Any:
        return CliRunner().invoke(app, ["handoff", *args], env=env)

    for args in (("show", str(ticket.id)), ("reply", str(ticket.id), "oi"), ("resolve", str(ticket.id))):
        refused = await asyncio.to_thread(cli, *args, "--tenant", "nona")
        assert refused.exit_code == 1 and f"no ticket {ticket.id}" in refused.output, (args, refused.output)
    assert await sent_to(demo) == []
    shown = await asyncio.to_thread(cli, "show", str(ticket.id), "--tenant", "demo")
    assert shown.exit_code == 0 and "reclamação" in shown.output
