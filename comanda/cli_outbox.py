"""`comanda relay`, `comanda outbox tail|list|retry|dead-letters`, `comanda tenants sqs`, `comanda bench relay`:
the POS side of orders."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from comanda.cli_common import _run_with_db, _settings, err, out
from comanda.logs import configure_logging
from comanda.loop import run_loop
from comanda.runtime import prepare_database, start_infra
from comanda.settings import Settings
from comanda.wiring import build_relay, close_channel, outbound_channel
from memory.db import Pool, open_pool
from memory.repos import outbox as outbox_repo
from memory.repos import pos_updates as pos_repo
from memory.repos import tenants as tenant_repo
from memory.repos.outbox import OutboxEvent
from tools.pos.events import UnrenderableEvent, render

outbox_app = typer.Typer(help="Events for the restaurants' POS: follow, list, retry stuck ones.", no_args_is_help=True)
# rows whose transaction may still commit below the last id printed are looked for again this long
_GAP_WAIT_S = 30.0


def _no_tenant(slug: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] no tenant {slug!r} (see `comanda tenants list`)")
    return typer.Exit(1)


async def _tenant_id(pool: Pool, slug: str | None) -> int | None:
    if slug is None:
        return None
    async with pool.connection() as conn:
        t = await tenant_repo.by_slug(conn, slug)
    if t is None:
        raise _no_tenant(slug)
    return t.id


async def _rendered(pool: Pool, store: str, rows: list[OutboxEvent]) -> list[dict[str, Any]]:
    """Rows as the POS receives them (the raw row, with the reason, when it can't be rendered)."""
    by_tenant: dict[int, list[int]] = {}
    for r in rows:
        if r.event_type.startswith("order."):
            by_tenant.setdefault(r.tenant_id, []).append(r.aggregate_id)
    snapshots: dict[tuple[int, int], dict[str, Any]] = {}
    async with pool.connection() as conn:
        for tenant_id, ids in by_tenant.items():
            for oid, snap in (await outbox_repo.order_snapshots(conn, tenant_id, ids)).items():
                snapshots[(tenant_id, oid)] = snap
    shown = []
    for r in rows:
        try:
            shown.append(render(r, store, snapshots.get((r.tenant_id, r.aggregate_id))).model_dump(mode="json"))
        except (UnrenderableEvent, ValidationError, KeyError) as exc:
            shown.append({"outbox_id": r.id, "type": r.event_type, "payload": r.payload, "unrenderable": str(exc)})
    return shown


@outbox_app.command("tail")
def outbox_tail(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    from_start: Annotated[bool, typer.Option("--from-start", help="Print the store's past events first.")] = False,
    limit: Annotated[int | None, typer.Option(help="Stop after this many events.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """Follow a store's events as they commit, one JSON object a line, as the POS receives them."""

    async def follow(pool: Pool) -> int:
        tenant_id = await _tenant_id(pool, tenant)
        assert tenant_id is not None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        async with pool.connection() as conn:
            last = 0 if from_start else await outbox_repo.last_id(conn, tenant_id)
        # ids are taken before commit: a smaller id may still commit after a larger one was printed
        gaps: dict[int, float] = {}
        printed = 0
        deadline = time.monotonic() + timeout if timeout else None
        while not stop.is_set() and (limit is None or printed < limit):
            if deadline and time.monotonic() > deadline:
                break
            async with pool.connection() as conn:
                rows = await outbox_repo.after(conn, tenant_id, last, limit=500)
                if gaps:
                    late = await outbox_repo.after(conn, tenant_id, min(gaps) - 1, limit=500)
                    rows += [e for e in late if e.id in gaps]
            rows.sort(key=lambda e: e.id)
            for event in await _rendered(pool, tenant, rows):
                out.print(json.dumps(event, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)
                printed += 1
                if limit is not None and printed >= limit:
                    break
            now = time.monotonic()
            for r in rows:
                gaps.pop(r.id, None)
                if r.id > last:
                    gaps.update({i: now for i in range(last + 1, r.id)})
                    last = r.id
            gaps = {i: t for i, t in gaps.items() if now - t < _GAP_WAIT_S}
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.3)
        return printed

    _run_with_db(follow)


@outbox_app.command("list")
def outbox_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Tenant slug (all stores if omitted).")] = None,
    stuck: Annotated[bool, typer.Option("--stuck", help="Only events SQS kept refusing.")] = False,
    pending: Annotated[bool, typer.Option("--pending", help="Only events not yet published.")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Events, newest first, with their delivery state and last error."""

    async def fetch(pool: Pool) -> list[OutboxEvent]:
        tenant_id = await _tenant_id(pool, tenant)
        async with pool.connection() as conn:
            return await outbox_repo.listing(conn, tenant_id=tenant_id, stuck=stuck, pending=pending, limit=limit)

    rows = _run_with_db(fetch)
    if as_json:
        out.print_json(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    if not rows:
        out.print("no stuck events" if stuck else "no events")
        return
    table = Table("id", "store", "type", "aggregate", "state", "attempts", "last error", title="outbox")
    for r in rows:
        state = "published" if r.published_at else ("stuck" if r.stuck_at else "pending")
        table.add_row(
            str(r.id),
            str(r.tenant_id),
            r.event_type,
            str(r.aggregate_id),
            state,
            str(r.attempts),
            escape(r.last_error or ""),
        )
    out.print(table)


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Outbox ids (see `comanda outbox list --stuck`).")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Every stuck event of this store.")] = None,
) -> None:
    """Give stuck events another round of attempts, once their cause is fixed."""
    if not ids and tenant is None:
        err.print("[bold red]error:[/] name outbox ids or --tenant SLUG")
        raise typer.Exit(2)

    async def release(pool: Pool) -> int:
        tenant_id = await _tenant_id(pool, tenant)
        async with pool.connection() as conn:
            return await outbox_repo.release_stuck(conn, tenant_id=tenant_id, ids=ids or None)

    n = _run_with_db(release)
    out.print(f"{n} stuck event(s) will be retried")


@outbox_app.command("dead-letters")
def outbox_dead_letters(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Tenant slug (all stores if omitted).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """POS status updates that could not be applied (unknown order, illegal move, unreadable), with the reason."""

    async def fetch(pool: Pool) -> list[pos_repo.DeadLetter]:
        tenant_id = await _tenant_id(pool, tenant)
        async with pool.connection() as conn:
            return await pos_repo.dead_letters(conn, tenant_id)

    rows = _run_with_db(fetch)
    if as_json:
        out.print_json(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table("id", "store", "order", "reason", "body", title="POS dead letters")
    for r in rows:
        table.add_row(str(r.id), str(r.tenant_id), str(r.order_id or "?"), escape(r.reason), escape(r.body[:80]))
    out.print(table)


def tenants_sqs(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    queue_url: Annotated[str | None, typer.Option(help="The store's FIFO queue (Comanda → POS): *.fifo.")] = None,
    status_queue_url: Annotated[
        str | None, typer.Option(help="The FIFO queue the POS answers on (POS → Comanda), ends in .fifo.")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: from the URL, else AWS_REGION).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the store's SQS settings.")] = False,
) -> None:
    """Show or set where a store's POS events go (`tenants.sqs_settings`); AWS credentials come the usual AWS ways."""
    for name, url in (("--queue-url", queue_url), ("--status-queue-url", status_queue_url)):
        if url is not None and not url.endswith(".fifo"):
            err.print(f"[bold red]error:[/] {name} must be a FIFO queue (its URL ends in .fifo): {url}")
            raise typer.Exit(2)

    async def apply(pool: Pool) -> dict[str, Any]:
        tenant_id = await _tenant_id(pool, tenant)
        assert tenant_id is not None
        async with pool.connection() as conn:
            current = (await outbox_repo.sqs_settings_of(conn)).get(tenant_id, ("", {}))[1]
            wanted = {} if clear else dict(current)
            for key, value in (("queue_url", queue_url), ("status_queue_url", status_queue_url), ("region", region)):
                if value is not None:
                    wanted[key] = value
            if wanted != current:
                await outbox_repo.set_sqs_settings(conn, tenant_id, wanted)
            return wanted

    shown = _run_with_db(apply)
    out.print_json(json.dumps(shown))


def relay_cmd(
    once: Annotated[bool, typer.Option("--once", help="Publish what is due, then exit.")] = False,
) -> None:
    """Publish the outbox to each store's SQS FIFO queue and apply the POS's status updates (COMANDA_POS=sqs)."""
    settings = _settings()
    if settings.pos != "sqs":
        err.print(
            "[bold red]error:[/] COMANDA_POS=outbox: events stay in Postgres (`comanda outbox tail`); "
            "set COMANDA_POS=sqs and AWS_REGION to publish them to SQS"
        )
        raise typer.Exit(2)
    configure_logging(settings)
    raise typer.Exit(run_relay(settings, once=once))


def run_relay(settings: Settings, *, once: bool = False) -> int:
    """Run the relay in this process until SIGINT/SIGTERM (or, with `once`, until nothing is due)."""
    infra = start_infra(settings, need_redis=False)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            run_loop(_relay(settings, infra.database_url, once=once))
    finally:
        infra.stop()
    return 0


async def _relay(settings: Settings, database_url: str, *, once: bool) -> None:
    await prepare_database(database_url, seed_demo=False)
    pool = await open_pool(database_url, max_size=settings.relay_publishers + 3, name="relay")
    channel = outbound_channel(settings, pool)
    relay = build_relay(settings, pool, channel)
    try:
        if once:
            published = await relay.drain(timeout_s=300)
            out.print(f"published {published} event(s)")
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        out.print("[bold green]relay running[/]: outbox → SQS FIFO, POS status queues → orders (Ctrl-C stops)")
        await relay.run(stop)
    finally:
        relay.close()
        await close_channel(channel)
        await pool.close()


def bench_relay(
    rate: Annotated[float, typer.Option(help="Orders per second (each makes order.placed and order.paid).")] = 50,
    duration: Annotated[float, typer.Option(help="Seconds of load.")] = 20,
    stores: Annotated[int, typer.Option(help="Stores the orders are spread over.")] = 5,
    publishers: Annotated[int, typer.Option(help="Stores the relay publishes at once.")] = 4,
) -> None:
    """Outbox lag (commit → SQS accepted) p50/p99 and throughput against moto at a steady order rate."""
    from comanda.bench_relay import print_report, run

    report = run(rate=rate, duration_s=duration, stores=stores, publishers=publishers)
    print_report(report)
    raise typer.Exit(0 if report.ok else 1)


def register(app: typer.Typer, tenants_app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add these commands to the main CLI."""
    app.add_typer(outbox_app, name="outbox")
    app.command("relay")(relay_cmd)
    tenants_app.command("sqs")(tenants_sqs)
    bench_app.command("relay")(bench_relay)
