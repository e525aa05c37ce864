"""Long-term memory (issue 13): facts extracted after a turn by a background job, superseded, recalled by hybrid
search, confined to one restaurant's customer, and erased with the customer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fakes.openai_chat import FakeOpenAI
from fakes.scripts import Answer, Script, Seen, Spec
from typer.testing import CliRunner, Result

from comanda.bench_memory import run_memory_bench
from comanda.cli_memory import customers_app
from graph.models import ModelConfig, make_chat_model
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import TenantFields
from server.channels import ConsoleChannel
from server.jobs import JobDeps, MemoryJobs, ensure_schema, make_app, run_jobs
from tools.memory.extract import ModelExtractor, extract_by_rules
from tools.memory.search import recall
from tools.memory.service import forget_customer, list_memories, notes_for_turn, remember_turn

PHONE = "+5511987650001"


async def _tenant(pool: Pool, slug: str, whatsapp: str) -> int:
    async with pool.connection() as conn:
        return (await tenant_repo.insert(conn, TenantFields(slug=slug, name=slug.title(), whatsapp=whatsapp))).id


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(30):
        while not await check():  # noqa: ASYNC110 - the database has no event to wait on
            await asyncio.sleep(0.2)


async def test_a_finished_turn_is_remembered_by_the_jobs_worker_off_the_reply_path(
    db: Pool, database_url: str, embedder: Embedder
) -> None:
    tenant = await _tenant(db, "brasa", "+5511900000001")
    deps = JobDeps(pool=db, notifier=ConsoleChannel(db), embedder=embedder)
    await ensure_schema(database_url, make_app(database_url, deps))
    stop = asyncio.Event()
    worker = asyncio.create_task(run_jobs(database_url, deps, stop, name="mem"))
    try:
        jobs = MemoryJobs(db)
        await jobs.defer(
            tenant, PHONE, ["oi", "sou alérgica a camarão, e a pizza sem cebola sempre tá"], "pt-BR", "SM1"
        )
        # the worker replays a turn whose reply may not have gone out: one extraction, not two
        await jobs.defer(
            tenant, PHONE, ["oi", "sou alérgica a camarão, e a pizza sem cebola sempre tá"], "pt-BR", "SM1"
        )

        async def stored() -> bool:
            async with db.connection() as conn:
                return len(await list_memories(conn, tenant, PHONE)) >= 2

        await _until(stored)
    finally:
        stop.set()
        await worker
    async with db.connection() as conn:
        rows = await list_memories(conn, tenant, PHONE)
        cur = await conn.execute("SELECT embedding IS NOT NULL AS has, search::text AS ts FROM memories")
        columns = await cur.fetchall()
    assert {(r.kind, r.subject) for r in rows} == {
        ("allergy", "allergy:camarao"),
        ("preference", "preference:sem cebola"),
    }
    assert all(r.source_message == "SM1" for r in rows)
    assert all(c["has"] for c in columns) and any("camarao" in c["ts"] for c in columns)


async def test_a_new_fact_about_the_same_thing_replaces_the_old_one_and_keeps_it_as_history(
    db: Pool, embedder: Embedder
) -> None:
    tenant = await _tenant(db, "brasa", "+5511900000001")
    await remember_turn(db, tenant, PHONE, ["moro em Pinheiros"], embedder=embedder, source_message="SM1")
    report = await remember_turn(db, tenant, PHONE, ["agora moro em Perdizes"], embedder=embedder, source_message="SM2")
    again = await remember_turn(db, tenant, PHONE, ["agora moro em Perdizes"], embedder=embedder, source_message="SM3")
    async with db.connection() as conn:
        now = await list_memories(conn, tenant, PHONE)
        past = await list_memories(conn, tenant, PHONE, with_history=True)
    assert report.superseded == 1 and again.stored == []
    assert [m.text for m in now] == ["agora moro em Perdizes"]
    assert [(m.text, m.superseded_at is not None) for m in past] == [
        ("moro em Pinheiros", True),
        ("agora moro em Perdizes", False),
    ]
    assert past[0].superseded_by == past[1].id


def test_rules_find_what_customers_say_about_themselves_and_ignore_one_off_requests() -> None:
    said = [
        "Sou alérgico a camarão e amendoim",
        "quero uma pizza sem cebola",  # only today: not a preference
        "minha pizza favorita é a calabresa!",
        "costumo pedir no trabalho na hora do almoço",
        "a pizza de ontem chegou fria",
        "I'm allergic to peanuts. always without onions please",
    ]
    found = {(m.kind, m.subject) for m in extract_by_rules(said)}
    assert found == {
        ("allergy", "allergy:camarao"),
        ("allergy", "allergy:amendoim"),
        ("favourite", "favourite:calabresa"),
        ("time", "time"),
        ("complaint", None),
        ("allergy", "allergy:peanut"),
        ("preference", "preference:sem onion"),
    }


async def test_hybrid_recall_finds_the_fact_a_question_is_about_for_that_customer_only(
    db: Pool, embedder: Embedder
) -> None:
    brasa = await _tenant(db, "brasa", "+5511900000001")
    kaze = await _tenant(db, "kaze", "+5511900000002")
    await remember_turn(
        db,
        brasa,
        PHONE,
        ["sou alérgica a camarão", "sem cebola sempre", "minha favorita é a margherita", "moro em Pinheiros"],
        embedder=embedder,
    )
    await remember_turn(db, kaze, PHONE, ["sou alérgica a amendoim"], embedder=embedder)
    await remember_turn(db, brasa, "+5511987650002", ["sou vegano"], embedder=embedder)
    async with db.connection() as conn:
        found = await recall(conn, brasa, PHONE, "tem camarão nessa pizza?", embedder=embedder)
        semantic = await recall(conn, brasa, PHONE, "onde eu moro?", embedder=embedder, limit=1)
        at_kaze = await recall(conn, kaze, PHONE, "camarão", embedder=embedder)
        notes = await notes_for_turn(conn, brasa, PHONE)
    assert found[0].memory.subject == "allergy:camarao"
    assert semantic[0].memory.kind == "address"
    # the same phone at another restaurant, and another customer here, never leak in
    assert {r.memory.subject for r in at_kaze} == {"allergy:amendoim"}
    assert all(r.memory.phone == PHONE and r.memory.tenant_id == brasa for r in found)
    assert notes[0].kind == "allergy" and {n.kind for n in notes} == {"allergy", "preference", "favourite", "address"}


async def test_a_turn_carries_the_standing_facts_and_only_the_few_others_its_words_are_about(
    db: Pool, embedder: Embedder
) -> None:
    brasa = await _tenant(db, "brasa", "+5511900000001")
    said = [
        "sou alérgica a camarão",
        "sem cebola sempre",
        "minha favorita é a margherita",
        "moro em Pinheiros",
        "costumo pedir na hora do almoço",
        "a pizza chegou fria",
        "borda de catupiry sempre",
    ]
    await remember_turn(db, brasa, PHONE, said, embedder=embedder)

    async def for_turn(text: str) -> list[str]:
        async with db.connection() as conn:
            notes = await notes_for_turn(conn, brasa, PHONE, text, embed=embedder.query)
        return [n.subject or n.kind for n in notes]

    pizza = await for_turn("quero uma margherita com borda de catupiry")
    # the allergy and "sem cebola" ride along on every turn: the cart tools enforce them
    assert pizza[:2] == ["allergy:camarao", "preference:sem cebola"], pizza
    assert {"favourite:margherita", "preference:com borda catupiry"} <= set(pizza) and len(pizza) == 5, pizza
    where = await for_turn("vocês entregam lá em Pinheiros?")
    assert "address" in where and len(where) == 5, where
    assert where[:2] == ["allergy:camarao", "preference:sem cebola"], where


async def test_erasing_a_customer_deletes_their_memories_and_history_at_that_restaurant_only(
    db: Pool, embedder: Embedder
) -> None:
    brasa = await _tenant(db, "brasa", "+5511900000001")
    kaze = await _tenant(db, "kaze", "+5511900000002")
    await remember_turn(db, brasa, PHONE, ["moro em Pinheiros"], embedder=None)
    await remember_turn(db, brasa, PHONE, ["agora moro em Perdizes"], embedder=None)
    await remember_turn(db, kaze, PHONE, ["moro em Moema"], embedder=None)
    assert await forget_customer(db, brasa, PHONE) == 2
    async with db.connection() as conn:
        assert await list_memories(conn, brasa, PHONE, with_history=True) == []
        assert [m.text for m in await list_memories(conn, kaze, PHONE)] == ["moro em Moema"]


async def test_a_real_model_extracts_with_structured_output_from_the_prompt_in_prompts(db: Pool) -> None:
    tenant = await _tenant(db, "brasa", "+5511900000001")
    seen: list[Seen] = []

    def brain(request: Seen) -> Spec:
        seen.append(request)
        return Answer(
            data={
                "memories": [
                    {"kind": "allergy", "about": "Camarões", "text": "sou alérgica a camarão"},
                    {"kind": "address", "about": "endereço", "text": "agora moro em Pinheiros"},
                ]
            }
        )

    fake = FakeOpenAI(Script(brain), api_key="sk-test")
    async with fake.serve() as url:
        model = make_chat_model(
            ModelConfig(spec="openai:gpt-4o-mini", openai_api_key="sk-test", openai_base_url=f"{url}/v1")
        )
        report = await remember_turn(
            db,
            tenant,
            PHONE,
            ["sou alérgica a camarão, agora moro em Pinheiros"],
            embedder=None,
            extractor=ModelExtractor(model),
        )
    fake.assert_clean()
    assert "anota só os fatos" in seen[0].system and "camarão" in seen[0].last_user_text
    assert {(m.kind, m.subject) for m in report.stored} == {("allergy", "allergy:camarao"), ("address", "address")}


async def test_bench_memory_reports_recall_per_variant_and_latency_as_rows_grow(
    db: Pool, database_url: str, embedder: Embedder
) -> None:
    report = await run_memory_bench(database_url, customers=3, sizes=[300, 600], samples=10, embedder=embedder)
    by_variant = {r.variant: r.recall for r in report.recall}
    assert report.queries >= 3 * 20 and report.memories == 3 * 20
    # on this set the fused ranking is at least as good as either ranking alone, and finds nearly everything
    assert by_variant["hybrid RRF (simple)"] >= max(by_variant["vector only"], by_variant["text only (simple)"])
    assert by_variant["hybrid RRF (simple)"] >= 0.9
    assert [lat.rows for lat in report.latency] == [300, 600]
    assert all(0 < lat.p50_ms <= lat.p95_ms for lat in report.latency)


async def test_cli_lists_one_restaurants_memories_of_a_customer_with_history_on_request(
    db: Pool, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path / "data"))
    brasa = await _tenant(db, "brasa", "+5511900000001")
    kaze = await _tenant(db, "kaze", "+5511900000002")
    await remember_turn(db, brasa, PHONE, ["moro em Pinheiros", "sou alérgica a camarão"], embedder=None)
    await remember_turn(db, brasa, PHONE, ["agora moro em Perdizes"], embedder=None)
    await remember_turn(db, kaze, PHONE, ["sou vegano"], embedder=None)

    def run(*args: str) -> Result:
        return CliRunner().invoke(customers_app, ["memories", "--tenant", "brasa", "--phone", PHONE, *args])

    now = await asyncio.to_thread(run)
    past = await asyncio.to_thread(run, "--history")
    assert now.exit_code == 0, now.output
    assert "agora moro em Perdizes" in now.output and "sou alérgica a camarão" in now.output
    assert "Pinheiros" not in now.output and "vegano" not in now.output
    assert "moro em Pinheiros  (replaced" in past.output


async def test_with_the_offline_model_a_turn_with_nothing_to_remember_queues_no_job(
    db: Pool, database_url: str
) -> None:
    tenant = await _tenant(db, "brasa", "+5511900000001")
    await ensure_schema(database_url, make_app(database_url, JobDeps(pool=db, notifier=ConsoleChannel(db))))
    await MemoryJobs(db).defer(tenant, PHONE, ["quero 2 coca lata", "pix"], "pt-BR", "SM1")
    await MemoryJobs(db).defer(tenant, PHONE, ["sem cebola sempre"], "pt-BR", "SM2")
    await MemoryJobs(db, every_turn=True).defer(tenant, PHONE, ["quero 2 coca lata"], "pt-BR", "SM3")
    async with db.connection() as conn:
        cur = await conn.execute("SELECT args->>'source' AS source FROM procrastinate_jobs ORDER BY id")
        queued = [r["source"] for r in await cur.fetchall()]
    assert queued == ["SM2", "SM3"]
