"""The staff console's routes: thin handlers over the handoff, order and menu services, scoped to the session's
restaurant (another restaurant's id is a 404, whatever is typed into the URL)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sse_starlette import EventSourceResponse, ServerSentEvent

from server.console.deps import ConsoleDeps
from server.console.pages import (
    HERE,
    Deps,
    LoginRequired,
    View,
)
from server.console.routes_accounts import accounts_router
from server.console.routes_inbox import inbox_router
from server.console.routes_manager import manager_router
from server.console.routes_orders import orders_router


def console_router() -> APIRouter:
    """Every console route under /console."""
    router = APIRouter(prefix="/console", include_in_schema=False)

    for part in (accounts_router(), inbox_router(), orders_router(), manager_router()):
        router.include_router(part, include_in_schema=False)

    @router.get("", include_in_schema=False)
    @router.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse("/console/inbox", status_code=303)

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
