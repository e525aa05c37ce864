"""`comanda serve`: infrastructure up, database ready, API served; Ctrl-C stops everything cleanly."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn
from rich.console import Console

from comanda.runtime import Infra, open_connections, prepare_database, start_infra
from comanda.settings import Settings
from comanda.wiring import secret_key
from server.app import Resources, create_app
from server.channels import ConsoleChannel
from server.payments import PaymentDeps

console = Console()


def run_server(settings: Settings) -> None:
    """Serve until interrupted; stop the embedded servers we started on the way out."""
    infra = start_infra(settings)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(settings, infra))
    finally:
        infra.stop()
        console.print("[dim]stopped; data kept for the next run[/]")


async def _serve(settings: Settings, infra: Infra) -> None:
    seeded = await prepare_database(infra.database_url, seed_demo=settings.demo_seed)
    conns = await open_connections(settings, infra)
    try:
        payments = PaymentDeps(conns.pool, ConsoleChannel(conns.pool), secret_key(settings), settings.public_base_url)
        app = create_app(Resources(pool=conns.pool, redis=conns.redis, payments=payments))
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
        server = uvicorn.Server(config)
        announce = asyncio.create_task(_announce(server, settings, infra.notes, seeded is not None))
        await server.serve()
        announce.cancel()
    finally:
        await conns.close()


async def _announce(server: uvicorn.Server, settings: Settings, notes: list[str], seeded: bool) -> None:
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes no event for "started"
        await asyncio.sleep(0.05)
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"\n[bold green]Comanda is up[/] at {base}")
    for note in notes:
        console.print(f"  • {note}")
    if seeded:
        console.print("  • seeded the demo restaurant (slug [bold]demo[/])")
    console.print(f"  • model: {settings.model}")
    console.print("\nNext:")
    console.print(f"  • API docs:   {base}/docs      readiness: {base}/readyz")
    console.print("  • the menu:   .venv/bin/comanda menu show --tenant demo")
    console.print("  • stop:       Ctrl-C (the data stays in .comanda/ for the next run)\n")
