"""Runs scenarios through the real graph, each trial on a fresh database cloned from a prepared template."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import LLMResult
from psycopg import sql

from evals.graders import grade_state, grade_turn, read_state
from evals.metrics import cost_usd, summarize
from evals.results import Failure, RunResults, ScenarioResult, ToolCallRecord, TrialResult, TurnRecord
from evals.scenario import CustomerProfile, Scenario, ScenarioFileError
from evals.simulator import SimulatedUser
from graph.graph import build_graph
from graph.models import ModelConfig, make_chat_model
from graph.runner import ConversationRunner, TurnResult
from graph.state import ConversationState
from memory.checkpointer import make_checkpointer
from memory.db import Pool, open_pool
from memory.embeddings import Embedder, default_embedder
from memory.migrate import migrate
from memory.repos import customers as customer_repo
from memory.repos import menu as menu_repo
from memory.repos import orders as order_repo
from memory.repos import payments as payment_repo
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import Tenant
from prompts import PromptSet, load_prompt_set
from tools.cart.models import ChosenOption
from tools.cart.pricing import unit_price
from tools.context import TurnContext
from tools.menu.importer import import_menu
from tools.menu.menu_file import MenuFile, parse_json
from tools.payments.simulated import SimulatedPayments

DEMO_MENU = Path(__file__).resolve().parent.parent / "comanda" / "fixtures" / "demo-restaurant.json"
NEEDS_REAL_MODEL = "needs a real model (simulated user)"


@dataclass
class RunOptions:
    """How to run the suite."""

    model: ModelConfig = field(default_factory=ModelConfig)
    prompts: str | None = None  # a version ("v1") or a directory
    k: int = 1
    concurrency: int = 2
    trial_timeout_s: float = 180.0
    public_base_url: str = "http://127.0.0.1:8000"


TrialDone = Callable[[ScenarioResult, TrialResult], None]


@dataclass
class Usage:
    """Model calls and the tokens their providers reported, over one turn."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


_TURN_USAGE: ContextVar[Usage | None] = ContextVar("comanda_eval_turn_usage", default=None)


class UsageMeter(BaseCallbackHandler):
    """Counts every chat model call of the turn running in this context and the tokens it reported.

    The router's structured-output call leaves no message in the conversation (only its parsed choice), so
    the graph's own traces can't see its tokens; a callback on the model sees every call, whoever made it.
    """

    run_inline = True  # the counters live in the caller's context: no executor hop

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        usage = _TURN_USAGE.get()
        if usage is None:
            return
        for generations in response.generations:
            for generation in generations:
                usage.calls += 1
                message = getattr(generation, "message", None)
                meta = getattr(message, "usage_metadata", None)
                if meta:
                    usage.tokens_in += int(meta.get("input_tokens") or 0)
                    usage.tokens_out += int(meta.get("output_tokens") or 0)


def _db_url(base_url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(base_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)  # type: ignore[arg-type]


class Databases:
    """A template database (migrated, demo menu imported with embeddings, checkpoint tables) and its clones.

    Cloning a template is a file copy inside Postgres: far cheaper than migrating and importing per trial.
    """

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.template = f"eval_tmpl_{uuid.uuid4().hex[:10]}"
        # CREATE DATABASE ... TEMPLATE refuses while another clone of the same template is being made
        self._lock = asyncio.Lock()

    async def _admin(self, statement: str, *names: str) -> None:
        query = sql.SQL(statement).format(*(sql.Identifier(n) for n in names))
        async with await psycopg.AsyncConnection.connect(self.server_url, autocommit=True) as conn:
            await conn.execute(query)

    async def prepare(self, embedder: Embedder, restaurants: Sequence[Path] = ()) -> None:
        """Create the template: migrations, the demo restaurant and the scenarios' fixture restaurants (embedded
        once here, not per trial), the checkpointer's tables."""
        await self._admin("CREATE DATABASE {}", self.template)
        url = _db_url(self.server_url, self.template)
        await migrate(url)
        pool = await open_pool(url, max_size=2, name="eval-template")
        try:
            await import_menu(pool, "demo", parse_json(DEMO_MENU.read_text(encoding="utf-8")), embedder)
            for path in dict.fromkeys(restaurants):
                menu = parse_json(path.read_text(encoding="utf-8"))
                assert menu.restaurant is not None  # checked by check_references
                await import_menu(pool, menu.restaurant.slug, menu, embedder)
            await make_checkpointer(pool)
        finally:
            await pool.close()

    @asynccontextmanager
    async def clone(self) -> AsyncIterator[str]:
        """A fresh database for one trial, dropped afterwards."""
        name = f"eval_trial_{uuid.uuid4().hex[:12]}"
        async with self._lock:
            await self._admin("CREATE DATABASE {} TEMPLATE {}", name, self.template)
        try:
            yield _db_url(self.server_url, name)
        finally:
            await self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    async def drop(self) -> None:
        """Remove the template."""
        await self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.template)


def phone_for(scenario: Scenario) -> str:
    """The customer's phone: given, or a stable Brazilian mobile number derived from the scenario id."""
    if scenario.customer.phone:
        return scenario.customer.phone
    digits = int(hashlib.sha256(scenario.id.encode()).hexdigest(), 16) % 10**8
    return f"+55119{digits:08d}"


def _menu_path(scenario: Scenario) -> Path:
    fixture = scenario.fixture
    if fixture.restaurant_file is not None:
        return fixture.restaurant_file
    return Path(scenario.file).parent / fixture.menu_file if fixture.menu_file else DEMO_MENU


def _menu_of(scenario: Scenario) -> MenuFile:
    return parse_json(_menu_path(scenario).read_text(encoding="utf-8"))


def check_references(scenarios: Sequence[Scenario]) -> None:
    """Refuse scenarios naming SKUs or options their menu doesn't have (a typo would fail every trial)."""
    problems: list[str] = []
    for s in scenarios:
        try:
            menu = _menu_of(s)
        except Exception as exc:
            problems.append(f"{s.file}: scenario {s.id!r}: fixture.menu_file: {exc}")
            continue
        if s.fixture.restaurant and (menu.restaurant is None or menu.restaurant.slug != s.fixture.tenant):
            slug = menu.restaurant.slug if menu.restaurant else None
            problems.append(f"{s.file}: scenario {s.id!r}: fixture.tenant: the restaurant's slug is {slug!r}")
            continue
        items = {i.sku: i for i in menu.items}
        where_lines: list[tuple[str, Any]] = []
        for i, past in enumerate(s.customer.past_orders):
            where_lines += [(f"customer.past_orders[{i}].lines[{j}]", ln) for j, ln in enumerate(past.lines)]
        if s.expect.order and s.expect.order.lines:
            where_lines += [(f"expect.order.lines[{j}]", ln) for j, ln in enumerate(s.expect.order.lines)]
        if s.expect.cart:
            where_lines += [(f"expect.cart.lines[{j}]", ln) for j, ln in enumerate(s.expect.cart.lines)]
        for where, line in where_lines:
            item = items.get(line.sku)
            if item is None:
                problems.append(f"{s.file}: scenario {s.id!r}: {where}.sku: no item {line.sku!r} on the menu")
                continue
            choices = {c.name.casefold() for g in item.options for c in g.choices}
            for opt in line.options:
                if opt.casefold() not in choices:
                    problems.append(f"{s.file}: scenario {s.id!r}: {where}.options: {line.sku} has no option {opt!r}")
        for j, change in enumerate(s.fixture.menu_changes):
            if change.sku not in items:
                problems.append(f"{s.file}: scenario {s.id!r}: fixture.menu_changes[{j}].sku: no item {change.sku!r}")
    if problems:
        raise ScenarioFileError(problems)


async def _seed(pool: Pool, scenario: Scenario, embedder: Embedder, phone: str) -> tuple[Tenant, set[int]]:
    """The restaurant and the customer as the scenario starts; returns the tenant and the seeded order ids."""
    fixture = scenario.fixture
    if fixture.menu_file:
        await import_menu(pool, fixture.tenant, _menu_of(scenario), embedder)
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, fixture.tenant)
        if tenant is None:
            raise ValueError(f"no tenant {fixture.tenant!r} in the fixture")
        for change in fixture.menu_changes:
            await conn.execute(
                """UPDATE menu_items SET available = coalesce(%s, available), price = coalesce(%s, price)
                   WHERE tenant_id = %s AND sku = %s""",
                (change.available, change.price, tenant.id, change.sku),
            )
        seeded = await _seed_customer(conn, tenant, scenario.customer, phone)
    return tenant, seeded


async def _seed_customer(conn: Any, tenant: Tenant, profile: CustomerProfile, phone: str) -> set[int]:
    if profile.name is None:
        return set()
    row = await customer_repo.upsert(conn, tenant.id, phone, name=profile.name, email=profile.email, cpf=None)
    saved = []
    for given in profile.addresses:
        fields = customer_repo.AddressFields.model_validate(given.model_dump())
        saved.append(await customer_repo.find_or_insert_address(conn, tenant.id, row.id, fields))
    if saved:
        await customer_repo.set_default_address(conn, tenant.id, row.id, saved[0].id)
    ids: set[int] = set()
    for n, past in enumerate(profile.past_orders):
        items = await menu_repo.by_skus(conn, tenant.id, [ln.sku for ln in past.lines])
        lines: list[order_repo.OrderLineFields] = []
        for ln in past.lines:
            item = items[ln.sku]
            chosen = [
                ChosenOption(group=g.group, choice=c.name, price_delta=c.price)
                for name in ln.options
                for g in item.options
                for c in g.choices
                if c.name.casefold() == name.casefold()
            ][: len(ln.options)]
            unit = unit_price(item, chosen)
            lines.append(
                order_repo.OrderLineFields(
                    menu_item_id=item.id,
                    sku=item.sku,
                    name=item.name,
                    qty=ln.qty,
                    unit_price=unit,
                    line_total=unit * ln.qty,
                    options=[
                        order_repo.OrderOption(group=o.group, choice=o.choice, price_delta=o.price_delta)
                        for o in chosen
                    ],
                    removed=ln.removed,
                )
            )
        subtotal = sum((x.line_total for x in lines), Decimal("0"))
        address = saved[0].model_dump(exclude={"id", "customer_id"}) if saved else {}
        order, _ = await order_repo.insert_order(
            conn,
            order_repo.NewOrder(
                tenant_id=tenant.id,
                customer_id=row.id,
                idempotency_key=f"eval-seed-{n}",
                status="delivered",
                payment_method=past.payment_method,
                change_for=None,
                subtotal=subtotal,
                delivery_fee=tenant.delivery_fee,
                total=subtotal + tenant.delivery_fee,
                address_id=saved[0].id if saved else None,
                address=address,
            ),
        )
        await order_repo.insert_items(conn, tenant.id, order.id, lines)
        # the oldest first, so the last seeded order is the customer's "last order"
        placed = datetime.now(UTC) - timedelta(days=past.days_ago, minutes=len(profile.past_orders) - n)
        await conn.execute("UPDATE orders SET created_at = %s WHERE id = %s", (placed, order.id))
        ids.add(order.id)
    return ids


def _record(texts: list[str], result: TurnResult, expected_route: str | None, usage: Usage) -> TurnRecord:
    route = result.route
    return TurnRecord(
        customer=texts,
        replies=result.replies,
        route=route.intent if route else "none",
        decided_by=route.decided_by if route else None,
        expected_route=expected_route,
        tool_calls=[ToolCallRecord(node=c.node, name=c.name, args=c.args) for c in result.tool_calls],
        model_calls=usage.calls,
        tokens_in=usage.tokens_in,
        tokens_out=usage.tokens_out,
        paused=result.paused,
        elapsed_ms=round(result.elapsed_ms, 1),
    )


async def _pay(pool: Pool, tenant: Tenant, phone: str, seeded: set[int], when: datetime) -> str | None:
    """The customer pays their latest order on the pay page (what the provider's webhook then settles)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT p.id, p.order_id FROM payments p JOIN orders o ON o.id = p.order_id
                 JOIN customers c ON c.id = o.customer_id
               WHERE p.tenant_id = %s AND c.phone = %s AND p.status = 'pending' ORDER BY p.id DESC LIMIT 1""",
            (tenant.id, phone),
        )
        row = await cur.fetchone()
        if row is None or row["order_id"] in seeded:
            return "no pending payment to pay"
        await payment_repo.settle_paid(conn, tenant.id, row["id"], when)
    return None


class Suite:
    """One eval run's shared pieces: the model, the prompts, the template database."""

    def __init__(self, server_url: str, options: RunOptions) -> None:
        self.options = options
        self.databases = Databases(server_url)
        self.prompts: PromptSet = load_prompt_set(options.prompts)
        self.model: BaseChatModel = make_chat_model(options.model)
        self.model.callbacks = [UsageMeter()]
        self.embedder = default_embedder()
        self.payments = SimulatedPayments(options.public_base_url, b"comanda-eval")

    async def run_trial(self, scenario: Scenario, trial: int) -> TrialResult:
        """One scenario once, on its own database; never raises (errors become the trial's outcome)."""
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(self._trial(scenario, trial), self.options.trial_timeout_s)
        except TimeoutError:
            result = TrialResult(
                scenario=scenario.id,
                trial=trial,
                outcome="error",
                error=f"timed out after {self.options.trial_timeout_s:.0f} s",
                failures=[Failure(check="error", field="trial", expected="finish", actual="timeout")],
            )
        except Exception as exc:
            result = TrialResult(
                scenario=scenario.id,
                trial=trial,
                outcome="error",
                error=f"{type(exc).__name__}: {exc}",
                failures=[
                    Failure(
                        check="error", field="trial", expected="no exception", actual=f"{type(exc).__name__}: {exc}"
                    )
                ],
            )
        result.wall_ms = round((time.perf_counter() - started) * 1000, 1)
        return result

    async def _trial(self, scenario: Scenario, trial: int) -> TrialResult:
        phone = phone_for(scenario)
        async with self.databases.clone() as url:
            pool = await open_pool(url, max_size=4, name="eval-trial")
            try:
                tenant, seeded = await _seed(pool, scenario, self.embedder, phone)
                graph = build_graph(self.model, self.prompts, checkpointer=await make_checkpointer(pool))
                runner = ConversationRunner(graph)
                now = scenario.fixture.now()
                ctx = TurnContext(
                    pool=pool,
                    tenant=tenant,
                    phone=phone,
                    payments=self.payments,
                    public_base_url=self.options.public_base_url,
                    clock=lambda: now,
                )
                transcript, failures = await self._converse(scenario, runner, ctx, seeded, now)
                snapshot = await graph.aget_state({"configurable": {"thread_id": ctx.thread_id}})
                final = ConversationState.model_validate(snapshot.values) if snapshot.values else None
                actual = await read_state(pool, tenant.id, phone, ctx.thread_id, seeded, final)
            finally:
                await pool.close()
        failures += grade_state(scenario, actual)
        tokens_in = sum(t.tokens_in for t in transcript)
        tokens_out = sum(t.tokens_out for t in transcript)
        return TrialResult(
            scenario=scenario.id,
            trial=trial,
            outcome="failed" if failures else "passed",
            failures=failures,
            transcript=transcript,
            actual_state=actual,
            expected_state=scenario.expect.model_dump(mode="json", exclude_none=True),
            model_calls=sum(t.model_calls for t in transcript),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=cost_usd(self.options.model.spec, tokens_in, tokens_out),
            latency_ms=round(sum(t.elapsed_ms for t in transcript), 1),
        )

    async def _converse(
        self, scenario: Scenario, runner: ConversationRunner, ctx: TurnContext, seeded: set[int], now: datetime
    ) -> tuple[list[TurnRecord], list[Failure]]:
        transcript: list[TurnRecord] = []
        failures: list[Failure] = []
        n_messages = 0

        async def say(texts: list[str], expected_route: str | None) -> TurnRecord:
            nonlocal n_messages
            ids = []
            for _ in texts:
                n_messages += 1
                ids.append(f"EV{n_messages:04d}")
            usage = Usage()
            token = _TURN_USAGE.set(usage)
            try:
                result = await runner.run_turn(ctx, texts, ids)
            finally:
                _TURN_USAGE.reset(token)
            record = _record(texts, result, expected_route, usage)
            transcript.append(record)
            return record

        if scenario.turns is not None:
            for number, turn in enumerate(scenario.turns, start=1):
                if turn.action == "pay":
                    problem = await _pay(ctx.pool, ctx.tenant, ctx.phone, seeded, now)
                    transcript.append(TurnRecord(action="pay"))
                    if problem:
                        failures.append(
                            Failure(
                                check="state",
                                field=f"turn {number} pay",
                                expected="a pending payment",
                                actual=problem,
                                turn=number,
                            )
                        )
                    continue
                record = await say(turn.texts, turn.route)
                failures += grade_turn(number, turn, record)
            return transcript, failures
        assert scenario.goal is not None
        user = SimulatedUser(self.model, scenario.goal, scenario.locale)
        for _ in range(scenario.max_turns):
            message = await user.next_message(transcript)
            if message is None:
                break
            await say([message], None)
        return transcript, failures


def _needs_real_model(scenario: Scenario, options: RunOptions) -> bool:
    return not scenario.scripted and options.model.spec == "offline"


async def run_suite(
    scenarios: Sequence[Scenario],
    server_url: str,
    options: RunOptions,
    *,
    suite: str = "*",
    on_trial: TrialDone | None = None,
) -> RunResults:
    """Run every scenario `k` times (at most `concurrency` trials at once) and summarise."""
    check_references(scenarios)
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    runner = Suite(server_url, options)
    results = [
        ScenarioResult(
            id=s.id,
            file=s.file,
            description=s.description,
            tags=s.tags,
            locale=s.locale,
            known_failure=s.known_failure,
            skipped=NEEDS_REAL_MODEL if _needs_real_model(s, options) else None,
        )
        for s in scenarios
    ]
    restaurants = [s.fixture.restaurant_file for s in scenarios if s.fixture.restaurant_file is not None]
    await runner.databases.prepare(runner.embedder, restaurants)
    try:
        gate = asyncio.Semaphore(max(1, options.concurrency))

        async def one(index: int, trial: int) -> None:
            async with gate:
                outcome = await runner.run_trial(scenarios[index], trial)
            results[index].trials.append(outcome)
            if on_trial is not None:
                on_trial(results[index], outcome)

        jobs = [
            one(i, t) for i, s in enumerate(scenarios) if results[i].skipped is None for t in range(1, options.k + 1)
        ]
        await asyncio.gather(*jobs)
    finally:
        await runner.databases.drop()
    for r in results:
        r.trials.sort(key=lambda t: t.trial)
    return RunResults(
        started_at=started_at,
        model=options.model.spec,
        prompts=options.prompts or runner.prompts.version,
        prompts_fingerprint=getattr(runner.prompts, "fingerprint", ""),
        k=options.k,
        suite=suite,
        summary=summarize(results, options.k, time.perf_counter() - started),
        scenarios=results,
    )


def trials_planned(scenarios: Sequence[Scenario], options: RunOptions) -> int:
    """How many trials a run will make (for progress bars)."""
    return sum(options.k for s in scenarios if not _needs_real_model(s, options))
