"""Helpers shared by the CLI's command modules: consoles, settings, a database for one command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from comanda.runtime import prepare_database, start_infra
from comanda.settings import ConfigError, Settings, load_settings
from memory.db import Pool, open_pool
from memory.migrate import DatabaseSetupError

out = Console()
err = Console(stderr=True, soft_wrap=True)  # error lines must stay whole for grep and logs
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[bold red]configuration error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _run_with_db(work: Callable[[Pool], Awaitable[T]], *, seed_demo: bool = False) -> T:
    """Start what is needed (embedded Postgres unless DATABASE_URL), migrate, run `work`, stop."""
    settings = _settings()
    infra = start_infra(settings, need_redis=False)

    async def main() -> T:
        await prepare_database(infra.database_url, seed_demo=seed_demo)
        pool = await open_pool(infra.database_url, max_size=2, name="cli")
        try:
            return await work(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(main())
    except DatabaseSetupError as exc:
        err.print(f"[bold red]database error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        infra.stop()
