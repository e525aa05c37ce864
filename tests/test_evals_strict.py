"""Known failures are strict expected failures, and --scenario/--tag pick scenarios: pure functions over results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from evals.metrics import summarize
from evals.results import ScenarioResult, TrialResult
from evals.scenario import SCENARIOS_DIR, ScenarioFileError, load_file, select

ROOT = Path(__file__).resolve().parent.parent


def _scenario(sid: str, outcomes: list[str], known: str | None = None, tags: list[str] | None = None) -> ScenarioResult:
    return ScenarioResult(
        id=sid,
        file="x.yaml",
        tags=tags or [],
        known_failure=known,
        trials=[TrialResult(scenario=sid, trial=i + 1, outcome=o) for i, o in enumerate(outcomes)],
    )


def test_a_failure_without_a_note_is_unexpected_and_a_noted_pass_must_lose_its_note() -> None:
    summary = summarize(
        [
            _scenario("passes", ["passed", "passed"]),
            _scenario("fails", ["passed", "failed"]),
            _scenario("known-and-failing", ["failed", "failed"], known="offline model: ..."),
            _scenario("known-but-passing", ["passed", "passed"], known="offline model: ..."),
            _scenario("known-flaky", ["passed", "error"], known="offline model: ..."),
        ],
        k=2,
    )
    assert summary.unexpected_failures == ["fails"]
    # strict: only a known failure that passed every trial asks for its note to go
    assert summary.unexpected_passes == ["known-but-passing"]
    assert not summary.clean


def test_a_run_with_only_known_failures_is_clean() -> None:
    summary = summarize([_scenario("ok", ["passed"]), _scenario("known", ["failed"], known="offline model: ...")], k=1)
    assert summary.clean and summary.success_rate == 0.5


def test_skipped_scenarios_are_neither_failures_nor_passes() -> None:
    summary = summarize([_scenario("simulated", [])], k=1)
    assert summary.clean and summary.ran == 0


SUITE = """
scenarios:
  - id: sushi-order
    tags: [sushi, cart]
    fixture: {restaurant: sushi-kaze, tenant: sushi}
    turns: [{say: "1 hot roll"}]
    expect: {orders: 0}
  - id: sushi-menu
    tags: [sushi, menu]
    fixture: {restaurant: sushi-kaze, tenant: sushi}
    turns: [{say: "cardápio"}]
    expect: {orders: 0}
  - id: demo-order
    tags: [cart]
    turns: [{say: "1 x-bacon"}]
    expect: {orders: 0}
"""


def test_scenario_and_tag_filters(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE, encoding="utf-8")
    scenarios = load_file(path)
    assert [s.id for s in select(scenarios, ids=["sushi-*"], tags=[])] == ["sushi-order", "sushi-menu"]
    assert [s.id for s in select(scenarios, ids=[], tags=["cart"])] == ["sushi-order", "demo-order"]
    assert [s.id for s in select(scenarios, ids=["sushi-*"], tags=["cart"])] == ["sushi-order"]
    assert [s.id for s in select(scenarios, ids=["demo-order", "sushi-menu"], tags=[])] == ["sushi-menu", "demo-order"]
    assert select(scenarios, ids=["nothing*"], tags=[]) == []
    assert len(select(scenarios, ids=[], tags=[])) == 3


def test_an_unknown_fixture_restaurant_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE.replace("restaurant: sushi-kaze", "restaurant: no-such-place", 1), encoding="utf-8")
    with pytest.raises(ScenarioFileError) as exc:
        load_file(path)
    assert "fixture" in exc.value.problems[0] and "no-such-place" in exc.value.problems[0]


@pytest.mark.slow
def test_the_cli_fails_a_run_whose_known_failure_now_passes(pg_base_url: str, tmp_path: Path) -> None:
    doc = yaml.safe_load((SCENARIOS_DIR / "handoff.yaml").read_text(encoding="utf-8"))
    passing = next(s for s in doc["scenarios"] if s["id"] == "handoff-explicit")
    noted = {**passing, "id": "noted-but-passing", "known_failure": "offline model: (a stale note)"}
    other = {**passing, "id": "left-out-by-the-filter", "tags": ["other"]}
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"scenarios": [noted, other]}, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": pg_base_url, "COMANDA_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "comanda.cli", "eval", "run", "--model", "offline", "--suite", str(suite),
         "--scenario", "noted-*", "--out", str(tmp_path / "out"), "--min-pass", "0.95"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    # every trial passed (100 % ≥ 0.95), yet the run fails: the note must go
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "known failures that now pass" in proc.stderr and "noted-but-passing" in proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [s["id"] for s in results["scenarios"]] == ["noted-but-passing"]
    assert results["summary"]["unexpected_passes"] == ["noted-but-passing"]
