"""`comanda eval diff` on two prepared results files lists the right flips and deltas."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from comanda.cli import app
from evals.diff import diff_runs
from evals.metrics import summarize
from evals.results import RunResults, ScenarioResult, TrialResult, TurnRecord


def _run(outcomes: dict[str, list[str]], *, route_ok: bool, calls: int) -> RunResults:
    scenarios = [
        ScenarioResult(
            id=sid,
            file="x.yaml",
            tags=["t"],
            trials=[
                TrialResult(
                    scenario=sid,
                    trial=i + 1,
                    outcome=o,  # type: ignore[arg-type]
                    model_calls=calls,
                    tokens_in=100 * calls,
                    transcript=[
                        TurnRecord(customer=["x"], route="cart" if route_ok else "menu", expected_route="cart")
                    ],
                )
                for i, o in enumerate(trials)
            ],
        )
        for sid, trials in outcomes.items()
    ]
    summary = summarize(scenarios, k=2)
    summary.tokens_in = sum(t.tokens_in for s in scenarios for t in s.trials)
    return RunResults(
        started_at="2026-11-22T00:00:00",
        model="offline",
        prompts="v1",
        k=2,
        suite="*",
        summary=summary,
        scenarios=scenarios,
    )


A = _run(
    {
        "stays-green": ["passed", "passed"],
        "breaks": ["passed", "passed"],
        "gets-fixed": ["failed", "passed"],
        "stays-red": ["failed", "failed"],
        "removed": ["passed", "passed"],
    },
    route_ok=False,
    calls=2,
)
B = _run(
    {
        "stays-green": ["passed", "passed"],
        "breaks": ["passed", "failed"],
        "gets-fixed": ["passed", "passed"],
        "stays-red": ["failed", "error"],
        "added": ["passed", "passed"],
    },
    route_ok=True,
    calls=1,
)


def test_diff_lists_flips_both_ways() -> None:
    d = diff_runs(A, B)
    assert d.pass_to_fail == ["breaks"]
    assert d.fail_to_pass == ["gets-fixed"]
    assert d.still_failing == ["stays-red"]
    assert (d.only_in_a, d.only_in_b) == (["removed"], ["added"])
    deltas = {x.name: x.change for x in d.deltas}
    assert deltas["routing accuracy"] == 1.0  # every labelled turn was wrong in A and right in B
    assert deltas["model calls per turn"] == -1.0
    # pass^1: A = (1 + 1 + 0.5 + 0 + 1) / 5 = 0.7; B = (1 + 0.5 + 1 + 0 + 1) / 5 = 0.7
    assert abs(deltas["pass^1"] or 0) < 1e-9
    # pass^2: A = (1 + 1 + 0 + 0 + 1) / 5 = 0.6; B = (1 + 0 + 1 + 0 + 1) / 5 = 0.6
    assert abs(deltas["pass^2"] or 0) < 1e-9


def test_the_cli_prints_and_writes_the_diff(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    A.write(tmp_path / "a" / "results.json")
    B.write(tmp_path / "b" / "results.json")
    result = CliRunner().invoke(
        app, ["eval", "diff", str(tmp_path / "a" / "results.json"), str(tmp_path / "b" / "results.json")]
    )
    assert result.exit_code == 0, result.output
    assert "pass → fail (1): breaks" in result.output
    assert "fail → pass (1): gets-fixed" in result.output
    html = (tmp_path / "b" / "diff.html").read_text()
    assert "breaks" in html and "gets-fixed" in html and "+100.0 pp" in html


def test_a_file_that_is_not_results_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "results.json"
    bad.write_text('{"hello": 1}')
    result = CliRunner().invoke(app, ["eval", "diff", str(bad), str(bad)])
    assert result.exit_code == 2
