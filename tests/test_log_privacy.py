"""Logs carry no personal data and no capability URL: the masker itself, then the real stack logging at DEBUG.

A customer's phone, name, address, e-mail, CPF, PIX code and the signatures of their pay and media links must
not appear in any log line; a conversation shows up as its keyed hash (`conv#…`), the same in every process.
"""

from __future__ import annotations

import asyncio
import html
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from channel_support import PUBLIC, TOKEN, post_signed, running_worker, twilio_form, wait_traces, webhook_app
from conftest import DEMO_MENU, ROOT, free_port
from fastapi import FastAPI
from psycopg.rows import dict_row
from redis.asyncio import Redis
from support import live_app, live_server
from test_settings import clean_env

from comanda.embedded import read_runtime
from comanda.logs import MASK, configure_logging
from comanda.settings import Settings
from memory.db import Pool
from memory.embeddings import Embedder
from memory.privacy import PersonalDataFilter, conversation_ref, customer_ref, mask_phone, mask_text, set_hash_key
from memory.repos import tenants as tenant_repo
from server.app import Resources, create_app
from server.channels import ConsoleChannel
from server.media import MediaSigner
from server.payments import PaymentDeps
from server.queue import InboundQueue, QueueSettings
from server.tenants import TenantDirectory
from server.twilio_webhook import TwilioWebhookDeps
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.payments.simulated import SimulatedPayments

PHONE = "+5511987650123"
NAME = "Joaquina Bezerra"
STREET = "Rua dos Girassóis"
ADDRESS = f"{STREET}, 457, Apto 12, Vila Madalena"
EMAIL = "joaquina.bezerra@example.com"
CPF = "529.982.247-25"
SCRIPT = ["oi", NAME, ADDRESS, f"{EMAIL} e meu cpf é {CPF}", "sim", "2 x-salada sem cebola", "fechar pedido", "pix"]
SECRET = "log-privacy-test-secret"
FAST = QueueSettings(coalesce_window_ms=0, reclaim_idle_ms=1500, lock_ttl_ms=1500, max_attempts=3)
OPEN_ALL_DAY = '{"mon":"00:00-23:59","tue":"00:00-23:59","wed":"00:00-23:59","thu":"00:00-23:59",'
OPEN_ALL_DAY += '"fri":"00:00-23:59","sat":"00:00-23:59","sun":"00:00-23:59"}'
# the first reply fails once: the worker then logs the failed turn with its conversation and a traceback
FAIL_FIRST_REPLY = """
    CREATE SEQUENCE IF NOT EXISTS refuse_once;
    CREATE OR REPLACE FUNCTION refuse_once() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN IF nextval('refuse_once') = 1 THEN RAISE EXCEPTION 'outbound store hiccup'; END IF; RETURN NEW; END $$;
    CREATE TRIGGER refuse_once BEFORE INSERT ON outbound_messages FOR EACH ROW EXECUTE FUNCTION refuse_once();
"""
UNDO_FAIL = "DROP TRIGGER IF EXISTS refuse_once ON outbound_messages; DROP FUNCTION IF EXISTS refuse_once();"
UNDO_FAIL += "DROP SEQUENCE IF EXISTS refuse_once"


def personal_data(pix_code: str = "") -> list[str]:
    """Everything of the customer's that a log must never show, in the shapes it travels in."""
    digits = PHONE.lstrip("+")
    cpf_digits = re.sub(r"\D", "", CPF)
    values = [PHONE, digits, digits[2:], "%2B" + digits, NAME, NAME.split()[0], STREET, EMAIL, CPF, cpf_digits]
    return values + ([pix_code, pix_code[:40]] if pix_code else [])


def leaks(text: str, secrets_: list[str]) -> list[str]:
    """The lines of `text` that contain any of `secrets_`, for a readable failure."""
    return [line for line in text.splitlines() if any(s and s in line for s in secrets_)]


# --- the masker ------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def known_key() -> None:
    set_hash_key(SECRET.encode())


@pytest.mark.parametrize(
    ("line", "hidden", "kept"),
    [
        ("lost the lock of 1:+5511999990001 mid-turn", ["+5511999990001", "1:+55"], ["lost the lock of conv#"]),
        ("XREADGROUP comanda:conv:17:+5511999990001", ["5511999990001"], ["comanda:conv:conv#"]),
        ("[to whatsapp:+5511999990001] oi", ["5511999990001"], ["whatsapp:+5511", "01]"]),
        ("From=whatsapp%3A%2B5511999990001&Body=quero+pizza", ["5511999990001", "quero"], ["From=***"]),
        ("ligue (11) 99999-0001 ou +55 11 99999-0001", ["99999-0001"], ["ligue"]),
        ("cpf 529.982.247-25, cpf 52998224725, cnpj 11.222.333/0001-81", ["529.982", "52998224725", "11.222"], []),
        ("e-mail joaquina.bezerra+promo@example.com.br.", ["joaquina", "example.com"], ["<email>."]),
        (
            '"GET /pay/5f1c?sig=0123456789abcdef0123456789abcdef HTTP/1.1" 200',
            ["0123456789abcdef"],
            ["/pay/5f1c?sig=***"],
        ),
        ("GET /media/pix.png?c=MDAwMjAxMjY1OA&s=cafe0123 HTTP/1.1", ["MDAwMjAx", "cafe0123"], ["?c=***&s=***"]),
        ("form sig=cafe0123cafe0123&x=1", ["cafe0123"], ["sig=***&x=1"]),
        # a signed URL inside another key's value, quoted or not
        ("redirect url=https://x.io/pay/1?sig=cafe0123 next", ["cafe0123"], ["url=https://x.io/pay/1?sig=*** next"]),
        ('{"url": "https://x.io/pay/1?sig=cafe0123"}', ["cafe0123"], ['"url": "https://x.io/pay/1?sig=***"']),
        (
            "pix 00020126580014br.gov.bcb.pix0136a1b2c3d4-0000-4000-8000-000000000000520400005303986"
            "540571.305802BR5914Brasa e Forno6009SAO PAULO62070503***6304A1B2 valido",
            ["br.gov.bcb.pix", "Brasa e Forno", "6304A1B2"],
            ["pix <pix> valido"],
        ),
        ("cut pix 00020126580014br.gov.bcb.pix0136a1b2c3d4 Brasa", ["bcb.pix", "a1b2c3d4"], ["cut pix <pix>"]),
        (
            "Customer(name='Joaquina Bezerra', phone='+5511987650123', address=\"Rua dos Girassóis, 457\", id=7)",
            ["Joaquina", "987650123", "Girassóis"],
            ["id=7", "name='***'"],
        ),
        (
            '{"name": "Joaquina \\"Jo\\" Bezerra", "email": "j@x.io", "total": "71.30"}',
            ["Joaquina", "Bezerra"],
            ["71.30"],
        ),
        ("postgresql://comanda:hunter2@db.internal:5432/comanda", ["hunter2"], ["db.internal:5432"]),
        # addresses in free text: the street with its number, a CEP; the neighbourhood alone names nobody
        (
            "entregar em Rua dos Girassóis, 457, Apto 12 (CEP 05432-000) ou na av. paulista 1000",
            ["Girassóis", "457", "05432-000", "paulista"],
            ["entregar em <address>, Apto 12 (CEP <cep>) ou na <address>"],
        ),
        ("R. Augusta, nº 1500 and 221 Baker Street", ["Augusta", "1500", "Baker"], ["<address> and <address>"]),
        (
            "name\n  String should have at most 5 characters [type=string_too_long, input_value='Joaquina B', "
            "input_type=str]",
            ["Joaquina"],
            ["type=string_too_long", "input_type=str"],
        ),
        # what must survive: prices, dates, Redis stream ids, epoch seconds, order and message ids
        (
            "order #42 R$ 71,30 at 2026-11-20 23:00:00 stream 1712345678901-0 ts 1712345678 SM0123abcd",
            [],
            ["#42", "R$ 71,30", "2026-11-20 23:00:00", "1712345678901-0", "1712345678", "SM0123abcd"],
        ),
    ],
)
def test_the_masker_hides_personal_data_and_keeps_the_rest(line: str, hidden: list[str], kept: list[str]) -> None:
    masked = mask_text(line)
    assert not [h for h in hidden if h in masked], masked
    assert all(k in masked for k in kept), masked


def test_a_conversation_hash_is_stable_keyed_and_names_the_thread_id_in_any_line() -> None:
    ref = conversation_ref("1:+5511999990001")
    assert re.fullmatch(r"conv#[0-9a-f]{10}", ref)
    assert customer_ref(1, "+5511999990001") == ref != conversation_ref("2:+5511999990001")
    assert mask_text("turn of 1:+5511999990001 failed") == f"turn of {ref} failed"
    set_hash_key(b"another deployment")
    assert conversation_ref("1:+5511999990001") != ref  # without the key, nobody can recompute it from a phone
    assert mask_phone("+5511999990001") == "+5511*****0001"  # the last 4 tell two customers apart in a log
    assert mask_phone("11999990001") == "*******0001"


def _record(msg: object, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("comanda.test", logging.WARNING, __file__, 1, msg, args or None, None)
    record.__dict__.update(extra)
    return record


def test_the_filter_masks_args_split_patterns_extras_tracebacks_and_bad_formats() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(PersonalDataFilter())
    handler.setFormatter(logging.Formatter("%(message)s %(customer_name)s"))
    try:
        raise ValueError(f"no customer {PHONE} at {EMAIL}")
    except ValueError:
        exc_info = sys.exc_info()
    records = [
        _record("turn of %s failed (attempt %d)", f"1:{PHONE}", 2, customer_name=NAME),
        _record("conversation %s:%s", 1, PHONE, customer_name="-"),  # the thread id only exists once formatted
        _record("pay here: %s?sig=%s", "/pay/abc", "cafe0123cafe0123", customer_name="-"),
        _record("%(phone)s asked", {"phone": PHONE}, customer_name="-"),
        _record("bad format %d", PHONE, customer_name="-"),
        _record("boom", customer_name="-"),
    ]
    records[-1].exc_info = exc_info
    for r in records:
        handler.handle(r)
    text = out.getvalue()
    assert not leaks(text, [*personal_data(), "cafe0123"]), text
    assert text.count(customer_ref(1, PHONE)) == 2 and "ValueError: no customer +5511" in text
    assert "pay here: /pay/abc?sig=***" in text and "(attempt 2)" in text


def test_a_command_that_sets_up_no_logging_still_masks_its_warnings(tmp_path: Path) -> None:
    # what `comanda chat`, `comanda dlq ...` and friends print through logging's last-resort handler
    code = f"import logging, comanda.cli; logging.getLogger('x').warning('turn of 1:{PHONE} failed for {EMAIL}')"
    run = subprocess.run(
        [sys.executable, "-c", code], env=clean_env(tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "turn of conv#" in run.stderr and "<email>" in run.stderr
    assert not leaks(run.stderr, personal_data()), run.stderr


# --- the real stack, in this process ---------------------------------------------------------------------------


@pytest.fixture
async def demo(db: Pool, embedder: Embedder) -> Pool:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        await conn.execute("UPDATE tenants SET hours = %s::jsonb", (OPEN_ALL_DAY,))
    return db


@pytest.fixture
def captured(tmp_path: Path) -> Iterator[io.StringIO]:
    """Our processes' logging (`configure_logging`) at DEBUG, written to a buffer; undone afterwards."""
    root = logging.getLogger()
    level = root.level
    last_resort_masked = logging.lastResort is not None and MASK in logging.lastResort.filters
    out = io.StringIO()
    settings = Settings(data_dir=tmp_path, log_level="DEBUG", secret_key=SECRET)
    handler = configure_logging(settings, stream=out)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
            for h in logging.getLogger(name).handlers:
                h.removeFilter(MASK)
        if logging.lastResort is not None and not last_resort_masked:
            logging.lastResort.removeFilter(MASK)


@dataclass
class Order:
    pix_code: str
    pay_url: str
    media_url: str


async def _order_by_pix(pool: Pool, redis: Redis, base: str, post: httpx.AsyncClient, tenant_id: int) -> Order:
    conv = f"{tenant_id}:{PHONE}"
    for n, text in enumerate([*SCRIPT, "sim"], start=1):
        assert (await post_signed(post, base, twilio_form(text, phone=PHONE, ProfileName=NAME))).status_code == 200
        await wait_traces(redis, conv, n)
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT pix_code, pay_url FROM payments")
        payment = await cur.fetchone()
        cur = await conn.execute("SELECT media_url FROM outbound_messages WHERE media_url IS NOT NULL")
        media = await cur.fetchone()
    assert payment and payment["pix_code"] and media, "the conversation did not end in a PIX order"
    return Order(payment["pix_code"], payment["pay_url"], media["media_url"])


@dataclass
class Shop:
    """What the app serving on a loopback port hands out; made once its address is known."""

    payments: SimulatedPayments | None = None
    media: MediaSigner | None = None


async def test_a_pix_order_through_the_real_stack_logs_no_personal_data_at_debug(
    demo: Pool, redis: Redis, captured: io.StringIO
) -> None:
    async with demo.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
        await conn.execute(FAIL_FIRST_REPLY)
    assert tenant is not None
    secret = SECRET.encode()
    shop = Shop()

    def make_app(base: str) -> FastAPI:
        shop.payments, shop.media = SimulatedPayments(base, secret), MediaSigner(secret, base)
        twilio = TwilioWebhookDeps(
            pool=demo,
            queue=InboundQueue(redis, FAST),
            auth_token=TOKEN,
            public_base_url=PUBLIC,
            tenants=TenantDirectory(demo),
        )
        payments = PaymentDeps(demo, ConsoleChannel(demo), secret, base)
        return create_app(Resources(pool=demo, redis=redis, twilio=twilio, payments=payments, media=shop.media))

    try:
        async with live_app(make_app) as base, httpx.AsyncClient() as http:
            async with running_worker(demo, redis, FAST, payments=shop.payments, media=shop.media):
                order = await _order_by_pix(demo, redis, base, http, tenant.id)
            page = await http.get(order.pay_url)
            assert page.status_code == 200 and html.escape(order.pix_code) in page.text
            image = await http.get(order.media_url)
            assert image.status_code == 200 and image.headers["content-type"] == "image/png"
            sig = parse_qs(urlsplit(order.pay_url).query)["sig"][0]
            paid = await http.post(order.pay_url.split("?")[0], data={"sig": sig})
            assert paid.status_code == 303
    finally:
        async with demo.connection() as conn:
            await conn.execute(UNDO_FAIL)
    text = captured.getvalue()
    media = parse_qs(urlsplit(order.media_url).query)
    assert not leaks(text, [*personal_data(order.pix_code), sig, media["s"][0], media["c"][0]])
    # what the log must not show did flow through this conversation: saved, and sent back to the customer
    async with demo.connection() as conn:
        cur = await conn.execute("SELECT email FROM customers WHERE phone = %s", (PHONE,))
        customer = await cur.fetchone()
        cur = await conn.execute("SELECT body FROM outbound_messages WHERE phone = %s ORDER BY id", (PHONE,))
        received = "\n".join(row["body"] for row in await cur.fetchall())
    assert customer and customer["email"] == EMAIL
    assert STREET in received and order.pix_code in received and NAME.split()[0] in received, received
    # every level reached the log, DEBUG included, from libraries and from us
    levels = {json.loads(line)["level"] for line in text.splitlines() if line.startswith("{")}
    assert {"debug", "info", "error"} <= levels, levels
    ref = customer_ref(tenant.id, PHONE)
    # the worker's warning about the failed turn names the conversation, by its hash
    assert [line for line in text.splitlines() if "comanda.worker" in line and ref in line], text[-3000:]
    assert "sent notification" in text and "/pay/" in text and "sig=***" in text  # logged, masked


# --- our processes, as they run --------------------------------------------------------------------------------


async def _reply_to(pool: Pool, phone: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT 1 FROM outbound_messages WHERE phone = %s", (phone,))
            if await cur.fetchone():
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no reply to {phone} in {timeout_s} s")


async def test_worker_processes_name_conversations_by_their_hash(
    demo: Pool, redis: Redis, database_url: str, valkey_url: str, tmp_path: Path
) -> None:
    async with demo.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
        await conn.execute(FAIL_FIRST_REPLY)
    assert tenant is not None
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": valkey_url,
        "COMANDA_DATA_DIR": str(tmp_path),
        "COMANDA_SECRET_KEY": SECRET,
        "COMANDA_LOG_LEVEL": "DEBUG",
        "COMANDA_COALESCE_WINDOW_MS": "0",
        "PYTHONPATH": str(ROOT),
    }
    stderr = tmp_path / "stderr.log"
    try:
        with stderr.open("w") as err:
            # two processes: the turns run in spawned children, which set up their own logging
            proc = await asyncio.create_subprocess_exec(
                *[sys.executable, "-m", "comanda.cli", "worker", "--concurrency", "2"],
                env=env,
                cwd=tmp_path,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
            )
        try:
            async with live_server(webhook_app(demo, redis)) as base, httpx.AsyncClient() as http:
                form = twilio_form(f"oi, sou {NAME}", phone=PHONE, ProfileName=NAME)
                assert (await post_signed(http, base, form)).status_code == 200
                await _reply_to(demo, PHONE, timeout_s=120)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 60)
    finally:
        async with demo.connection() as conn:
            await conn.execute(UNDO_FAIL)
    text = stderr.read_text()
    assert not leaks(text, personal_data()), text
    assert customer_ref(tenant.id, PHONE) in text, text  # the failed first attempt, logged by a child


def _serve(tmp_path: Path, env: dict[str, str], port: int, stderr: Path) -> subprocess.Popen[bytes]:
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "comanda.cli", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, stderr.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("comanda serve not ready in time")


def test_comanda_serve_logs_pay_and_media_requests_without_their_signatures(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(tmp_path, COMANDA_LOG_LEVEL="DEBUG", COMANDA_COALESCE_WINDOW_MS="0", COMANDA_SECRET_KEY=SECRET)
    script = tmp_path / "conversa.txt"
    script.write_text("\n".join([*SCRIPT, "sim"]) + "\n")
    stderr = tmp_path / "stderr.log"
    proc = _serve(tmp_path, env, port, stderr)
    try:
        database_url = read_runtime(tmp_path / "data")["database_url"]
        with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
            # the demo restaurant keeps real hours; this test may run at night
            conn.execute("UPDATE tenants SET hours = %s::jsonb", (OPEN_ALL_DAY,))
            tenant_id = conn.execute("SELECT id FROM tenants WHERE slug = 'demo'").fetchone()["id"]  # type: ignore[index]
        chat = subprocess.run(
            [
                sys.executable,
                "-m",
                "comanda.cli",
                "chat",
                "--phone",
                PHONE,
                "--script",
                str(script),
                "--url",
                f"http://127.0.0.1:{port}",
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert chat.returncode == 0, chat.stdout + chat.stderr
        with psycopg.connect(database_url, row_factory=dict_row) as conn:
            payment = conn.execute("SELECT pix_code, pay_url FROM payments").fetchone()
            media = conn.execute("SELECT media_url FROM outbound_messages WHERE media_url IS NOT NULL").fetchone()
        assert payment and media, chat.stdout
        assert httpx.get(payment["pay_url"], timeout=10).status_code == 200
        image = httpx.get(media["media_url"], timeout=10)
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        sig = parse_qs(urlsplit(payment["pay_url"]).query)["sig"][0]
        assert httpx.post(payment["pay_url"].split("?")[0], data={"sig": sig}, timeout=30).status_code == 303
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    text = stderr.read_text()
    signed = parse_qs(urlsplit(media["media_url"]).query)
    assert not leaks(text, [*personal_data(payment["pix_code"]), sig, signed["s"][0], signed["c"][0]]), text
    # the access log is on and shows both requests, with the signatures dropped (lines are JSON: read their events)
    events = "\n".join(json.loads(line)["event"] for line in text.splitlines() if line.startswith("{"))
    assert re.search(r"GET /pay/\w+\?sig=\*\*\* HTTP/1.1\" 200", events), text
    assert 'GET /media/pix.png?c=***&s=*** HTTP/1.1" 200' in events, text
    assert customer_ref(tenant_id, PHONE) in text
