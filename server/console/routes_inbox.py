"""The handoff inbox: open tickets, a ticket's whole conversation, claim, reply, notes, give back to the bot."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from langchain_core.messages import AIMessage, HumanMessage

from graph.guard import TRANSCRIBED_KEY
from memory.repos import customers as customer_repo
from memory.repos import outbound as outbound_repo
from memory.repos.handoffs import HandoffTicket
from server.console.actions import ConversationBusy, give_back_to_bot, send_agent_reply
from server.console.deps import ConsoleDeps
from server.console.pages import (
    Checked,
    ConsoleView,
    Deps,
    View,
    page,
)
from tools.handoff import service as handoffs


def inbox_router() -> APIRouter:
    """The handoff inbox: open tickets, a ticket's whole conversation, claim, reply, notes, give back to the bot."""
    router = APIRouter()

    @router.get("/inbox", response_class=HTMLResponse)
    async def inbox(request: Request, deps: Deps, view: View) -> Response:
        tickets = await handoffs.open_tickets(deps.pool, view.tenant.id)
        return page(request, "inbox.html", view, tickets=tickets)

    @router.get("/inbox/list", response_class=HTMLResponse)
    async def inbox_list(request: Request, deps: Deps, view: View) -> Response:
        tickets = await handoffs.open_tickets(deps.pool, view.tenant.id)
        return page(request, "_tickets.html", view, tickets=tickets)

    @router.get("/inbox/count", response_class=HTMLResponse)
    async def inbox_count(deps: Deps, view: View) -> Response:
        # the nav badge; console.js copies it into the tab title
        tickets = await handoffs.open_tickets(deps.pool, view.tenant.id)
        return HTMLResponse(str(len(tickets)) if tickets else "")

    @router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
    async def ticket_page(request: Request, deps: Deps, view: View, ticket_id: int) -> Response:
        return page(request, "ticket.html", view, **await _ticket_context(deps, view, ticket_id))

    @router.get("/tickets/{ticket_id}/conversation", response_class=HTMLResponse)
    async def ticket_conversation(request: Request, deps: Deps, view: View, ticket_id: int) -> Response:
        return page(request, "_conversation.html", view, **await _ticket_context(deps, view, ticket_id))

    @router.post("/tickets/{ticket_id}/claim")
    async def claim(request: Request, deps: Deps, view: Checked, ticket_id: int) -> Response:
        try:
            await handoffs.claim_ticket(deps.pool, view.tenant.id, ticket_id, view.session.agent_id)
        except handoffs.TicketNotFound:
            raise HTTPException(404, "no such ticket") from None
        except handoffs.TicketTaken as exc:
            context = await _ticket_context(deps, view, ticket_id)
            notice = view.t("claimed_by_other", name=exc.ticket.agent_name or "?")
            return page(request, "ticket.html", view, notice=notice, **context, status_code=409)
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
            return page(request, "ticket.html", view, notice=notice, status_code=409, **context)
        try:
            # replying is claiming: the customer now talks to this person
            await handoffs.claim_ticket(deps.pool, view.tenant.id, ticket_id, view.session.agent_id)
            ticket = await handoffs.record_agent_reply(deps.pool, ticket_id, text, tenant_id=view.tenant.id)
        except handoffs.TicketClosed:
            notice = view.t("ticket_resolved")
            context = await _ticket_context(deps, view, ticket_id)
            return page(request, "ticket.html", view, notice=notice, status_code=409, **context)
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
            return page(request, "ticket.html", view, notice=notice, **context, status_code=409)
        return RedirectResponse("/console/inbox", status_code=303)

    return router


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
