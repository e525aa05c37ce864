"""Helpers shared by the CLI's command modules: consoles, settings, a database for one command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console

from comanda.runtime import prepare_database, start_infra
from comanda.settings import ConfigError, Settings
from memory.db import Pool, open_pool
from memory.migrate import MissingExtensionError

out = Console()
err = Console(stderr=True, soft_wrap=True)  # error lines must stay whole for grep and logs
T = TypeVar("T")


def _settings() -> Settings:
    try:
        settings = Settings()
        settings.check_production_parts()
    except ConfigError as exc:
        err.print(f"[bold red]configuration error:[/] {exc}")
        raise typer.Exit(2) from None
    return settings


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
    except MissingExtensionError as exc:
        err.print(f"[bold red]database error:[/] {exc}")
        raise typer.Exit(2) from None
    finally:
        infra.stop()
