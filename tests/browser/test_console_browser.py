"""The staff console in Chromium, as staff use it: the live inbox, claiming and replying, giving back to the bot,
the orders board, sold out, another restaurant's ticket, and a phone-sized screen. Takes the README screenshots
(into $COMANDA_SCREENSHOTS when set, e.g. `COMANDA_SCREENSHOTS=docs/console`).

Playwright's async API, because the app, the worker and the databases' clients share the test's event loop.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from channel_support import post_signed, twilio_form
from console_support import PASSWORD, ConsoleStack, Staff, console_stack, wait_for
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from redis.asyncio import Redis

from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import handoffs as handoff_repo
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

ROOT = Path(__file__).resolve().parents[2]
DEMO_MENU = ROOT / "comanda" / "fixtures" / "demo-restaurant.json"
CUSTOMER = "+5511999990001"
# Debian's chromium: Playwright's own browser download can't be reached from these machines. Without it these tests
# fail loudly (they are never skipped); `make install` installs it.
CHROMIUM = os.environ.get("COMANDA_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium, headless."""
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (a stat before anything runs)
        pytest.fail(
            f"no Chromium at {CHROMIUM}: the console's browser tests need Debian's chromium package "
            "(`apt-get install -y chromium`, which `make install` runs); they are never skipped"
        )
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def stack(db: Pool, embedder: Embedder, redis: Redis) -> ConsoleStack:  # type: ignore[misc]
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        await conn.execute("UPDATE tenants SET hours = '{}'::jsonb WHERE slug = 'demo'")
    async with console_stack(db, redis) as s:
        yield s


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("COMANDA_SCREENSHOTS", tmp_path))
    where = where if where.is_absolute() else ROOT / where
    where.mkdir(parents=True, exist_ok=True)
    return where


async def sent_to(pool: Pool, phone: str = CUSTOMER) -> list[str]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT body FROM outbound_messages WHERE phone = %s ORDER BY id", (phone,))
        return [r["body"] for r in await cur.fetchall()]


async def customer_says(stack: ConsoleStack, text: str) -> None:
    async with httpx.AsyncClient() as http:
        r = await post_signed(http, stack.base, twilio_form(text))
        assert r.status_code == 200


async def logged_in(browser: Browser, stack: ConsoleStack, who: Staff, **context: Any) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(base_url=stack.base, **context)
    page = await ctx.new_page()
    await page.goto("/console/login")
    await page.fill("input[name=restaurant]", who.tenant.slug)
    await page.fill("input[name=email]", who.email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(stack.base + "/console/inbox")
    await expect(page.locator("body[data-live='1']")).to_have_count(1)  # the live stream is open
    return ctx, page


async def more_sent_than(pool: Pool, n: int) -> bool:
    return len(await sent_to(pool)) > n


async def test_staff_take_a_handoff_move_an_order_and_mark_sold_out_in_chromium(
    stack: ConsoleStack, browser: Browser, shots: Path
) -> None:
    ana = await stack.staff(stack.demo, "Ana")
    ctx, page = await logged_in(browser, stack, ana, viewport={"width": 1280, "height": 800})

    # the ticket appears without a reload, and the tab title counts it
    await customer_says(stack, "oi")
    await wait_for(lambda: sent_to(stack.pool))
    await customer_says(stack, "quero falar com um atendente")
    ticket = page.locator("[data-ticket]")
    await expect(ticket).to_have_count(1, timeout=20_000)
    await expect(ticket).to_contain_text("waiting" if "en" in stack.demo.locale else "esperando")
    await expect(page).to_have_title("(1) Comanda — equipe", timeout=10_000)
    await page.screenshot(path=str(shots / "inbox.png"))

    # claim it and reply: the reply reaches the customer
    await ticket.locator("a").click()
    await expect(page.locator(".msg.customer").last).to_contain_text("quero falar com um atendente")
    await page.click("text=Assumir")
    await page.locator("[data-quick]").first.click()
    await expect(page.locator("#reply-text")).to_have_value("Oi! Aqui é da equipe, já estou vendo seu pedido.")
    await page.fill("#reply-text", "Oi! Sou a Ana, vou te ajudar.")
    await page.click("text=Enviar")
    await expect(page.locator(".msg.agent").last).to_contain_text("Oi! Sou a Ana, vou te ajudar.")
    assert any("Oi! Sou a Ana, vou te ajudar." in b for b in await sent_to(stack.pool))
    # the customer's next words show up live on the open ticket
    await customer_says(stack, "meu pedido veio frio")
    await expect(page.locator(".msg.customer").last).to_contain_text("meu pedido veio frio", timeout=20_000)
    await page.screenshot(path=str(shots / "ticket.png"), full_page=True)

    # give it back: the bot answers the customer's next message
    await page.click("text=Devolver ao bot")
    await expect(page).to_have_url(stack.base + "/console/inbox")
    await expect(page.locator("[data-ticket]")).to_have_count(0)
    before = len(await sent_to(stack.pool))
    await customer_says(stack, "qual o horário de vocês?")
    await wait_for(lambda: more_sent_than(stack.pool, before))

    # a paid order appears on the board; "Preparar" moves it and tells the customer
    await page.click("nav >> text=Pedidos")
    await expect(page).to_have_url(stack.base + "/console/orders")
    await expect(page.locator("body[data-live='1']")).to_have_count(1)
    async with stack.pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM customers WHERE phone = %s", (CUSTOMER,))
        row = await cur.fetchone()
        customer_id = row["id"] if row else None
        if customer_id is None:
            cur = await conn.execute(
                "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, 'Maria') RETURNING id",
                (stack.demo.id, CUSTOMER),
            )
            inserted = await cur.fetchone()
            assert inserted is not None
            customer_id = inserted["id"]
        cur = await conn.execute(
            """INSERT INTO orders (tenant_id, customer_id, idempotency_key, status, payment_method, subtotal,
                                   delivery_fee, total, address, locale)
               VALUES (%s, %s, 'browser-1', 'paid', 'pix', 40, 5, 45, '{"street": "Rua A", "number": "1"}', 'pt-BR')
               RETURNING id""",
            (stack.demo.id, customer_id),
        )
        order = await cur.fetchone()
        assert order is not None
    card = page.locator(f'[data-column="new"] [data-order="{order["id"]}"]')
    await expect(card).to_be_visible(timeout=20_000)  # live: the page was open before the order existed
    await page.screenshot(path=str(shots / "orders.png"))
    before = len(await sent_to(stack.pool))
    await card.locator("text=Preparar").click()
    await expect(page.locator(f'[data-column="preparing"] [data-order="{order["id"]}"]')).to_be_visible()
    await wait_for(lambda: more_sent_than(stack.pool, before))
    assert "prepar" in (await sent_to(stack.pool))[-1].lower()
    await ctx.close()

    # a manager marks the X-Burger sold out; the bot then says it's unavailable
    rita = await stack.staff(stack.demo, "Rita", role="manager")
    ctx, page = await logged_in(browser, stack, rita)
    await page.click("nav >> text=Cardápio")
    item = page.locator('[data-sku="BG-XBURGER"]')
    await item.locator("button").click()
    await expect(page.locator('[data-sku="BG-XBURGER"]')).to_have_class("sold-out")
    before = len(await sent_to(stack.pool))
    await customer_says(stack, "quero um x-burger")
    await wait_for(lambda: more_sent_than(stack.pool, before))
    assert any("em falta" in b for b in (await sent_to(stack.pool))[before:])
    # the dashboard counts what just happened
    await page.click("nav >> text=Painel")
    await expect(page.locator('[data-figure="dash_handoffs"] [data-today]')).to_have_text("1")
    await expect(page.locator('[data-figure="dash_revenue"] [data-today]')).to_have_text("R$ 45,00")
    await page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    await ctx.close()


async def test_another_restaurants_agent_gets_404_and_a_phone_sized_screen_works(
    stack: ConsoleStack, browser: Browser, shots: Path
) -> None:
    await customer_says(stack, "oi")
    await wait_for(lambda: sent_to(stack.pool))
    await customer_says(stack, "quero falar com um atendente")

    async def ticket_id() -> int | None:
        async with stack.pool.connection() as conn:
            found = await handoff_repo.list_tickets(conn, stack.demo.id)
        return found[0].id if found else None

    tid = await wait_for(ticket_id)

    outsider = await stack.staff(stack.other, "Zeca")
    ctx, page = await logged_in(browser, stack, outsider)
    response = await page.goto(f"/console/tickets/{tid}")
    assert response is not None and response.status == 404
    await page.goto("/console/inbox")
    await expect(page.locator("[data-ticket]")).to_have_count(0)
    await ctx.close()

    ana = await stack.staff(stack.demo, "Ana")
    ctx, page = await logged_in(browser, stack, ana, viewport={"width": 390, "height": 844}, is_mobile=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the inbox scrolls sideways on a phone ({width} px)"
    await page.locator("[data-ticket] a").click()
    await page.click("text=Assumir")
    box = page.locator("#reply-text")
    await expect(box).to_be_visible()
    bounds = await box.bounding_box()
    assert bounds is not None and bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= 390
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await box.fill("Oi! Já vou ver isso.")
    await page.click("text=Enviar")
    await expect(page.locator(".msg.agent").last).to_contain_text("Oi! Já vou ver isso.")
    await page.screenshot(path=str(shots / "ticket-phone.png"), full_page=True)
    await ctx.close()
