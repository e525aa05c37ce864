"""`comanda bench console`: N consoles hold the live stream (SSE) of one server process; how fast does a new ticket
reach all of them?

The server (the real app: console routes, Postgres NOTIFY listener, sse-starlette) runs in this process; the
consoles run in a child process (aiohttp), so their CPU isn't charged to the server. The child reports when every
stream is open and, for each ticket, when each console got it; latency is that moment minus the moment the ticket
was committed (wall clock, same machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import statistics
import sys
import time
from typing import Any

import uvicorn
from pydantic import BaseModel
from redis.asyncio import Redis

from memory.db import Pool
from memory.repos import agents as agent_repo
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import TenantFields
from server.app import Resources, create_app
from server.channels import ConsoleChannel
from server.console import auth
from server.console.deps import ConsoleDeps
from server.console.pages import COOKIE
from server.queue import InboundQueue
from tools.handoff import service as handoffs

BENCH_SLUG = "bench-console"


class ConsoleBenchReport(BaseModel):
    """What `bench console` measured."""

    consoles: int
    tickets: int
    deliveries: int  # (console, ticket) pairs that arrived
    expected: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    connect_s: float  # until every console's stream was open


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _NoGraph:
    """The bench never resumes a conversation: a runner that says so if it is ever asked."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("bench console doesn't run conversations")


async def run_console_bench(pool: Pool, redis: Redis, *, consoles: int, tickets: int) -> ConsoleBenchReport:
    """Serve the console, connect `consoles` streams from a child process, open `tickets` tickets one by one."""
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, BENCH_SLUG)
        if tenant is None:
            number = "+55119" + str(secrets.randbelow(10**8)).zfill(8)
            tenant = await tenant_repo.insert(conn, TenantFields(slug=BENCH_SLUG, name="Bench", whatsapp=number))
        agent = next(iter(await agent_repo.list_for_tenant(conn, tenant.id)), None)
    if agent is None:
        link = await auth.add_agent(
            pool,
            tenant_slug=BENCH_SLUG,
            email="bench@console.invalid",
            name="Bench",
            role="agent",
            public_base_url="http://127.0.0.1",
        )
        agent = link.agent
    deps = ConsoleDeps(
        pool=pool,
        redis=redis,
        queue=InboundQueue(redis),
        runner=_NoGraph(),  # type: ignore[arg-type]
        context_for=lambda t, p: None,  # type: ignore[arg-type,return-value]
        channel=ConsoleChannel(pool),
        public_base_url="http://127.0.0.1",
    )
    # sessions made directly: the bench measures the stream, not 200 argon2 logins (which the login limit refuses)
    tokens = [(await deps.sessions.start(agent))[0] for _ in range(consoles)]
    port = _free_port()
    app = create_app(Resources(pool=pool, redis=redis, console=deps))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", backlog=4096)
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "comanda.bench_console",
        f"http://127.0.0.1:{port}/console/events",
        str(tickets),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=2**24,
    )
    assert child.stdin is not None and child.stdout is not None
    opened: dict[int, float] = {}
    try:
        started = time.perf_counter()
        child.stdin.write(("\n".join(tokens) + "\n\n").encode())
        await child.stdin.drain()
        ready = await asyncio.wait_for(child.stdout.readline(), timeout=120)
        if ready.strip() != b"ready":
            raise RuntimeError(f"the consoles didn't connect: {ready!r}")
        connect_s = time.perf_counter() - started
        for n in range(tickets):
            phone = "+55119" + str(secrets.randbelow(10**8)).zfill(8)
            t0 = time.time()
            ticket, _ = await handoffs.open_handoff(
                pool,
                tenant_id=tenant.id,
                thread_id=f"{tenant.id}:{phone}",
                phone=phone,
                customer_id=None,
                reason=f"bench {n}",
                summary="-",
            )
            opened[ticket.id] = t0
            await asyncio.sleep(0.25)  # one ticket at a time, the way they arrive at a restaurant
        child.stdin.write(b"done\n")
        await child.stdin.drain()
        raw = await asyncio.wait_for(child.stdout.readline(), timeout=60)
        arrivals: dict[str, list[float]] = json.loads(raw)
    finally:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
        server.should_exit = True
        await serving
        await deps.close()
        # the bench's tickets mustn't wait in anyone's inbox
        for ticket_id in opened:
            await handoffs.resolve_ticket(pool, ticket_id, tenant_id=tenant.id)
    latencies = [
        (at - opened[int(tid)]) * 1000 for tid, times in arrivals.items() if int(tid) in opened for at in times
    ]
    latencies.sort()
    if not latencies:
        raise RuntimeError("no console received a ticket")
    return ConsoleBenchReport(
        consoles=consoles,
        tickets=tickets,
        deliveries=len(latencies),
        expected=consoles * tickets,
        p50_ms=statistics.median(latencies),
        p95_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))],
        max_ms=latencies[-1],
        connect_s=connect_s,
    )


async def _consoles(url: str, tickets: int) -> None:
    """The child: one SSE stream per session token read from stdin; arrival times per ticket to stdout."""
    import aiohttp

    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tokens: list[str] = []
    while (line := (await reader.readline()).decode().strip()) != "":
        tokens.append(line)
    arrivals: dict[str, list[float]] = {}
    connected = 0
    received = 0
    all_connected = asyncio.Event()
    all_arrived = asyncio.Event()

    async def console(session: aiohttp.ClientSession, token: str) -> None:
        nonlocal connected, received
        async with session.get(url, headers={"Cookie": f"{COOKIE}={token}"}) as r:
            r.raise_for_status()
            kind = ""
            async for raw in r.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith(":") and "listening" in line:
                    connected += 1
                    if connected == len(tokens):
                        all_connected.set()
                elif line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind == "ticket":
                    event = json.loads(line[5:])
                    if event.get("op") == "insert":
                        arrivals.setdefault(str(event["id"]), []).append(time.time())
                        received += 1
                        if received == len(tokens) * tickets:
                            all_arrived.set()

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as session:
        tasks = [asyncio.create_task(console(session, t)) for t in tokens]
        await all_connected.wait()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await reader.readline()  # "done": every ticket was opened
        # whatever hasn't arrived 10 s after the last ticket counts as lost
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_arrived.wait(), timeout=10)
        sys.stdout.write(json.dumps(arrivals) + "\n")
        sys.stdout.flush()
        for task in tasks:
            task.cancel()


def register(bench_app: Any) -> None:
    """Add `comanda bench console` to the bench commands."""
    import typer

    from comanda.cli_common import _settings, out
    from comanda.runtime import open_connections, prepare_database, start_infra

    @bench_app.command("console")
    def bench_console(
        consoles: int = typer.Option(200, min=1, help="Consoles holding the live stream."),
        tickets: int = typer.Option(20, min=1, help="Tickets opened one after another."),
        target_ms: float = typer.Option(500.0, help="p95 the run must stay under."),
    ) -> None:
        """How fast a new ticket reaches every connected console (one server process)."""
        settings = _settings()
        infra = start_infra(settings)

        async def main() -> ConsoleBenchReport:
            await prepare_database(infra.database_url, seed_demo=False)
            conns = await open_connections(settings, infra)
            try:
                return await run_console_bench(conns.pool, conns.redis, consoles=consoles, tickets=tickets)
            finally:
                await conns.close()

        try:
            report = asyncio.run(main())
        finally:
            infra.stop()
        out.print(
            f"{report.consoles} consoles connected in {report.connect_s:.1f} s; {report.tickets} tickets; "
            f"{report.deliveries}/{report.expected} deliveries"
        )
        out.print(
            f"new ticket → console: p50 {report.p50_ms:.0f} ms, p95 {report.p95_ms:.0f} ms, max {report.max_ms:.0f} ms"
        )
        ok = report.deliveries == report.expected and report.p95_ms < target_ms
        out.print(f"target p95 < {target_ms:.0f} ms: {'met' if ok else 'NOT met'}")
        raise typer.Exit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(_consoles(sys.argv[1], int(sys.argv[2])))
