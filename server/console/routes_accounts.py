"""The console's accounts: login (rate-limited, CSRF before there is a session), logout, first-password setup."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.console import auth
from server.console.auth import same
from server.console.deps import ConsoleDeps
from server.console.i18n import translator
from server.console.pages import (
    COOKIE,
    PRE_COOKIE,
    Checked,
    Deps,
    templates,
)


def accounts_router() -> APIRouter:
    """The console's accounts: login (rate-limited, CSRF before there is a session), logout, first-password setup."""
    router = APIRouter()

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
