"""`comanda serve`: infrastructure up, database ready, API served; Ctrl-C stops everything cleanly."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import uvicorn
from rich.console import Console

from comanda.console_wiring import build_console
from comanda.embedded import record_runtime
from comanda.loop import freeze_startup_heap, run_loop
from comanda.runtime import Infra, check_redis, open_connections, prepare_database, start_infra
from comanda.settings import Settings
from comanda.wiring import (
    asaas_webhook_routes,
    build_relay,
    build_worker,
    close_channel,
    export_links,
    media_signer,
    outbound_channel,
    queue_settings,
    simulated_payment_routes,
    webhook_auth_token,
    with_jobs,
)
from server.abuse import PhoneRateLimit
from server.app import Resources, create_app
from server.queue import InboundQueue
from server.tenants import TenantDirectory
from server.twilio_webhook import TwilioWebhookDeps

console = Console()


def run_server(settings: Settings, *, worker: bool = True) -> None:
    """Serve (with one in-process queue worker unless told not to) until interrupted; stop what we started.

    Raises `ServiceUnreachable` or `DatabaseSetupError` when Redis or Postgres can't be used, before serving.
    """
    if settings.redis_url is not None:
        # before anything starts: a server that can't queue would answer every webhook with 503
        asyncio.run(check_redis(settings.redis_url))
    infra = start_infra(settings)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            run_loop(_serve(settings, infra, worker=worker))
    finally:
        infra.stop()
    console.print("[dim]stopped; data kept for the next run[/]")


async def _serve(settings: Settings, infra: Infra, *, worker: bool) -> None:
    seeded = await prepare_database(infra.database_url, seed_demo=settings.demo_seed)
    conns = await open_connections(settings, infra)
    channel = outbound_channel(settings, conns.pool)
    stop = asyncio.Event()
    worker_task: asyncio.Task[None] | None = None
    # COMANDA_POS=sqs: the outbox goes to SQS from this process too (`comanda relay` can run more elsewhere);
    # with the embedded default nothing leaves Postgres and `comanda outbox tail` shows the events
    relay = build_relay(settings, conns.pool, channel) if settings.pos == "sqs" else None
    relay_task = asyncio.create_task(relay.run(stop)) if relay is not None else None
    try:
        payments = simulated_payment_routes(settings, conns.pool, channel)
        twilio = TwilioWebhookDeps(
            pool=conns.pool,
            queue=InboundQueue(conns.redis, queue_settings(settings)),
            auth_token=webhook_auth_token(settings),
            public_base_url=settings.public_base_url,
            tenants=TenantDirectory(conns.pool),
            limiter=None
            if settings.phone_rate_limit == "off"
            else PhoneRateLimit(conns.redis, settings.phone_rate_limit, settings.queue_prefix),
            notifier=channel,
        )
        app = create_app(
            Resources(
                pool=conns.pool,
                redis=conns.redis,
                payments=payments,
                asaas=asaas_webhook_routes(settings, conns.pool, channel),
                twilio=twilio,
                media=media_signer(settings),
                export_links=export_links(settings),
                console=await build_console(settings, conns.pool, conns.redis, channel),
            )
        )
        if worker:
            worker_task = asyncio.create_task(
                with_jobs(
                    (await build_worker(settings, conns.pool, conns.redis, channel)).run(stop),
                    settings,
                    conns.pool,
                    channel,
                    stop,
                )
            )
        # no log config of uvicorn's own: its error and access logs reach our masked handler, at our level
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None, log_level=None)
        server = uvicorn.Server(config)
        freeze_startup_heap()
        announce = asyncio.create_task(_announce(server, settings, infra.notes, seeded is not None, worker))
        try:
            await server.serve()
        finally:
            announce.cancel()
            record_runtime(Path(settings.data_dir), api_url=None, public_base_url=None)
    finally:
        stop.set()
        if worker_task is not None:
            await worker_task
        if relay_task is not None:
            await relay_task
        await close_channel(channel)
        await conns.close()


async def _announce(server: uvicorn.Server, settings: Settings, notes: list[str], seeded: bool, worker: bool) -> None:
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes no event for "started"
        await asyncio.sleep(0.05)
    # the port actually bound (--port 0 asks the system for one)
    port = server.servers[0].sockets[0].getsockname()[1] if server.servers else settings.port
    base = f"http://{settings.host}:{port}"
    # `comanda chat` finds us here whatever --host/--port said; removed again when we stop
    record_runtime(Path(settings.data_dir), api_url=base, public_base_url=settings.public_base_url)
    console.print(f"\n[bold green]Comanda is up[/] at {base}")
    for note in notes:
        console.print(f"  • {note}")
    if seeded:
        console.print("  • seeded the demo restaurant (slug [bold]demo[/])")
    console.print(f"  • model: {settings.model}")
    console.print(
        f"  • WhatsApp: {'Twilio' if settings.twilio_account_sid else 'console channel (no Twilio credentials)'}"
    )
    console.print(f"  • queue worker: {'in this process' if worker else 'none here: run `comanda worker`'}")
    pos = "SQS FIFO per store (relay in this process)" if settings.pos == "sqs" else "outbox in Postgres"
    console.print(f"  • POS events: {pos}")
    console.print("\nNext:")
    console.print(f"  • API docs:   {base}/docs      readiness: {base}/readyz")
    console.print("  • chat:       .venv/bin/comanda chat --tenant demo --phone +5511999990001")
    console.print("  • the menu:   .venv/bin/comanda menu show --tenant demo")
    console.print("  • stop:       Ctrl-C (the data stays in .comanda/ for the next run)\n")
