"""The staff console's accounts and their safety over real HTTP: setup links, sessions, cookies, CSRF, login limits,
isolation between restaurants, staff added from the console, the handoff CLI confined to one restaurant."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from console_support import (
    CUSTOMER,
    PASSWORD,
    ConsoleStack,
    console_stack,
    hidden_csrf,
    login,
    open_ticket_by_whatsapp,
    sent_to,
)
from redis.asyncio import Redis
from typer.testing import CliRunner

from memory.db import Pool
from memory.repos import handoffs as handoff_repo
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import TenantFields

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def stack(demo: Pool, redis: Redis) -> ConsoleStack:  # type: ignore[misc]
    async with console_stack(demo, redis) as s:
        yield s


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
