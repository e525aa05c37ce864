"""The staff console's routes: thin handlers over the handoff, order and menu services, scoped to the session's
restaurant (another restaurant's id is a 404, whatever is typed into the URL)."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from langchain_core.messages import AIMessage, HumanMessage
from sse_starlette import EventSourceResponse, ServerSentEvent

from graph.guard import TRANSCRIBED_KEY
from memory.repos import agents as agent_repo
from memory.repos import customers as customer_repo
from memory.repos import menu as menu_repo
from memory.repos import orders as order_repo
from memory.repos import outbound as outbound_repo
from memory.repos import tenants as tenant_repo
from memory.repos.handoffs import HandoffTicket
from memory.repos.orders import OrderListRow
from memory.repos.tenants import Tenant
from server.console import auth, dashboard
from server.console.actions import ConversationBusy, give_back_to_bot, send_agent_reply
from server.console.auth import Session, same
from server.console.deps import ConsoleDeps
from server.console.i18n import translator
from tools.handoff import service as handoffs
from tools.menu.hours import DAYS, parse_range
from tools.orders import lifecycle
from tools.orders.lifecycle import IllegalTransition, OrderNotFound, OrderState

HERE = Path(__file__).parent
COOKIE = "comanda_console"
PRE_COOKIE = "comanda_console_pre"  # the login form's CSRF token, before there is a session
CSRF_HEADER = "X-CSRF-Token"
BOARD_COLUMNS: dict[str, tuple[str, ...]] = {
    "awaiting_payment": ("awaiting_payment",),
    "new": ("placed", "paid", "accepted"),
    "preparing": ("preparing",),
    "out_for_delivery": ("out_for_delivery",),
    "done": ("delivered", "cancelled", "refunded"),
}
# the buttons an order card offers, by state (the state machine still decides)
BOARD_MOVES: dict[str, tuple[OrderState, ...]] = {
    "placed": ("preparing", "cancelled"),
    "awaiting_payment": ("cancelled",),
    "paid": ("preparing", "cancelled"),
    "accepted": ("preparing", "cancelled"),
    "preparing": ("out_for_delivery", "cancelled"),
    "out_for_delivery": ("delivered",),
}

templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescape is on for .html


class LoginRequired(Exception):
    """No live session: pages redirect to the login, htmx requests are told to."""


class ConsoleView:
    """What every page gets: the session, its restaurant and the words of its language."""

    def __init__(self, session: Session, tenant: Tenant) -> None:
        self.session = session
        self.tenant = tenant
        self.t = translator(tenant.locale)

    @property
    def manager(self) -> bool:
        """Managers also see the menu and the dashboard."""
        return self.session.role == "manager"


def _deps(request: Request) -> ConsoleDeps:
    deps: ConsoleDeps = request.app.state.console
    return deps


Deps = Annotated[ConsoleDeps, Depends(_deps)]


async def _view(request: Request, deps: Deps) -> ConsoleView:
    session = await deps.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise LoginRequired
    async with deps.pool.connection() as conn:
        tenant = await tenant_repo.by_id(conn, session.tenant_id)
    if tenant is None:
        raise LoginRequired
    return ConsoleView(session, tenant)


async def _checked(request: Request, view: Annotated[ConsoleView, Depends(_view)]) -> ConsoleView:
    """A state-changing request: it must carry the session's CSRF token (header or form field), or 403."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        field = form.get("csrf")
        sent = field if isinstance(field, str) else None
    if not sent or not same(sent, view.session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token")
    return view


View = Annotated[ConsoleView, Depends(_view)]
Checked = Annotated[ConsoleView, Depends(_checked)]


def _manager(view: ConsoleView) -> None:
    if not view.manager:
        raise HTTPException(403, view.t("not_allowed"))


def _page(request: Request, name: str, view: ConsoleView, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    context |= {"view": view, "t": view.t, "csrf": view.session.csrf}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _ago(since: datetime) -> str:
    minutes = int((datetime.now(UTC) - since).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


templates.env.filters["ago"] = _ago


def _brl(value: Decimal | float) -> str:
    return f"R$ {value:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")


templates.env.filters["brl"] = _brl


def console_router() -> APIRouter:
    """Every console route under /console."""
    router = APIRouter(prefix="/console", include_in_schema=False)

    # accounts -------------------------------------------------------------------------------------------------

    @router.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, deps: Deps) -> Response:
        return _login_form(request, deps, "")

    @router.post("/login")
    async def login(
        request: Request,
        deps: Deps,
        restaurant: Annotated[str, Form()],
        email: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        pre = request.cookies.get(PRE_COOKIE, "")
        if not csrf or not pre or not same(csrf, pre):
            raise HTTPException(403, "missing or wrong CSRF token")
        ip = request.client.host if request.client else "-"
        t = translator("pt-BR")
        if await deps.limiter.blocked(restaurant, email, ip):
            return _login_form(request, deps, t("login_blocked"), status=429)
        agent = await auth.check_password(deps.pool, restaurant, email, password)
        if agent is None:
            await deps.limiter.failed(restaurant, email, ip)
            return _login_form(request, deps, t("login_failed"), status=401)
        token, _ = await deps.sessions.start(agent)
        response = RedirectResponse("/console/inbox", status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=deps.session_idle_s,
            httponly=True,
            samesite="lax",
            secure=deps.secure_cookies,
            path="/console",
        )
        response.delete_cookie(PRE_COOKIE, path="/console")
        return response

    @router.post("/logout")
    async def logout(request: Request, deps: Deps, view: Checked) -> Response:
        await deps.sessions.end(request.cookies.get(COOKIE))
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response

    @router.get("/setup/{token}", response_class=HTMLResponse)
    async def setup_page(request: Request, deps: Deps, token: str) -> Response:
        agent = await auth.pending_setup(deps.pool, token)
        return _setup_form(request, deps, token, agent.name if agent else None, "")

    @router.post("/setup/{token}")
    async def setup(
        request: Request,
        deps: Deps,
        token: str,
        password: Annotated[str, Form()],
        password_again: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        pre = request.cookies.get(PRE_COOKIE, "")
        if not csrf or not pre or not same(csrf, pre):
            raise HTTPException(403, "missing or wrong CSRF token")
        pending = await auth.pending_setup(deps.pool, token)
        t = translator("pt-BR")
        if pending is None:
            return _setup_form(request, deps, token, None, "", status=404)
        if password != password_again:
            return _setup_form(request, deps, token, pending.name, t("setup_mismatch"), status=400)
        if len(password) < auth.MIN_PASSWORD:
            return _setup_form(request, deps, token, pending.name, t("setup_short", min=auth.MIN_PASSWORD), 400)
        await auth.setup_account(deps.pool, token, password)
        return RedirectResponse("/console/login", status_code=303)

    # inbox ----------------------------------------------------------------------------------------------------

    @router.get("", include_in_schema=False)
    @router.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse("/console/inbox", status_code=303)

    @router.get("/inbox", response_class=HTMLResponse)
    async def inbox(request: Request, deps: Deps, view: View) -> Response:
        tickets = await handoffs.open_tickets(deps.pool, view.tenant.id)
        return _page(request, "inbox.html", view, tickets=tickets)

    @router.get("/inbox/list", response_class=HTMLResponse)
    async def inbox_list(request: Request, deps: Deps, view: View) -> Response:
        tickets = await handoffs.open_tickets(deps.pool, view.tenant.id)
        return _page(request, "_tickets.html", view, tickets=tickets)

    @router.get("/inbox/count", response_class=HTMLResponse)
    async def inbox_count(deps: Deps, view: View) -> Response:
        # the nav badge; console.js copies it into the tab title
        tickets = await handoffs.open_tickets(deps.pool, view.tenant.id)
        return HTMLResponse(str(len(tickets)) if tickets else "")

    @router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
    async def ticket_page(request: Request, deps: Deps, view: View, ticket_id: int) -> Response:
        return _page(request, "ticket.html", view, **await _ticket_context(deps, view, ticket_id))

    @router.get("/tickets/{ticket_id}/conversation", response_class=HTMLResponse)
    async def ticket_conversation(request: Request, deps: Deps, view: View, ticket_id: int) -> Response:
        return _page(request, "_conversation.html", view, **await _ticket_context(deps, view, ticket_id))

    @router.post("/tickets/{ticket_id}/claim")
    async def claim(request: Request, deps: Deps, view: Checked, ticket_id: int) -> Response:
        try:
            await handoffs.claim_ticket(deps.pool, view.tenant.id, ticket_id, view.session.agent_id)
        except handoffs.TicketNotFound:
            raise HTTPException(404, "no such ticket") from None
        except handoffs.TicketTaken as exc:
            context = await _ticket_context(deps, view, ticket_id)
            notice = view.t("claimed_by_other", name=exc.ticket.agent_name or "?")
            return _page(request, "ticket.html", view, notice=notice, **context, status_code=409)
        except handoffs.TicketClosed:
            pass
        return RedirectResponse(f"/console/tickets/{ticket_id}", status_code=303)

    @router.post("/tickets/{ticket_id}/reply")
    async def reply(
        request: Request, deps: Deps, view: Checked, ticket_id: int, text: Annotated[str, Form()]
    ) -> Response:
        ticket = await _own_ticket(deps, view, ticket_id)
        if ticket.agent_id not in (None, view.session.agent_id):
            notice = view.t("claimed_by_other", name=ticket.agent_name or "?")
            context = await _ticket_context(deps, view, ticket_id)
            return _page(request, "ticket.html", view, notice=notice, status_code=409, **context)
        try:
            # replying is claiming: the customer now talks to this person
            await handoffs.claim_ticket(deps.pool, view.tenant.id, ticket_id, view.session.agent_id)
            ticket = await handoffs.record_agent_reply(deps.pool, ticket_id, text, tenant_id=view.tenant.id)
        except handoffs.TicketClosed:
            notice = view.t("ticket_resolved")
            context = await _ticket_context(deps, view, ticket_id)
            return _page(request, "ticket.html", view, notice=notice, status_code=409, **context)
        except ValueError:
            return RedirectResponse(f"/console/tickets/{ticket_id}", status_code=303)
        await send_agent_reply(deps.pool, ticket, text.strip(), view.session.name, deps.channel)
        return RedirectResponse(f"/console/tickets/{ticket_id}", status_code=303)

    @router.post("/tickets/{ticket_id}/notes")
    async def note(
        request: Request, deps: Deps, view: Checked, ticket_id: int, text: Annotated[str, Form()]
    ) -> Response:
        try:
            await handoffs.add_note(deps.pool, view.tenant.id, ticket_id, view.session.agent_id, text)
        except handoffs.TicketNotFound:
            raise HTTPException(404, "no such ticket") from None
        except ValueError:
            pass
        return RedirectResponse(f"/console/tickets/{ticket_id}", status_code=303)

    @router.post("/tickets/{ticket_id}/resolve")
    async def resolve(request: Request, deps: Deps, view: Checked, ticket_id: int) -> Response:
        try:
            await give_back_to_bot(
                deps.pool,
                deps.queue,
                deps.runner,
                deps.context_for,
                deps.channel,
                ticket_id,
                tenant_id=view.tenant.id,
            )
        except handoffs.TicketNotFound:
            raise HTTPException(404, "no such ticket") from None
        except ConversationBusy:
            notice = view.t("busy")
            context = await _ticket_context(deps, view, ticket_id)
            return _page(request, "ticket.html", view, notice=notice, **context, status_code=409)
        return RedirectResponse("/console/inbox", status_code=303)

    # orders ---------------------------------------------------------------------------------------------------

    @router.get("/orders", response_class=HTMLResponse)
    async def orders_page(request: Request, deps: Deps, view: View) -> Response:
        return _page(request, "orders.html", view, columns=await _board(deps, view), moves=BOARD_MOVES)

    @router.get("/orders/board", response_class=HTMLResponse)
    async def orders_board(request: Request, deps: Deps, view: View) -> Response:
        return _page(request, "_board.html", view, columns=await _board(deps, view), moves=BOARD_MOVES)

    @router.get("/orders/{order_id}", response_class=HTMLResponse)
    async def order_page(request: Request, deps: Deps, view: View, order_id: int) -> Response:
        return _page(request, "order.html", view, **await _order_context(deps, view, order_id))

    @router.get("/orders/{order_id}/print", response_class=HTMLResponse)
    async def order_print(request: Request, deps: Deps, view: View, order_id: int) -> Response:
        return _page(request, "kitchen.html", view, **await _order_context(deps, view, order_id))

    @router.post("/orders/{order_id}/move")
    async def move(request: Request, deps: Deps, view: Checked, order_id: int, to: Annotated[str, Form()]) -> Response:
        if to not in lifecycle.STATES:
            raise HTTPException(400, f"{to!r} is not an order state")
        actor = f"staff:{view.session.name}"
        try:
            if to == "cancelled":
                await lifecycle.cancel(
                    deps.pool,
                    view.tenant.id,
                    order_id,
                    actor=actor,
                    reason=view.t("cancel_reason"),
                    notifier=deps.channel,
                )
            else:
                state: OrderState = to
                await lifecycle.transition(
                    deps.pool, view.tenant.id, order_id, state, actor=actor, notifier=deps.channel
                )
        except OrderNotFound:
            raise HTTPException(404, "no such order") from None
        except IllegalTransition:
            raise HTTPException(409, view.t("illegal_move")) from None
        if request.headers.get("HX-Request"):
            return _page(request, "_board.html", view, columns=await _board(deps, view), moves=BOARD_MOVES)
        return RedirectResponse("/console/orders", status_code=303)

    # menu (manager) -------------------------------------------------------------------------------------------

    @router.get("/menu", response_class=HTMLResponse)
    async def menu_page(request: Request, deps: Deps, view: View) -> Response:
        _manager(view)
        async with deps.pool.connection() as conn:
            items = await menu_repo.list_items(conn, view.tenant.id)
        return _page(request, "menu.html", view, items=items)

    @router.post("/menu/{sku}/available")
    async def set_available(
        request: Request, deps: Deps, view: Checked, sku: str, available: Annotated[bool, Form()]
    ) -> Response:
        _manager(view)
        async with deps.pool.connection() as conn:
            item = await menu_repo.set_available(conn, view.tenant.id, sku, available)
        if item is None:
            raise HTTPException(404, "no such item")
        return RedirectResponse("/console/menu", status_code=303)

    @router.get("/settings", response_class=HTMLResponse)
    async def settings_page(request: Request, view: View) -> Response:
        _manager(view)
        return _settings_page(request, view, view.tenant)

    @router.post("/settings")
    async def save_settings(request: Request, deps: Deps, view: Checked) -> Response:
        _manager(view)
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
        _manager(view)
        async with deps.pool.connection() as conn:
            await tenant_repo.set_bot_paused(conn, view.tenant.id, paused)
        return RedirectResponse("/console/settings", status_code=303)

    @router.get("/staff", response_class=HTMLResponse)
    async def staff_page(request: Request, deps: Deps, view: View) -> Response:
        _manager(view)
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
        _manager(view)
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
        _manager(view)
        board = await dashboard.build(deps.pool, view.tenant, datetime.now(UTC))
        return _page(request, "dashboard.html", view, board=board, cards=_cards(board, view))

    # live updates ---------------------------------------------------------------------------------------------

    @router.get("/events")
    async def events(request: Request, deps: Deps, view: View) -> EventSourceResponse:
        async def stream() -> AsyncIterator[ServerSentEvent]:
            async with deps.events.subscribe(view.tenant.id) as queue:
                yield ServerSentEvent(comment="listening")
                while True:
                    event = await queue.get()
                    yield ServerSentEvent(data=json.dumps(event.model_dump()), event=event.kind)

        return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store"})

    return router


def _login_form(request: Request, deps: ConsoleDeps, error: str, *, status: int = 200) -> HTMLResponse:
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
    t = translator("pt-BR")
    response = templates.TemplateResponse(
        request, "login.html", {"t": t, "csrf": pre, "error": error}, status_code=status
    )
    response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=deps.secure_cookies, path="/console")
    return response


def _setup_form(
    request: Request, deps: ConsoleDeps, token: str, name: str | None, error: str, status: int = 200
) -> HTMLResponse:
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
    t = translator("pt-BR")
    context = {"t": t, "csrf": pre, "error": error, "name": name, "token": token, "min": auth.MIN_PASSWORD}
    response = templates.TemplateResponse(request, "setup.html", context, status_code=404 if name is None else status)
    response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=deps.secure_cookies, path="/console")
    return response


def _cards(board: dashboard.Dashboard, view: ConsoleView) -> list[dict[str, Any]]:
    """One card per figure: today's value, the week's, and a bar a day."""

    def money(v: Decimal | None) -> str:
        return "—" if v is None else _brl(v)

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
    return _page(request, "staff.html", view, status_code=status, staff=staff, notice=notice, link=link)


def _settings_page(
    request: Request, view: ConsoleView, tenant: Tenant, notice: str = "", status: int = 200
) -> HTMLResponse:
    return _page(request, "settings.html", view, status_code=status, shop=tenant, days=DAYS, notice=notice)


async def _own_ticket(deps: ConsoleDeps, view: ConsoleView, ticket_id: int) -> HandoffTicket:
    try:
        return await handoffs.get_ticket(deps.pool, ticket_id, tenant_id=view.tenant.id)
    except handoffs.TicketNotFound:
        raise HTTPException(404, "no such ticket") from None


async def _ticket_context(deps: ConsoleDeps, view: ConsoleView, ticket_id: int) -> dict[str, Any]:
    ticket = await _own_ticket(deps, view, ticket_id)
    snapshot = await deps.runner.graph.aget_state({"configurable": {"thread_id": ticket.thread_id}})
    values = snapshot.values or {}
    history: list[dict[str, Any]] = []
    for m in values.get("messages", []):
        text = m.content if isinstance(m.content, str) else ""
        if isinstance(m, HumanMessage) and text:
            # a voice note's transcription is marked: staff should know those words were heard, not typed
            voice = bool(m.additional_kwargs.get(TRANSCRIBED_KEY))
            history.append({"sender": "customer", "body": text, "voice": voice})
        elif isinstance(m, AIMessage) and text and not m.tool_calls:
            history.append({"sender": "bot", "body": text})
    cart = values.get("cart")
    cart_lines = (
        []
        if cart is None
        else list(getattr(cart, "lines", None) or (cart.get("lines", []) if isinstance(cart, dict) else []))
    )
    async with deps.pool.connection() as conn:
        profile = await customer_repo.profile_by_phone(conn, view.tenant.id, ticket.phone)
        window_open = await outbound_repo.window_open(conn, view.tenant.id, ticket.phone)
    notes = await handoffs.ticket_notes(deps.pool, view.tenant.id, ticket_id)
    return {
        "ticket": ticket,
        "history": history,
        "cart_lines": [_line(line) for line in cart_lines],
        "profile": profile,
        "notes": notes,
        "window_open": window_open,
        "mine": ticket.agent_id == view.session.agent_id,
    }


def _line(line: Any) -> dict[str, Any]:
    get = line.get if isinstance(line, dict) else lambda k, d=None: getattr(line, k, d)
    return {"qty": get("qty", 1), "name": get("name", "?")}


async def _board(deps: ConsoleDeps, view: ConsoleView) -> dict[str, list[OrderListRow]]:
    async with deps.pool.connection() as conn:
        recent = await order_repo.list_recent(conn, view.tenant.id, limit=200)
    columns: dict[str, list[OrderListRow]] = {name: [] for name in BOARD_COLUMNS}
    for order in sorted(recent, key=lambda o: (o.created_at, o.id)):
        for name, states in BOARD_COLUMNS.items():
            if order.status in states:
                columns[name].append(order)
    columns["done"] = columns["done"][-20:]
    return columns


async def _order_context(deps: ConsoleDeps, view: ConsoleView, order_id: int) -> dict[str, Any]:
    async with deps.pool.connection() as conn:
        order = await order_repo.by_id(conn, view.tenant.id, order_id)
        if order is None:
            raise HTTPException(404, "no such order")
        lines = await order_repo.items(conn, view.tenant.id, order_id)
        customer = await customer_repo.by_id(conn, view.tenant.id, order.customer_id)
    return {"order": order, "lines": lines, "customer": customer, "moves": BOARD_MOVES}


def mount_console(app: FastAPI, deps: ConsoleDeps) -> None:
    """Put the console under /console: routes, static files, and the login redirect."""
    app.state.console = deps
    app.include_router(console_router())
    app.mount("/console/static", StaticFiles(directory=str(HERE / "static")), name="console-static")

    async def login_required(request: Request, exc: Exception) -> Response:
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/console/login"})
        return RedirectResponse("/console/login", status_code=303)

    app.add_exception_handler(LoginRequired, login_required)
