"""`comanda handoff list|show|reply|resolve`: conversations waiting for a person."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from comanda.cli_common import _run_with_db, err, out
from memory.db import Pool
from memory.repos import handoffs as handoff_repo
from memory.repos import tenants as tenant_repo
from memory.repos.handoffs import HandoffTicket
from memory.repos.tenants import Tenant
from tools.handoff.service import TicketClosed, TicketNotFound, get_ticket, record_agent_reply

handoff_app = typer.Typer(help="Handoff tickets: conversations a person must answer.", no_args_is_help=True)
TIME_FORMAT = "%d/%m/%Y %H:%M"


def _when(tenant: Tenant | None, ticket: HandoffTicket) -> str:
    tz = ZoneInfo(tenant.timezone if tenant else "UTC")
    return ticket.opened_at.astimezone(tz).strftime(TIME_FORMAT)


async def _with_tenant(pool: Pool, ticket: HandoffTicket) -> Tenant | None:
    async with pool.connection() as conn:
        return await tenant_repo.by_id(conn, ticket.tenant_id)


async def _scope(pool: Pool, slug: str | None) -> int | None:
    """The id of the restaurant `--tenant` names (None without it): tickets are looked up in it alone."""
    if slug is None:
        return None
    async with pool.connection() as conn:
        t = await tenant_repo.by_slug(conn, slug)
    if t is None:
        # an unknown restaurant has no tickets: the lookup below then says "no ticket"
        return -1
    return t.id


def _print_ticket(ticket: HandoffTicket, tenant: Tenant | None) -> None:
    tz = ZoneInfo(tenant.timezone if tenant else "UTC")
    who = " ".join(p for p in (ticket.customer_name, ticket.phone) if p)
    out.print(
        f"[bold]Ticket #{ticket.id}[/] ({ticket.status}) — {who} — opened {_when(tenant, ticket)}", highlight=False
    )
    out.print(f"  Reason: {ticket.reason}", markup=False, highlight=False)
    out.print("  Summary:", highlight=False)
    for line in ticket.summary.splitlines():
        out.print(f"    {line}", markup=False, highlight=False)
    for m in ticket.messages:
        at = m.created_at.astimezone(tz).strftime("%H:%M")
        out.print(f"  [{at}] {m.sender}: {m.body}", markup=False, highlight=False)


@handoff_app.command("list")
def handoff_list(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    resolved: Annotated[bool, typer.Option("--resolved", help="List resolved tickets instead of open ones.")] = False,
) -> None:
    """Open tickets (oldest first)."""

    async def fetch(pool: Pool) -> tuple[Tenant | None, list[HandoffTicket]]:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, tenant)
            status: Literal["open", "resolved"] = "resolved" if resolved else "open"
            return t, (await handoff_repo.list_tickets(conn, t.id, status=status) if t else [])

    t, tickets = _run_with_db(fetch)
    if t is None:
        err.print(f"[bold red]error:[/] no tenant {tenant!r} (see `comanda tenants list`)")
        raise typer.Exit(1)
    if as_json:
        out.print_json(json.dumps([x.model_dump(mode="json", exclude={"messages"}) for x in tickets]))
        return
    table = Table("#", "opened", "customer", "reason", "summary", title=f"{t.name} — handoff tickets")
    for x in tickets:
        first = x.summary.splitlines()[0] if x.summary else ""
        table.add_row(str(x.id), _when(t, x), " ".join(p for p in (x.customer_name, x.phone) if p), x.reason, first)
    out.print(table)


@handoff_app.command("show")
def handoff_show(
    ticket_id: Annotated[int, typer.Argument(help="Ticket number.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Restaurant slug: refuse a ticket of any other restaurant.")
    ] = None,
) -> None:
    """One ticket with its messages."""

    async def fetch(pool: Pool) -> tuple[HandoffTicket, Tenant | None] | None:
        try:
            ticket = await get_ticket(pool, ticket_id, tenant_id=await _scope(pool, tenant))
        except TicketNotFound:
            return None
        return ticket, await _with_tenant(pool, ticket)

    found = _run_with_db(fetch)
    if found is None:
        err.print(f"[bold red]error:[/] no ticket {ticket_id}")
        raise typer.Exit(1)
    ticket, t = found
    if as_json:
        out.print_json(json.dumps(ticket.model_dump(mode="json")))
        return
    _print_ticket(ticket, t)


@handoff_app.command("reply")
def handoff_reply(
    ticket_id: Annotated[int, typer.Argument(help="Ticket number.")],
    text: Annotated[str, typer.Argument(help="The reply to the customer.")],
    agent: Annotated[str, typer.Option(help="The name the customer sees.")] = "Atendente",
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Restaurant slug: refuse a ticket of any other restaurant.")
    ] = None,
) -> None:
    """Send an agent's reply to the customer and store it on the open ticket."""
    from comanda.cli_common import _settings
    from comanda.handoff_actions import send_agent_reply
    from comanda.wiring import close_channel, outbound_channel

    settings = _settings()

    async def run(pool: Pool) -> HandoffTicket | str:
        try:
            ticket = await record_agent_reply(pool, ticket_id, text, tenant_id=await _scope(pool, tenant))
        except (TicketNotFound, TicketClosed, ValueError) as exc:
            return str(exc)
        # through Twilio when it is configured (a template if the customer's 24-hour window has closed)
        channel = outbound_channel(settings, pool)
        try:
            await send_agent_reply(pool, ticket, text, agent, channel)
        finally:
            await close_channel(channel)
        return ticket

    result = _run_with_db(run)
    if isinstance(result, str):
        err.print(f"[bold red]error:[/] {result}")
        raise typer.Exit(1)
    out.print(f"reply stored on ticket #{result.id} ({len(result.messages)} message(s))")


@handoff_app.command("resolve")
def handoff_resolve(
    ticket_id: Annotated[int, typer.Argument(help="Ticket number.")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Restaurant slug: refuse a ticket of any other restaurant.")
    ] = None,
) -> None:
    """Mark a ticket resolved and give the conversation back to the bot (holding its queue lock)."""
    from comanda.cli_common import _settings
    from comanda.handoff_actions import give_back_to_bot
    from comanda.runtime import open_connections, prepare_database, start_infra
    from comanda.wiring import close_channel, outbound_channel
    from server.console.actions import ConversationBusy

    settings = _settings()
    # the lock lives on the Redis the workers use: REDIS_URL, or the embedded one (started if nobody runs it)
    infra = start_infra(settings)

    async def run() -> tuple[HandoffTicket, list[str]] | str:
        await prepare_database(infra.database_url, seed_demo=False)
        conns = await open_connections(settings, infra)
        channel = outbound_channel(settings, conns.pool)
        try:
            scope = await _scope(conns.pool, tenant)
            return await give_back_to_bot(conns.pool, conns.redis, settings, ticket_id, channel, tenant_id=scope)
        except TicketNotFound:
            return f"no ticket {ticket_id}"
        except ConversationBusy:
            return f"ticket {ticket_id}: a turn of this conversation is still running; try again"
        finally:
            await close_channel(channel)
            await conns.close()

    try:
        done = asyncio.run(run())
    finally:
        infra.stop()
    if isinstance(done, str):
        err.print(f"[bold red]error:[/] {done}")
        raise typer.Exit(1)
    ticket, replies = done
    out.print(f"ticket #{ticket.id} is {ticket.status}; the bot has the conversation again")
    for reply in replies:
        out.print(f"  bot → {ticket.phone}: {reply}", markup=False, highlight=False)
