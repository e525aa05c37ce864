"""pass^k and the routing confusion matrix against hand-computed values."""

from __future__ import annotations

import pytest

from evals.metrics import pass_hat_k, routing_stats, summarize
from evals.results import ScenarioResult, TrialResult, TurnRecord


def test_pass_hat_k_matches_hand_computed_values() -> None:
    # three scenarios, four trials each: always passes, passes half the time, never passes
    counts = [(4, 4), (2, 4), (0, 4)]
    assert pass_hat_k(counts, 1) == pytest.approx((1 + 2 / 4 + 0) / 3)  # 0.5
    # C(2,2)/C(4,2) = 1/6: two draws both succeeding
    assert pass_hat_k(counts, 2) == pytest.approx((1 + 1 / 6 + 0) / 3)  # 7/18
    # C(2,3) = 0: three draws can't all come from two successes
    assert pass_hat_k(counts, 3) == pytest.approx(1 / 3)
    assert pass_hat_k(counts, 4) == pytest.approx(1 / 3)


def test_pass_hat_k_leaves_out_scenarios_with_fewer_trials_than_k() -> None:
    # C(3,2)/C(5,2) = 3/10; the scenario with one trial can't estimate pass^2
    assert pass_hat_k([(3, 5), (1, 1)], 2) == pytest.approx(0.3)
    assert pass_hat_k([(3, 5), (1, 1)], 1) == pytest.approx((0.6 + 1) / 2)
    assert pass_hat_k([], 1) == 0.0
    with pytest.raises(ValueError):
        pass_hat_k([(1, 1)], 0)


def _trial(outcome: str, routes: list[tuple[str, str]]) -> TrialResult:
    return TrialResult(
        scenario="s",
        trial=1,
        outcome=outcome,  # type: ignore[arg-type]
        transcript=[TurnRecord(customer=["x"], route=actual, expected_route=exp) for exp, actual in routes],
    )


def test_summary_counts_routes_tags_and_leaves_skipped_scenarios_out() -> None:
    a = ScenarioResult(
        id="a",
        file="f.yaml",
        tags=["cart"],
        trials=[_trial("passed", [("cart", "cart"), ("payment", "payment")]), _trial("failed", [("cart", "menu")])],
    )
    b = ScenarioResult(id="b", file="f.yaml", tags=["cart", "menu"], trials=[_trial("passed", [("menu", "menu")])])
    skipped = ScenarioResult(id="c", file="f.yaml", tags=["menu"], skipped="needs a real model")
    summary = summarize([a, b, skipped], k=1)
    assert (summary.trials, summary.passed_trials, summary.skipped) == (3, 2, 1)
    assert summary.success_rate == pytest.approx(2 / 3)
    # pass^1 averages per scenario: a 1/2, b 1/1
    assert summary.pass_hat_k[1] == pytest.approx(0.75)
    assert summary.per_tag["cart"].trials == 3 and summary.per_tag["cart"].passed == 2
    assert summary.per_tag["menu"].scenarios == 1  # the skipped one doesn't count
    routing = routing_stats([a, b])
    assert routing.confusion["cart"] == {"cart": 1, "menu": 1}
    assert routing.labelled_turns == 4 and routing.accuracy == pytest.approx(3 / 4)
