"""The `comanda` commands themselves: serve, migrate, seed, tenants, menu, and the groups other modules add.

Imported only when a command runs (comanda/cli.py answers `--help` and `--version` without it).
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from comanda.cli_common import _run_with_db, _settings, err, out
from comanda.logs import configure_logging
from comanda.runtime import Infra, ServiceUnreachable, start_infra
from memory.db import Pool
from memory.migrate import DatabaseSetupError, migrate
from memory.repos import menu as menu_repo
from memory.repos import tenants as tenant_repo
from tools.menu.menu_file import InvalidMenuFile, parse_csv, parse_json
from tools.money import format_brl

# a traceback's local variables would show URLs with their passwords: errors we expect print one line instead,
# and the unexpected ones print without locals
app = typer.Typer(
    help="Comanda: WhatsApp ordering agent for restaurants.", no_args_is_help=True, pretty_exceptions_show_locals=False
)
tenants_app = typer.Typer(help="Restaurants (tenants).", no_args_is_help=True)
menu_app = typer.Typer(help="Menus: import and show.", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(menu_app, name="menu")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    worker: Annotated[bool, typer.Option(help="Run one queue worker in this process.")] = True,
) -> None:
    """Start the service and one queue worker (embedded Postgres and Redis unless DATABASE_URL / REDIS_URL)."""
    from comanda.serve import run_server

    settings = _settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    if "public_base_url" not in settings.model_fields_set:
        # pay links and webhooks must point at where we actually listen
        settings.public_base_url = f"http://{settings.host}:{settings.port}"
    configure_logging(settings)
    try:
        run_server(settings, worker=worker)
    except (DatabaseSetupError, ServiceUnreachable) as exc:
        err.print(f"[bold red]cannot start:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply pending database migrations."""
    settings = _settings()
    infra: Infra = start_infra(settings, need_redis=False)
    try:
        applied = asyncio.run(migrate(infra.database_url))
    except DatabaseSetupError as exc:
        err.print(f"[bold red]database error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        infra.stop()
    out.print(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@app.command()
def seed() -> None:
    """Import the demo restaurant if the database has no tenant yet."""

    async def count(pool: Pool) -> int:
        async with pool.connection() as conn:
            return len(await tenant_repo.list_all(conn))

    n = _run_with_db(count, seed_demo=True)
    out.print(f"{n} tenant(s) in the database")


@tenants_app.command("add")
def tenants_add(
    slug: Annotated[str, typer.Option(help="Short id used in commands and URLs, e.g. 'pizzaria-do-ze'.")],
    name: Annotated[str, typer.Option(help="Restaurant name shown to customers.")],
    whatsapp: Annotated[str, typer.Option(help="The restaurant's WhatsApp number, e.g. +5511912345678.")],
    address: Annotated[str, typer.Option()] = "",
    timezone: Annotated[str, typer.Option()] = "America/Sao_Paulo",
    locale: Annotated[str, typer.Option()] = "pt-BR",
    delivery_fee: Annotated[str, typer.Option(help="In reais, e.g. 7.50.")] = "0.00",
) -> None:
    """Add a restaurant."""
    from tools.menu.menu_file import RestaurantFile

    try:
        fields = RestaurantFile.model_validate(
            {
                "slug": slug,
                "name": name,
                "whatsapp": whatsapp,
                "address": address,
                "timezone": timezone,
                "locale": locale,
                "delivery_fee": delivery_fee,
            }
        )
    except Exception as exc:
        err.print(f"[bold red]invalid tenant:[/] {exc}")
        raise typer.Exit(2) from None

    async def add(pool: Pool) -> tenant_repo.Tenant | str:
        async with pool.connection() as conn:
            if await tenant_repo.by_slug(conn, slug):
                return f"a tenant with slug {slug!r} already exists"
            if await tenant_repo.by_whatsapp(conn, fields.whatsapp):
                return f"the number {fields.whatsapp} already belongs to another tenant"
            return await tenant_repo.insert(conn, tenant_repo.TenantFields.model_validate(fields.model_dump()))

    result = _run_with_db(add)
    if isinstance(result, str):
        err.print(f"[bold red]error:[/] {result}")
        raise typer.Exit(1)
    out.print(f"added tenant [bold]{result.slug}[/] ({result.name}, {result.whatsapp})")


@tenants_app.command("list")
def tenants_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List restaurants."""

    async def fetch(pool: Pool) -> list[tenant_repo.Tenant]:
        async with pool.connection() as conn:
            return await tenant_repo.list_all(conn)

    rows = _run_with_db(fetch)
    if as_json:
        out.print_json(json.dumps([t.model_dump(mode="json") for t in rows]))
        return
    table = Table("slug", "name", "whatsapp", "locale", "delivery fee")
    for t in rows:
        table.add_row(t.slug, t.name, t.whatsapp, t.locale, format_brl(t.delivery_fee, t.locale))
    out.print(table)


@tenants_app.command("show")
def tenants_show(slug: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show one restaurant's settings."""

    async def fetch(pool: Pool) -> tuple[tenant_repo.Tenant | None, int]:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, slug)
            n = len(await menu_repo.list_items(conn, t.id)) if t else 0
            return t, n

    tenant, n_items = _run_with_db(fetch)
    if tenant is None:
        err.print(f"[bold red]error:[/] no tenant {slug!r} (see `comanda tenants list`)")
        raise typer.Exit(1)
    if as_json:
        out.print_json(json.dumps({**tenant.model_dump(mode="json"), "menu_items": n_items}))
        return
    out.print(f"[bold]{tenant.name}[/] ({tenant.slug})")
    out.print(f"  WhatsApp: {tenant.whatsapp}\n  Address: {tenant.address}\n  Time zone: {tenant.timezone}")
    out.print(f"  Locale: {tenant.locale}\n  Delivery fee: {format_brl(tenant.delivery_fee, tenant.locale)}")
    hours = ", ".join(f"{d} {h}" for d, h in tenant.hours.items()) or "none set"
    out.print(f"  Hours: {hours}\n  Menu items: {n_items}")


@menu_app.command("import")
def menu_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
) -> None:
    """Import a menu (JSON with the restaurant, or CSV for flat menus). All-or-nothing and idempotent."""
    from memory.embeddings import default_embedder
    from tools.menu.importer import ImportReport, import_menu

    text = file.read_text(encoding="utf-8")
    try:
        menu = parse_csv(text) if file.suffix.lower() == ".csv" else parse_json(text)
    except InvalidMenuFile as exc:
        _report_invalid(file, exc)
        raise typer.Exit(1) from None

    async def run(pool: Pool) -> ImportReport:
        return await import_menu(pool, tenant, menu, default_embedder())

    try:
        report = _run_with_db(run)
    except InvalidMenuFile as exc:
        _report_invalid(file, exc)
        raise typer.Exit(1) from None
    if not report.changed:
        out.print(f"{file}: nothing changed ({report.unchanged} items already up to date)")
        return
    if report.tenant_created:
        out.print(f"created tenant [bold]{tenant}[/]")
    elif report.tenant_updated:
        out.print(f"updated the restaurant settings of [bold]{tenant}[/]")
    if report.delivery_areas_updated:
        out.print(f"replaced the delivery areas of [bold]{tenant}[/] (see `comanda tenants delivery-areas`)")
    out.print(
        f"{file}: {len(report.added)} added, {len(report.updated)} updated, {report.unchanged} unchanged, "
        f"{len(report.made_unavailable)} made unavailable"
        + (f" ({', '.join(report.made_unavailable)})" if report.made_unavailable else "")
    )


def _report_invalid(file: Path, exc: InvalidMenuFile) -> None:
    err.print(f"[bold red]{file}: {len(exc.errors)} problem(s), nothing was imported:[/]")
    for e in exc.errors:
        err.print(f"  - {e}", markup=False, highlight=False)


@menu_app.command("show")
def menu_show(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a restaurant's menu by category, with options and availability."""

    async def fetch(pool: Pool) -> tuple[tenant_repo.Tenant | None, list[menu_repo.MenuItem]]:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, tenant)
            return t, (await menu_repo.list_items(conn, t.id) if t else [])

    t, items = _run_with_db(fetch)
    if t is None:
        err.print(f"[bold red]error:[/] no tenant {tenant!r} (see `comanda tenants list`)")
        raise typer.Exit(1)
    if as_json:
        out.print_json(json.dumps([i.model_dump(mode="json", exclude={"tenant_id", "id"}) for i in items]))
        return
    table = Table("sku", "item", "price", "options", "tags", title=f"{t.name} — menu")
    category = None
    for item in items:
        if item.category != category:
            category = item.category
            table.add_section()
            table.add_row("", f"[bold]{category}[/]", "", "", "")
        options = "; ".join(
            f"{g.group} ({g.min}-{g.max}): " + ", ".join(f"{c.name}{_delta(c.price, t.locale)}" for c in g.choices)
            for g in item.options
        )
        if item.removable:
            options += ("; " if options else "") + "sem: " + ", ".join(item.removable)
        name = item.name if item.available else f"[dim strike]{item.name}[/] [red](indisponível)[/]"
        table.add_row(item.sku, name, format_brl(item.price, t.locale), options, ", ".join(item.tags))
    out.print(table)


def _delta(amount: Decimal, locale: str) -> str:
    if amount == 0:
        return ""
    return f" {'+' if amount > 0 else '-'}{format_brl(abs(amount), locale)}"


bench_app = typer.Typer(help="Benchmarks (scripts that print figures; not tests).", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("graph")
def bench_graph(
    conversations: Annotated[int, typer.Option(help="Conversations per set-up.")] = 20,
    turns: Annotated[int, typer.Option(help="Turns per conversation (at least 12).")] = 20,
    database_url: Annotated[str | None, typer.Option(help="Use this database instead of a throw-away one.")] = None,
) -> None:
    """Graph overhead per turn (p50/p95/p99, offline model, Postgres checkpoints) and checkpoint bytes."""
    from comanda.bench_graph import print_report, run

    report = run(turns=turns, conversations=conversations, database_url=database_url)
    print_report(report)


@bench_app.command("faults")
def bench_faults(
    customers: Annotated[int, typer.Option(help="Customers talking at once.")] = 24,
    fault_s: Annotated[float, typer.Option("--fault-s", help="Seconds of faults (a calm follows).")] = 110,
    kills: Annotated[int, typer.Option(help="Worker SIGKILLs at least.")] = 100,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 8,
    pg_outage_s: Annotated[float, typer.Option("--pg-outage-s", help="Seconds Postgres is frozen (0: none).")] = 40,
    seed: Annotated[int | None, typer.Option(help="Seed of the customers' and the killer's dice.")] = None,
    log_dir: Annotated[Path | None, typer.Option(help="Keep worker logs and the report's details here.")] = None,
) -> None:
    """Load with faults (SIGKILLs, Valkey and Postgres restarts, a Postgres outage, 3x and forged webhooks);
    prints faults, messages, replies, lost, duplicated, stuck and max reply delay; exit 1 if any is off."""
    from comanda.fault_harness import FaultConfig, print_report, run_faults

    config = FaultConfig(
        customers=customers,
        fault_s=fault_s,
        kills=kills,
        workers=workers,
        pg_outage_s=pg_outage_s,
        seed=seed,
        log_dir=str(log_dir) if log_dir else None,
    )
    report = run_faults(config)
    print_report(report)
    raise typer.Exit(0 if report.ok else 1)


def _register_subcommands() -> None:
    # imported late: they reuse this module's helpers
    from comanda.cli_agents import agents_app
    from comanda.cli_eval import eval_app
    from comanda.cli_handoff import handoff_app
    from comanda.cli_orders import orders_app
    from comanda.cli_payments import tenants_payments

    tenants_app.command("payments")(tenants_payments)
    from comanda.cli_delivery import tenants_delivery_areas

    tenants_app.command("delivery-areas")(tenants_delivery_areas)

    app.add_typer(orders_app, name="orders")
    app.add_typer(handoff_app, name="handoff")
    app.add_typer(eval_app, name="eval")
    app.add_typer(agents_app, name="agents")
    from comanda.bench_console import register as register_console_bench

    register_console_bench(bench_app)
    from comanda.bench_memory import register as register_memory_bench

    register_memory_bench(bench_app)
    from comanda.cli_usage import usage_cmd

    app.command("usage")(usage_cmd)
    from comanda.cli_memory import customers_app

    app.add_typer(customers_app, name="customers")


_register_subcommands()


def _register_channel_commands() -> None:
    from comanda.cli_channel import register
    from comanda.cli_outbox import register as register_outbox

    register(app, bench_app)
    register_outbox(app, tenants_app, bench_app)


_register_channel_commands()


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
