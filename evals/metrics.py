"""Run figures: τ-bench pass^k, success per tag, the routing confusion matrix, model calls and cost."""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

from evals.results import RoutingStats, ScenarioResult, Summary, TagStats
from evals.scenario import ROUTE_LABELS


def pass_hat_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """τ-bench pass^k: for each scenario with c successes in n trials, C(c, k) / C(n, k), averaged.

    The chance that k trials drawn without replacement from a scenario's n all succeed; scenarios with fewer
    than k trials are left out (the estimate needs n ≥ k). 0.0 when no scenario qualifies.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    values = [comb(c, k) / comb(n, k) for c, n in counts if n >= k]
    return sum(values) / len(values) if values else 0.0


def routing_stats(scenarios: Sequence[ScenarioResult]) -> RoutingStats:
    """Expected vs actual route over every labelled turn of every graded trial."""
    confusion: dict[str, dict[str, int]] = {}
    labels: list[str] = list(ROUTE_LABELS)
    labelled = correct = 0
    for s in scenarios:
        for trial in s.trials:
            if trial.outcome == "skipped":
                continue
            for turn in trial.transcript:
                if turn.expected_route is None:
                    continue
                actual = turn.route or "none"
                if actual not in labels:
                    labels.append(actual)
                row = confusion.setdefault(turn.expected_route, {})
                row[actual] = row.get(actual, 0) + 1
                labelled += 1
                correct += actual == turn.expected_route
    return RoutingStats(labels=labels, confusion=confusion, labelled_turns=labelled, correct=correct)


def summarize(scenarios: Sequence[ScenarioResult], k: int, duration_s: float = 0.0) -> Summary:
    """Every figure of the report from the scenario results."""
    graded = [t for s in scenarios for t in s.trials if t.outcome != "skipped"]
    counts = [(s.successes, s.graded) for s in scenarios if s.graded]
    per_tag: dict[str, TagStats] = {}
    for s in scenarios:
        if not s.graded:
            continue
        for tag in s.tags:
            prev = per_tag.get(tag, TagStats(scenarios=0, trials=0, passed=0))
            per_tag[tag] = TagStats(
                scenarios=prev.scenarios + 1, trials=prev.trials + s.graded, passed=prev.passed + s.successes
            )
    turns = sum(len(t.transcript) for t in graded)
    model_calls = sum(t.model_calls for t in graded)
    passed = sum(t.outcome == "passed" for t in graded)
    return Summary(
        scenarios=len(scenarios),
        ran=len(counts),
        skipped=sum(1 for s in scenarios if not s.graded),
        trials=len(graded),
        passed_trials=passed,
        success_rate=passed / len(graded) if graded else 0.0,
        pass_hat_k={i: pass_hat_k(counts, i) for i in range(1, k + 1)},
        routing=routing_stats(scenarios),
        per_tag=dict(sorted(per_tag.items())),
        turns=turns,
        model_calls=model_calls,
        model_calls_per_turn=model_calls / turns if turns else 0.0,
        tokens_in=sum(t.tokens_in for t in graded),
        tokens_out=sum(t.tokens_out for t in graded),
        cost_usd=round(sum(t.cost_usd for t in graded), 6),
        duration_s=round(duration_s, 2),
        unexpected_failures=[s.id for s in scenarios if s.graded and not s.passed and not s.known_failure],
        unexpected_passes=[s.id for s in scenarios if s.known_failure and s.passed],
    )


# USD per million tokens (input, output), list prices; unknown models cost 0 and the report says "unknown"
PRICES: dict[str, tuple[float, float]] = {
    "offline": (0.0, 0.0),
    "openai:gpt-4o-mini": (0.15, 0.60),
    "openai:gpt-4o": (2.50, 10.00),
    "openai:gpt-4.1-mini": (0.40, 1.60),
    "openai:gpt-4.1": (2.00, 8.00),
    "bedrock:anthropic.claude-3-5-haiku": (0.80, 4.00),
    "bedrock:anthropic.claude-3-haiku": (0.25, 1.25),
    "bedrock:anthropic.claude-3-5-sonnet": (3.00, 15.00),
    "bedrock:amazon.nova-lite": (0.06, 0.24),
    "bedrock:amazon.nova-pro": (0.80, 3.20),
}


def price_of(model: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens of the model, matched by prefix (Bedrock ids carry versions)."""
    spec = model.split("bedrock:")[-1]
    for name, price in PRICES.items():
        key = name.split("bedrock:")[-1]
        if model == name or (model.startswith("bedrock:") and key in spec):
            return price
    return None


def cost_usd(model: str, tokens_in: int, tokens_out: int) -> float:
    """Estimated cost of these tokens (0 for unknown models)."""
    price = price_of(model)
    if price is None:
        return 0.0
    return (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000
