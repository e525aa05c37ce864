"""CLI of the WhatsApp channel: `comanda worker`, `comanda dlq list|retry`, `comanda chat`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from redis.asyncio import Redis
from rich.markup import escape

from comanda.cli_common import _settings, err, out
from comanda.embedded import read_runtime
from comanda.logs import configure_logging
from comanda.runtime import ServiceUnreachable, check_services
from comanda.settings import ConfigError, Settings
from comanda.wiring import queue_settings, webhook_auth_token
from comanda.workers import run_processes, shared_infra
from memory.db import open_pool
from memory.migrate import DatabaseSetupError
from memory.repos import tenants as tenant_repo
from server.queue import InboundQueue

dlq_app = typer.Typer(help="Messages that kept failing (the dead-letter stream).", no_args_is_help=True)


def _infra(settings: Settings) -> tuple[str, str]:
    try:
        infra = shared_infra(settings)
    except ConfigError as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(2) from None
    assert infra.redis_url is not None
    return infra.database_url, infra.redis_url


def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Worker processes to run.")] = 1,
    slots: Annotated[int | None, typer.Option(min=1, help="Conversations each process runs at once.")] = None,
) -> None:
    """Run queue workers as separate processes (same Redis and Postgres as the web server)."""
    settings = _settings()
    database_url, redis_url = _infra(settings)
    try:
        asyncio.run(check_services(database_url, redis_url))
    except (ServiceUnreachable, DatabaseSetupError) as exc:
        err.print(f"[bold red]cannot start:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    configure_logging(settings)
    failed = run_processes(settings, concurrency, slots)
    raise typer.Exit(1 if failed else 0)


def _queue_command(settings: Settings) -> tuple[Redis, InboundQueue]:
    _, redis_url = _infra(settings)
    redis = Redis.from_url(redis_url)
    return redis, InboundQueue(redis, queue_settings(settings))


@dlq_app.command("list")
def dlq_list() -> None:
    """Show the dead letters: conversation, message, attempts, last error."""
    settings = _settings()

    async def run() -> None:
        redis, queue = _queue_command(settings)
        try:
            letters = await queue.dead_letters(limit=1000)
        finally:
            await redis.aclose()
        if not letters:
            out.print("no dead letters")
        for d in letters:
            out.print(
                f"[bold]{d.id}[/] {d.conv} {d.message.message_sid} after {d.attempts} attempts\n"
                f"  text:  {escape(d.message.text()[:200])}\n  error: [red]{escape(d.error)}[/]"
            )

    asyncio.run(run())


@dlq_app.command("retry")
def dlq_retry(
    ids: Annotated[list[str] | None, typer.Argument(help="Dead-letter ids (from `dlq list`).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Retry every dead letter.")] = False,
) -> None:
    """Put dead letters back on their conversations' queues."""
    if not ids and not all_:
        err.print("name the dead letters to retry, or pass --all")
        raise typer.Exit(2)
    settings = _settings()

    async def run() -> int:
        redis, queue = _queue_command(settings)
        try:
            return await queue.retry_dead(None if all_ else ids)
        finally:
            await redis.aclose()

    count = asyncio.run(run())
    out.print(f"requeued {count} message(s)")
    if ids and count < len(ids):
        raise typer.Exit(1)


def chat(
    tenant: Annotated[str, typer.Option(help="Restaurant slug.")] = "demo",
    phone: Annotated[str, typer.Option(help="The customer's phone (E.164).")] = "+5511999990001",
    script: Annotated[Path | None, typer.Option(help="Send one message per line, print the transcript, exit.")] = None,
    trace: Annotated[bool, typer.Option(help="Show route, tool calls and model calls under each reply.")] = False,
    url: Annotated[
        str | None,
        typer.Option(
            help="The server's address (default: the running `comanda serve`'s, else COMANDA_HOST:COMANDA_PORT)."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each reply.")] = 30.0,
) -> None:
    """Chat with a running server as a WhatsApp customer (signed webhooks, the path Twilio uses)."""
    from comanda.chat import ChatSession, ServerNotRunning, run_interactive, run_script, script_lines
    from server.inbound import MalformedWebhook, e164

    settings = _settings()
    running = read_runtime(Path(settings.data_dir))
    chosen = settings.model_fields_set & {"host", "port"}
    # a server started with --port says where it listens in the runtime file; an explicit address still wins
    server_url = (
        url or (None if chosen else running.get("api_url")) or f"http://{settings.host}:{settings.port}"
    ).rstrip("/")
    if "public_base_url" in settings.model_fields_set:
        public = settings.public_base_url
    elif not url and not chosen and running.get("public_base_url"):
        public = running["public_base_url"]  # the URL that server checks signatures against
    else:
        public = server_url
    try:
        phone = e164(phone, "--phone")
    except MalformedWebhook as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    lines = script_lines(script) if script else None
    try:
        infra = shared_infra(settings)
    except ConfigError:
        err.print(_not_running(server_url))
        raise typer.Exit(2) from None

    async def run() -> int:
        pool = await open_pool(infra.database_url, max_size=2, name="chat")
        redis = Redis.from_url(str(infra.redis_url))
        try:
            async with pool.connection() as conn:
                found = await tenant_repo.by_slug(conn, tenant)
            if found is None:
                err.print(f"no restaurant with slug {tenant!r} (see `comanda tenants list`)")
                return 2
            session = ChatSession(
                server_url, public, webhook_auth_token(settings), found, phone, pool, redis, settings.queue_prefix
            )
            try:
                await session.start()
            except ServerNotRunning:
                err.print(_not_running(server_url))
                return 2
            try:
                if lines is not None:
                    return await run_script(session, lines, console=out, trace=trace, timeout_s=timeout)
                return await run_interactive(session, console=out, trace=trace, timeout_s=timeout)
            finally:
                await session.close()
        finally:
            await redis.aclose()
            await pool.close()

    raise typer.Exit(asyncio.run(run()))


def _not_running(server_url: str) -> str:
    return (
        f"No Comanda server answers at {server_url}.\n"
        "Start one in another terminal with `make run` (or `.venv/bin/comanda serve`), then run this again."
    )


def bench_webhook(
    rate: Annotated[float, typer.Option(help="Requests per second.")] = 100,
    duration: Annotated[float, typer.Option(help="Seconds of load.")] = 20,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at most.")] = 32,
    url: Annotated[str | None, typer.Option(help="A running server (default: a throw-away one).")] = None,
    to: Annotated[str, typer.Option(help="The tenant's WhatsApp number (with --url).")] = "+5511900000000",
    paused: Annotated[
        float, typer.Option(help="Seconds of a second run with Postgres frozen (throw-away stack; 0: none).")
    ] = 20,
) -> None:
    """Ack latency (p50/p99) of signed webhooks fired at a fixed rate from this process."""
    from comanda.bench_channel import print_webhook, run_webhook
    from comanda.bench_stack import Stack

    stack = None
    if url:
        settings = _settings()
        public = settings.public_base_url if "public_base_url" in settings.model_fields_set else url
        db, redis = _infra(settings)
        stack = Stack(url.rstrip("/"), public.rstrip("/"), webhook_auth_token(settings), to, db, redis)
    print_webhook(run_webhook(rate, duration, concurrency, stack, paused_s=paused))


def bench_e2e(
    # 400 customers answering at once keep the workers busy (a capacity figure); with --think 3 they offer
    # ~6,500 turns/min at a person's pace (the reply-time figure)
    customers: Annotated[int, typer.Option(help="Simulated customers talking at once.")] = 400,
    turns: Annotated[int, typer.Option(help="Messages each customer sends (at most 12).")] = 12,
    think: Annotated[
        float,
        typer.Option(help="Mean seconds a customer takes to read a reply and send the next message (0: at once)."),
    ] = 0.0,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    slots: Annotated[int, typer.Option(help="Turns per worker process at once.")] = 4,
    coalesce_ms: Annotated[int, typer.Option(help="The coalescing window.")] = 1500,
    timeout: Annotated[float, typer.Option(help="Seconds a customer waits for a reply.")] = 30,
    rounds: Annotated[
        int | None,
        typer.Option(
            help="Conversations each customer has, one after the other (default: 1 without pauses, 2 with --think, "
            "whose customers arrive spread over a conversation's length: the second keeps all of them talking).",
            min=1,
        ),
    ] = None,
) -> None:
    """Turns/min and reply latency through webhook → queue → workers → graph → console channel."""
    from comanda.bench_channel import print_e2e, run_e2e

    rounds = rounds or (2 if think > 0 else 1)
    print_e2e(run_e2e(customers, turns, workers, slots, coalesce_ms, timeout, think, rounds))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add the channel's commands to the main CLI."""
    app.command("worker")(worker)
    app.command("chat")(chat)
    app.add_typer(dlq_app, name="dlq")
    bench_app.command("webhook")(bench_webhook)
    bench_app.command("e2e")(bench_e2e)
