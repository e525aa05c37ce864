"""The `comanda` command line's entry point.

`comanda --help` and `comanda --version` answer from here without importing the service (LangGraph, FastAPI, the
models, boto3: seconds of imports); a command that runs loads the full CLI (comanda/cli_commands.py) first.
The listing below is checked against the full CLI by tests/test_cli_entry.py, so it can't drift.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
from typer._click.core import Command, Context  # typer 0.29 carries its own click: its classes, not click's
from typer.core import TyperCommand, TyperGroup

# commands that set up no logging still warn through logging's last resort: masked from the start
import comanda.logs  # noqa: F401

# the top-level commands as `comanda --help` lists them, in that order
COMMANDS: dict[str, str] = {
    "serve": "Start the service and one queue worker (embedded Postgres and Redis unless DATABASE_URL / REDIS_URL).",
    "migrate": "Apply pending database migrations.",
    "seed": "Import the demo restaurant if the database has no tenant yet.",
    "usage": "A restaurant's conversations in a month against its plan's quota.",
    "worker": "Run queue workers as separate processes (same Redis and Postgres as the web server).",
    "chat": "Chat with a running server as a WhatsApp customer (signed webhooks, the path Twilio uses).",
    "relay": "Publish the outbox to each store's SQS FIFO queue and apply the POS's status updates (COMANDA_POS=sqs).",
    "tenants": "Restaurants (tenants).",
    "menu": "Menus: import and show.",
    "bench": "Benchmarks (scripts that print figures; not tests).",
    "orders": "Orders: list, show, and move them through their life.",
    "handoff": "Handoff tickets: conversations a person must answer.",
    "eval": "The eval suite: scenarios graded by the final database state.",
    "agents": "Staff accounts of the console (agents and managers).",
    "customers": "Customers of a restaurant.",
    "dlq": "Messages that kept failing (the dead-letter stream).",
    "outbox": "Events for the restaurants' POS: follow, list, retry stuck ones.",
}


@cache
def full_cli() -> TyperGroup:
    """The real command tree (imports everything the commands need)."""
    from comanda.cli_commands import app as commands

    group = typer.main.get_command(commands)
    assert isinstance(group, TyperGroup)
    return group


class _Lazy(TyperGroup):
    """Lists the commands from COMMANDS; resolves the one being run from the full CLI."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        # only the listing asks by name here: running goes through resolve_command
        if cmd_name not in COMMANDS:
            return full_cli().get_command(ctx, cmd_name)
        return TyperCommand(cmd_name, help=COMMANDS[cmd_name], short_help=COMMANDS[cmd_name])

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        return full_cli().resolve_command(ctx, args)


def _version() -> str:
    try:
        return version("comanda")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"comanda {_version()}")
        raise typer.Exit()


app = typer.Typer(
    cls=_Lazy,
    help="Comanda: WhatsApp ordering agent for restaurants.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a traceback's locals would show URLs with their passwords
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    """Comanda: WhatsApp ordering agent for restaurants."""


def main(*args: Any) -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
