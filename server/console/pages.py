"""What every console page shares: the session's view of its restaurant, CSRF-checked requests, templates.

Routes are thin handlers over the handoff, order and menu services, scoped to the session's
restaurant (another restaurant's id is a 404, whatever is typed into the URL)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from memory.repos import tenants as tenant_repo
from memory.repos.tenants import Tenant
from server.console.auth import Session, same
from server.console.deps import ConsoleDeps
from server.console.i18n import translator

HERE = Path(__file__).parent
COOKIE = "comanda_console"
PRE_COOKIE = "comanda_console_pre"  # the login form's CSRF token, before there is a session
CSRF_HEADER = "X-CSRF-Token"
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


def require_manager(view: ConsoleView) -> None:
    """403 unless the session is a manager's."""
    if not view.manager:
        raise HTTPException(403, view.t("not_allowed"))


def page(request: Request, name: str, view: ConsoleView, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A template rendered with the view, its words and the CSRF token."""
    context |= {"view": view, "t": view.t, "csrf": view.session.csrf}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def ago(since: datetime) -> str:
    """How long since, as staff read it on a card ("12 min", "1 h 05 min")."""
    minutes = int((datetime.now(UTC) - since).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


templates.env.filters["ago"] = ago


def brl(value: Decimal | float) -> str:
    """An amount in reais as Brazilians write it ("R$ 1.234,50")."""
    return f"R$ {value:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")


templates.env.filters["brl"] = brl
