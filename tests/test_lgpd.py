"""LGPD (issue 14): consent at registration, the customer's copy of their data and its erasure, by WhatsApp (the
real graph with the offline model) and by the staff CLI; after an erasure nothing in the database names them."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from channel_support import PUBLIC, post_signed, twilio_form, wait_traces, webhook_app
from conftest import DEMO_MENU
from conversation_support import OPEN_CLOCK, Chat, make_runner
from psycopg import sql
from redis.asyncio import Redis
from support import live_server
from typer.testing import CliRunner

from comanda.cli_memory import customers_app
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from server.app import Resources, create_app
from server.channels import ConsoleChannel
from server.privacy import privacy_router
from server.queue import InboundQueue, QueueSettings, conversation_key
from server.turns import ConversationTurns
from server.worker import Worker
from tools.context import TurnContext
from tools.memory.service import remember_turn
from tools.menu.importer import import_menu
from tools.menu.menu_file import InvalidMenuFile, parse_json
from tools.orders.lifecycle import transition
from tools.privacy.links import ExportLinks
from tools.privacy.service import erase_customer, purge_refused

PHONE = "+5511955554444"
NAME = "Beatriz Gonçalves"
STREET = "Rua Capote Valente"
SECRET = b"test-secret"
PRIVACY_URL = "https://demo.example.com/privacidade"


@pytest.fixture
async def demo(db: Pool, embedder: Embedder) -> Pool:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        await conn.execute("UPDATE tenants SET privacy_url = %s WHERE slug = 'demo'", (PRIVACY_URL,))
    return db


def _links() -> ExportLinks:
    return ExportLinks(SECRET, PUBLIC)


async def _chat(pool: Pool, phone: str = PHONE) -> Chat:
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    ctx = TurnContext(pool=pool, tenant=tenant, phone=phone, clock=lambda: OPEN_CLOCK, export_links=_links())
    return Chat(await make_runner(pool), ctx)


async def _register(chat: Chat) -> str:
    await chat.say("oi")
    await chat.say(NAME)
    await chat.say(f"{STREET}, 77, apto 12, Pinheiros")
    summary = await chat.say("pular")
    done = await chat.say("sim")
    assert "Cadastro feito" in done, chat.dump()
    return summary


async def _one(pool: Pool, query: str, *args: object) -> object:
    async with pool.connection() as conn:
        cur = await conn.execute(query, args)
        row = await cur.fetchone()
    assert row is not None
    return next(iter(row.values()))


async def test_a_first_registration_shows_the_privacy_notice_and_records_the_consent(demo: Pool) -> None:
    chat = await _chat(demo)
    summary = await _register(chat)
    assert PRIVACY_URL in summary and "guardamos seu nome" in summary, chat.dump()
    async with demo.connection() as conn:
        cur = await conn.execute(
            """SELECT k.notice_version, k.accepted, c.lgpd_consent_at IS NOT NULL AS stamped
                 FROM consents k JOIN customers c ON c.id = k.customer_id WHERE c.phone = %s""",
            (PHONE,),
        )
        rows = await cur.fetchall()
    assert [(r["notice_version"], r["accepted"], r["stamped"]) for r in rows] == [("v1", True, True)]


@pytest.mark.parametrize(
    ("request_text", "answer", "expected"),
    [
        ("apague meus dados", "Você quer que a gente apague todos os seus dados", "erase"),
        ("quero uma cópia dos meus dados", "Posso te mandar um link com uma cópia", "export"),
    ],
)
async def test_privacy_requests_go_to_registration_and_never_into_the_cart(
    demo: Pool, request_text: str, answer: str, expected: str
) -> None:
    chat = await _chat(demo)
    await _register(chat)
    await chat.say("quero 1 coca lata")
    reply = await chat.say(request_text)
    assert answer in reply, chat.dump()
    assert chat.last is not None and chat.last.route is not None and chat.last.route.intent == "registration"
    state = await chat.runner.graph.aget_state({"configurable": {"thread_id": chat.ctx.thread_id}})
    lines = [line.name for line in state.values["cart"].lines]
    assert lines == ["Coca-Cola lata 350ml"], lines
    # "não" drops the request and nothing changes
    assert "não mudei nada" in await chat.say("não"), chat.dump()
    assert await _one(demo, "SELECT count(*) FROM customers WHERE phone = %s", PHONE) == 1
    assert await _one(demo, "SELECT count(*) FROM privacy_audit") == 0


async def test_export_by_whatsapp_sends_a_signed_expiring_link_to_all_the_customers_data(demo: Pool) -> None:
    chat = await _chat(demo)
    await _register(chat)
    await chat.say("quero uma cópia dos meus dados")
    reply = await chat.say("sim")
    url = next((w for w in reply.split() if w.startswith(PUBLIC + "/privacy/export/")), None)
    assert url is not None, chat.dump()
    path = url.removeprefix(PUBLIC)
    now = OPEN_CLOCK
    app = create_app(Resources(pool=demo, redis=None))  # type: ignore[arg-type]
    app.include_router(privacy_router(demo, _links(), clock=lambda: now + timedelta(hours=1)))
    async with live_server(app) as base, httpx.AsyncClient() as http:
        got = await http.get(base + path)
        assert got.status_code == 200, got.text
        doc = got.json()
        assert doc["profile"]["name"] == NAME and doc["phone"] == PHONE
        assert [a["street"] for a in doc["addresses"]] == [STREET]
        assert [(c["notice_version"], c["accepted"]) for c in doc["consents"]] == [("v1", True)]
        assert {"profile", "addresses", "consents", "memories", "orders", "messages"} <= set(doc)
        # the customer's own words, kept only in the conversation's checkpoint, are part of it
        assert {"from": "customer", "text": NAME} in doc["conversation"], doc["conversation"]
        assert got.headers["cache-control"] == "no-store"
        tampered = path[:-3] + ("000" if not path.endswith("000") else "111")
        assert (await http.get(base + tampered)).status_code == 403
    # the API serves the route when the composition root hands it the signer; our link issued a day ago has expired
    served = create_app(Resources(pool=demo, redis=None, export_links=_links()))  # type: ignore[arg-type]
    async with live_server(served) as base, httpx.AsyncClient() as http:
        assert (await http.get(base + path)).status_code == 403
        assert (await http.get(base + "/privacy/export/nope?s=0")).status_code == 403
        assert (await http.get(base + "/privacy/export/nope")).status_code == 400
    # a day later the same link is refused
    late = create_app(Resources(pool=demo, redis=None))  # type: ignore[arg-type]
    late.include_router(privacy_router(demo, _links(), clock=lambda: now + timedelta(hours=25)))
    async with live_server(late) as base, httpx.AsyncClient() as http:
        assert (await http.get(base + path)).status_code == 403
    assert await _one(demo, "SELECT count(*) FROM privacy_audit WHERE action = 'export'") == 1


async def test_export_of_an_unknown_phone_says_no_data_by_whatsapp(demo: Pool) -> None:
    chat = await _chat(demo, "+5511955550000")
    await chat.say("send me my data")
    reply = await chat.say("yes")
    assert "couldn't find any data" in reply, chat.dump()
    assert await _one(demo, "SELECT count(*) FROM privacy_audit") == 0


async def _holding(pool: Pool, needles: list[str]) -> list[str]:
    """Every `table.column` of the public schema (checkpoint tables included) whose value holds one of the needles."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT table_name, column_name, data_type FROM information_schema.columns
                WHERE table_schema = 'public' AND table_name IN (
                      SELECT table_name FROM information_schema.tables
                       WHERE table_schema = 'public' AND table_type = 'BASE TABLE')
                  AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea', 'ARRAY')
                ORDER BY table_name, column_name"""
        )
        columns = [(r["table_name"], r["column_name"], r["data_type"]) for r in await cur.fetchall()]
        found = []
        for table, column, kind in columns:
            col = sql.Identifier(column)
            for needle in needles:
                if kind == "bytea":
                    test = sql.SQL("position(convert_to({n}, 'UTF8') in {c}) > 0").format(c=col, n=needle)
                else:
                    test = sql.SQL("{c}::text ILIKE {n}").format(c=col, n=f"%{needle}%")
                query = sql.SQL("SELECT count(*) AS n FROM {t} WHERE {test}").format(t=sql.Identifier(table), test=test)
                row = await (await conn.execute(query)).fetchone()
                if row and row["n"]:
                    found.append(f"{table}.{column} ({needle})")
    return found


NEEDLES = [PHONE, PHONE.lstrip("+"), "Beatriz", "Gonçalves", STREET, "Capote"]


async def test_after_an_erasure_no_table_holds_the_customers_phone_name_or_address(
    demo: Pool, redis: Redis, embedder: Embedder
) -> None:
    """The whole path (signed webhook, queue, worker, graph, replies): register, order, a memory, then erase."""
    runner = await make_runner(demo)
    async with demo.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None

    def context_for(t: object, phone: str) -> TurnContext:
        assert tenant is not None
        return TurnContext(pool=demo, tenant=tenant, phone=phone, clock=lambda: OPEN_CLOCK, export_links=_links())

    turns = ConversationTurns(demo, runner, ConsoleChannel(demo), context_for, redis)
    settings = QueueSettings(coalesce_quiet_ms=50, coalesce_window_ms=200)
    stop = asyncio.Event()
    task = asyncio.create_task(Worker(InboundQueue(redis, settings), turns, slots=2).run(stop))
    conv = conversation_key(tenant.id, PHONE)
    sent = 0
    try:
        async with live_server(webhook_app(demo, redis, settings)) as base, httpx.AsyncClient() as http:

            async def say(text: str, *, wait: bool = True) -> None:
                nonlocal sent
                got = await post_signed(http, base, twilio_form(text, phone=PHONE, ProfileName="Beatriz"))
                assert got.status_code == 200
                sent += 1
                if wait:
                    await wait_traces(redis, conv, sent)

            for text in ("oi", NAME, f"{STREET}, 77, apto 12, Pinheiros", "pular", "sim"):
                await say(text)
            for text in ("2 x-salada sem cebola e 1 coca lata", "fechar pedido", "dinheiro, troco para 200", "sim"):
                await say(text)
            await remember_turn(demo, tenant.id, PHONE, ["sou alérgica a camarão"], embedder=embedder)
            assert await _one(demo, "SELECT count(*) FROM orders") == 1
            total = await _one(demo, "SELECT total FROM orders")
            metered = await _one(demo, "SELECT count(*) FROM conversation_usage")
            assert metered == 1
            held = await _holding(demo, NEEDLES)
            # the check sees the customer everywhere before: it would catch a table the erasure forgot
            before = ["customers.phone", "addresses.street", "orders.address", "outbound_messages.phone"]
            before += ["checkpoint_blobs.blob", "checkpoints.thread_id", "memories.phone", "outbox.payload"]
            for where in before:
                assert any(h.startswith(where) for h in held), (where, held)

            await say("apague meus dados")
            await say("sim", wait=False)
            deadline = asyncio.get_running_loop().time() + 30
            while not await _one(demo, "SELECT count(*) FROM privacy_audit WHERE action = 'erase'"):
                assert asyncio.get_running_loop().time() < deadline, "no erasure"
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task  # the erasing turn finishes (and cleans up after itself) before the worker stops
    assert await _holding(demo, NEEDLES) == []
    # the order stays for the tax records: its totals, anonymised
    async with demo.connection() as conn:
        cur = await conn.execute("SELECT total, address, status FROM orders")
        orders = await cur.fetchall()
    assert [(o["total"], o["address"]) for o in orders] == [(total, {"erased": True})], orders
    # and the restaurant's metered conversation stays on its bill, without the phone
    assert await _one(demo, "SELECT count(*) FROM conversation_usage") == metered
    # nor does Redis: the conversation's traces are gone, and the queue dropped its stream once done
    assert [k async for k in redis.scan_iter(match=f"*{PHONE}*")] == []
    audit = await _one(demo, "SELECT counts::text FROM privacy_audit")
    assert PHONE not in str(audit) and "Beatriz" not in str(audit)


async def test_apague_meus_dados_three_times_is_one_erasure(demo: Pool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="comanda.privacy")
    chat = await _chat(demo)
    await _register(chat)
    replies = []
    for _ in range(3):
        await chat.say("apague meus dados")
        replies.append(await chat.say("sim"))
    assert "apaguei seus dados" in replies[0], chat.dump()
    assert all("Não encontrei dados seus" in r for r in replies[1:]), chat.dump()
    assert await _one(demo, "SELECT count(*) FROM privacy_audit WHERE action = 'erase'") == 1
    assert await _one(demo, "SELECT count(*) FROM customers") == 0
    # one audit line, with ids and counts only
    lines = [r for r in caplog.records if r.name == "comanda.privacy"]
    assert [r.getMessage() for r in lines] == ["privacy erasure"]
    assert PHONE not in str(vars(lines[0])) and "Beatriz" not in str(vars(lines[0]))


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path / "data"))


def _cli(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(customers_app, list(args), input=stdin)
    return result.exit_code, result.output


async def test_staff_cli_shows_exports_and_forgets_a_customer(demo: Pool, cli_env: None, tmp_path: Path) -> None:
    chat = await _chat(demo)
    await _register(chat)
    who = ("--tenant", "demo", "--phone", PHONE)
    code, shown = await asyncio.to_thread(_cli, "show", *who)
    assert code == 0 and NAME in shown and STREET in shown and "consent v1: accepted" in shown, shown
    # staff may type the number as they read it; what isn't a number is refused
    code, typed = await asyncio.to_thread(_cli, "show", "--tenant", "demo", "--phone", "(11) 95555-4444")
    assert code == 0 and NAME in typed, typed
    assert (await asyncio.to_thread(_cli, "show", "--tenant", "demo", "--phone", "beatriz"))[0] == 2
    target = tmp_path / "export.json"
    code, _ = await asyncio.to_thread(_cli, "export", *who, "-o", str(target))
    assert code == 0 and NAME in target.read_text(encoding="utf-8")
    assert await _one(demo, "SELECT count(*) FROM privacy_audit WHERE action = 'export' AND actor = 'staff'") == 1
    # forget asks first; "n" keeps everything
    code, _ = await asyncio.to_thread(_cli, "forget", *who, stdin="n\n")
    assert code == 1 and await _one(demo, "SELECT count(*) FROM customers") == 1
    code, out = await asyncio.to_thread(_cli, "forget", *who, "--yes")
    assert code == 0 and "erased" in out, out
    assert await _one(demo, "SELECT count(*) FROM customers") == 0
    # now nothing is held: export and show say so with exit code 3, forget again changes nothing
    code, out = await asyncio.to_thread(_cli, "export", *who)
    assert code == 3 and "no data held" in out, out
    code, out = await asyncio.to_thread(_cli, "forget", *who, "--yes")
    assert code == 0 and "nothing held" in out
    assert await _one(demo, "SELECT count(*) FROM privacy_audit WHERE action = 'erase' AND actor = 'staff'") == 1
    code, out = await asyncio.to_thread(_cli, "privacy-notice", "--tenant", "demo", "--url", "https://x.example/p")
    assert code == 0 and "https://x.example/p" in out
    assert await _one(demo, "SELECT privacy_url FROM tenants WHERE slug = 'demo'") == "https://x.example/p"


async def test_a_customer_who_refuses_the_notice_orders_and_is_erased_once_the_order_is_done(demo: Pool) -> None:
    chat = await _chat(demo)
    await chat.say("oi")
    await chat.say(NAME)
    await chat.say(f"{STREET}, 77, apto 12, Pinheiros")
    await chat.say("pular")
    refused = await chat.say("não autorizo")
    assert "não vou guardar seu cadastro" in refused, chat.dump()
    for text in ("2 x-salada sem cebola e 1 coca lata", "fechar pedido", "dinheiro, troco para 200"):
        await chat.say(text)
    placed = await chat.say("sim")
    assert await _one(demo, "SELECT count(*) FROM orders") == 1, chat.dump()
    assert "#" in placed
    assert await _one(demo, "SELECT accepted FROM consents") is False
    # while the order is under way the data stays (the kitchen and the courier need it)
    assert await purge_refused(demo) == 0
    order_id = await _one(demo, "SELECT id FROM orders")
    tenant_id = chat.ctx.tenant.id
    for state in ("preparing", "out_for_delivery", "delivered"):
        await transition(demo, tenant_id, int(str(order_id)), state, actor="staff:test", notify=False)
    assert await purge_refused(demo) == 1
    assert await _one(demo, "SELECT count(*) FROM addresses") == 0
    assert await _one(demo, "SELECT count(*) FROM customers WHERE phone = %s", PHONE) == 0
    assert await _one(demo, "SELECT address::text FROM orders") == '{"erased": true}'
    # a customer who accepted is never purged
    other = await _chat(demo, "+5511955553333")
    await _register(other)
    assert await purge_refused(demo, idle_hours=0) == 0


async def test_the_privacy_link_comes_from_the_menu_file_and_a_file_without_it_keeps_the_one_set(
    db: Pool, embedder: Embedder
) -> None:
    menu = json.loads(DEMO_MENU.read_text())
    menu["restaurant"]["privacy_url"] = "https://demo.example.com/lgpd"
    await import_menu(db, "demo", parse_json(json.dumps(menu)), embedder)
    assert await _one(db, "SELECT privacy_url FROM tenants") == "https://demo.example.com/lgpd"
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    assert await _one(db, "SELECT privacy_url FROM tenants") == "https://demo.example.com/lgpd"
    menu["restaurant"]["privacy_url"] = "javascript:alert(1)"
    with pytest.raises(InvalidMenuFile, match="privacy_url"):
        parse_json(json.dumps(menu))


async def test_two_erasures_at_once_erase_and_audit_once(demo: Pool) -> None:
    """The customer's WhatsApp request and a staff member's `forget` racing: the row lock lets one of them find it."""
    chat = await _chat(demo)
    await _register(chat)
    tenant_id = chat.ctx.tenant.id
    done = await asyncio.gather(
        erase_customer(demo, tenant_id, PHONE, actor="customer"), erase_customer(demo, tenant_id, PHONE, actor="staff")
    )
    assert sorted(d.erased for d in done) == [False, True]
    assert await _one(demo, "SELECT count(*) FROM privacy_audit") == 1
