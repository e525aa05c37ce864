"""Managers' pages: menu switches, hours and fee, pausing the bot, staff accounts, the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from memory.repos import agents as agent_repo
from memory.repos import menu as menu_repo
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import Tenant
from server.console import auth, dashboard
from server.console.deps import ConsoleDeps
from server.console.pages import (
    Checked,
    ConsoleView,
    Deps,
    View,
    brl,
    page,
    require_manager,
)
from tools.menu.hours import DAYS, parse_range


def manager_router() -> APIRouter:
    """Managers' pages: menu switches, hours and fee, pausing the bot, staff accounts, the dashboard."""
    router = APIRouter()

    @router.get("/menu", response_class=HTMLResponse)
    async def menu_page(request: Request, deps: Deps, view: View) -> Response:
        require_manager(view)
        async with deps.pool.connection() as conn:
            items = await menu_repo.list_items(conn, view.tenant.id)
        return page(request, "menu.html", view, items=items)

    @router.post("/menu/{sku}/available")
    async def set_available(
        request: Request, deps: Deps, view: Checked, sku: str, available: Annotated[bool, Form()]
    ) -> Response:
        require_manager(view)
        async with deps.pool.connection() as conn:
            item = await menu_repo.set_available(conn, view.tenant.id, sku, available)
        if item is None:
            raise HTTPException(404, "no such item")
        return RedirectResponse("/console/menu", status_code=303)

    @router.get("/settings", response_class=HTMLResponse)
    async def settings_page(request: Request, view: View) -> Response:
        require_manager(view)
        return _settings_page(request, view, view.tenant)

    @router.post("/settings")
    async def save_settings(request: Request, deps: Deps, view: Checked) -> Response:
        require_manager(view)
        form = await request.form()
        hours: dict[str, str] = {}
        for day in DAYS:
            value = str(form.get(f"hours_{day}", "")).strip()
            if value:
                try:
                    parse_range(value)
                except ValueError:
                    return _settings_page(request, view, view.tenant, view.t("bad_hours", day=day), 400)
                hours[day] = value
        try:
            fee = Decimal(str(form.get("delivery_fee", "")).strip().replace(",", "."))
        except InvalidOperation:
            fee = Decimal(-1)
        if not fee.is_finite() or fee < 0 or fee > 1000:
            return _settings_page(request, view, view.tenant, view.t("bad_fee"), 400)
        async with deps.pool.connection() as conn:
            tenant = await tenant_repo.set_hours_and_fee(conn, view.tenant.id, hours, fee.quantize(Decimal("0.01")))
        assert tenant is not None
        return _settings_page(request, view, tenant, view.t("saved"))

    @router.post("/settings/bot")
    async def pause_bot(request: Request, deps: Deps, view: Checked, paused: Annotated[bool, Form()]) -> Response:
        require_manager(view)
        async with deps.pool.connection() as conn:
            await tenant_repo.set_bot_paused(conn, view.tenant.id, paused)
        return RedirectResponse("/console/settings", status_code=303)

    @router.get("/staff", response_class=HTMLResponse)
    async def staff_page(request: Request, deps: Deps, view: View) -> Response:
        require_manager(view)
        return await _staff_page(request, deps, view)

    @router.post("/staff")
    async def add_staff(
        request: Request,
        deps: Deps,
        view: Checked,
        email: Annotated[str, Form()],
        name: Annotated[str, Form()] = "",
        role: Annotated[str, Form()] = "agent",
    ) -> Response:
        require_manager(view)
        if role not in ("agent", "manager") or "@" not in email:
            return await _staff_page(request, deps, view, notice=view.t("bad_staff"), status=400)
        try:
            link = await auth.add_agent(
                deps.pool,
                tenant_slug=view.tenant.slug,
                email=email,
                name=name,
                role="manager" if role == "manager" else "agent",
                public_base_url=deps.public_base_url,
            )
        except agent_repo.EmailTaken:
            return await _staff_page(request, deps, view, notice=view.t("staff_taken"), status=409)
        # shown once: only its hash is stored
        return await _staff_page(request, deps, view, link=link.url)

    @router.get("/dashboard", response_class=HTMLResponse)
    async def dashboard_page(request: Request, deps: Deps, view: View) -> Response:
        require_manager(view)
        board = await dashboard.build(deps.pool, view.tenant, datetime.now(UTC))
        return page(request, "dashboard.html", view, board=board, cards=_cards(board, view))

    return router


def _cards(board: dashboard.Dashboard, view: ConsoleView) -> list[dict[str, Any]]:
    """One card per figure: today's value, the week's, and a bar a day."""

    def money(v: Decimal | None) -> str:
        return "—" if v is None else brl(v)

    def share(v: float | None) -> str:
        return "—" if v is None else f"{v * 100:.0f} %"

    def minutes(v: float | None) -> str:
        return "—" if v is None else (f"{v / 60:.1f} min" if v >= 60 else f"{v:.0f} s")

    specs: list[tuple[str, Any, Any]] = [
        ("dash_orders", lambda f: f.orders, str),
        ("dash_revenue", lambda f: f.revenue, money),
        ("dash_average", lambda f: f.average_ticket, money),
        ("dash_conversion", lambda f: f.conversion, share),
        ("dash_handoffs", lambda f: f.handoffs, str),
        ("dash_first_reply", lambda f: f.first_reply_median_s, minutes),
        ("dash_bot_alone", lambda f: f.bot_alone_share, share),
    ]
    return [
        {
            "key": key,
            "label": view.t(key),
            "today": show(get(board.today)),
            "week": show(get(board.week)),
            "chart": dashboard.bars([get(f) for _, f in board.days]),
        }
        for key, get, show in specs
    ]


async def _staff_page(
    request: Request, deps: ConsoleDeps, view: ConsoleView, *, notice: str = "", link: str = "", status: int = 200
) -> HTMLResponse:
    async with deps.pool.connection() as conn:
        staff = await agent_repo.list_for_tenant(conn, view.tenant.id)
    return page(request, "staff.html", view, status_code=status, staff=staff, notice=notice, link=link)


def _settings_page(
    request: Request, view: ConsoleView, tenant: Tenant, notice: str = "", status: int = 200
) -> HTMLResponse:
    return page(request, "settings.html", view, status_code=status, shop=tenant, days=DAYS, notice=notice)
