"""Runs scenarios through the real graph, each trial on a fresh database cloned from a prepared template."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from langchain_core.language_models import BaseChatModel

from evals.graders import grade_state, grade_turn, read_state
from evals.metrics import cost_usd, summarize
from evals.results import Failure, RunResults, ScenarioResult, ToolCallRecord, TrialResult, TurnRecord
from evals.scenario import Pin, Scenario
from evals.seeding import Databases, check_references, pay_order, phone_for, seed_trial
from evals.simulator import SimulatedUser
from evals.usage import TURN_USAGE, Usage, UsageMeter
from graph.graph import build_graph
from graph.guard import UnreadMedia
from graph.models import ModelConfig, make_chat_model
from graph.runner import ConversationRunner, CustomerMessage, TurnResult
from graph.state import ConversationState
from memory.checkpointer import make_checkpointer
from memory.db import open_pool
from memory.embeddings import default_embedder
from prompts import PromptSet, load_prompt_set
from tools.context import TurnContext
from tools.customers.models import SharedLocation
from tools.payments.simulated import SimulatedPayments
from tools.privacy.links import ExportLinks

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
        # the same pay page, playing a provider that charges only with the payer's CPF (as Asaas does)
        self.payments_with_cpf = SimulatedPayments(options.public_base_url, b"comanda-eval", needs_cpf=True)

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
                tenant, seeded = await seed_trial(pool, scenario, self.embedder, phone)
                graph = build_graph(self.model, self.prompts, checkpointer=await make_checkpointer(pool))
                runner = ConversationRunner(graph)
                now = scenario.fixture.now()
                ctx = TurnContext(
                    pool=pool,
                    tenant=tenant,
                    phone=phone,
                    payments=self.payments_with_cpf if scenario.fixture.payments_need_cpf else self.payments,
                    public_base_url=self.options.public_base_url,
                    clock=lambda: now,
                    export_links=ExportLinks(b"comanda-eval", self.options.public_base_url),
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

        async def say(
            texts: list[str], expected_route: str | None, pin: Pin | None = None, media: UnreadMedia | None = None
        ) -> TurnRecord:
            nonlocal n_messages
            messages: list[str | CustomerMessage] = list(texts)
            if media is not None:
                # as the worker hands over an attachment it couldn't read: named, never words; the caption is text
                caption = messages.pop() if messages else ""
                messages.append(CustomerMessage(text=str(caption), unread=[media]))
                texts = [*texts[:-1], f"{texts[-1] if texts else ''} <{media}>".strip()]
            if pin is not None:
                # as the worker hands a Twilio pin over: the map's words as text, the coordinates as data
                words = ", ".join(w for w in (pin.label, pin.address) if w)
                messages.append(CustomerMessage(text=words, location=SharedLocation(**pin.model_dump())))
                texts = [*texts, words or "📍"]
            ids = []
            for _ in messages:
                n_messages += 1
                ids.append(f"EV{n_messages:04d}")
            usage = Usage()
            token = TURN_USAGE.set(usage)
            try:
                result = await runner.run_turn(ctx, messages, ids)
            finally:
                TURN_USAGE.reset(token)
            record = _record(texts, result, expected_route, usage)
            transcript.append(record)
            return record

        if scenario.turns is not None:
            for number, turn in enumerate(scenario.turns, start=1):
                if turn.action == "pay":
                    problem = await pay_order(ctx.pool, ctx.tenant, ctx.phone, seeded, now)
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
                record = await say(turn.texts, turn.route, turn.location, turn.media)
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
