"""`comanda agents add|list`: staff accounts of the console."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from comanda.cli_common import _run_with_db, _settings, err, out
from memory.db import Pool
from memory.repos import agents as agent_repo
from memory.repos import tenants as tenant_repo
from memory.repos.agents import Agent, EmailTaken, Role
from server.console.auth import SetupLink, UnknownTenant, add_agent

agents_app = typer.Typer(help="Staff accounts of the console (agents and managers).", no_args_is_help=True)


@agents_app.command("add")
def agents_add(
    tenant: Annotated[str, typer.Option("--tenant", help="Restaurant slug.")],
    email: Annotated[str, typer.Option("--email", help="The person's e-mail (their login).")],
    role: Annotated[Role, typer.Option("--role", help="agent: inbox and orders; manager: also menu and staff.")],
    name: Annotated[str, typer.Option("--name", help="The name customers see on replies.")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an account and print its one-time setup link (valid 72 hours): the person chooses a password there."""
    if "@" not in email:
        err.print(f"[bold red]error:[/] {email!r} is not an e-mail address")
        raise typer.Exit(2)
    settings = _settings()

    async def run(pool: Pool) -> SetupLink | str:
        try:
            return await add_agent(
                pool, tenant_slug=tenant, email=email, name=name, role=role, public_base_url=settings.public_base_url
            )
        except UnknownTenant:
            return f"no tenant {tenant!r} (see `comanda tenants list`)"
        except EmailTaken:
            return f"{tenant} already has an account for {email}"

    link = _run_with_db(run)
    if isinstance(link, str):
        err.print(f"[bold red]error:[/] {link}")
        raise typer.Exit(1)
    if as_json:
        out.print_json(json.dumps({"agent": link.agent.model_dump(mode="json"), "setup_url": link.url}))
        return
    out.print(f"{link.agent.role} {link.agent.name} <{link.agent.email}> added to {tenant}.", highlight=False)
    out.print("One-time setup link (send it to them; it works once, for 72 hours):", highlight=False)
    out.print(link.url, markup=False, highlight=False, soft_wrap=True)


@agents_app.command("list")
def agents_list(tenant: Annotated[str, typer.Option("--tenant", help="Restaurant slug.")]) -> None:
    """The restaurant's staff accounts."""

    async def fetch(pool: Pool) -> list[Agent] | None:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, tenant)
            return await agent_repo.list_for_tenant(conn, t.id) if t else None

    found = _run_with_db(fetch)
    if found is None:
        err.print(f"[bold red]error:[/] no tenant {tenant!r}")
        raise typer.Exit(1)
    table = Table("#", "name", "e-mail", "role", "state", "last login", title=f"{tenant} — staff")
    for a in found:
        state = "active" if a.active else "waiting for setup"
        last = a.last_login_at.strftime("%d/%m/%Y %H:%M") if a.last_login_at else "-"
        table.add_row(str(a.id), a.name, a.email, a.role, state, last)
    out.print(table)
