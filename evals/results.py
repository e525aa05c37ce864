"""What a run writes to results.json: every trial with its transcript, failures, routes, tools and costs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

Outcome = Literal["passed", "failed", "error", "skipped"]


class Failure(BaseModel):
    """One way a trial missed its scenario: which check, which field, what was expected and what happened."""

    check: Literal["state", "route", "tools", "reply", "error"]
    field: str  # "order.lines[PZ-MARG].options", "turn 3 route", "turn 2 reply.contains"
    expected: Any = None
    actual: Any = None
    turn: int | None = None  # 1-based turn number, for per-turn checks

    def text(self) -> str:
        """One line for terminals and reports."""
        where = self.field
        return f"{where}: expected {_show(self.expected)}, got {_show(self.actual)}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 200 else repr(value[:200] + "…")
    return repr(value)


class ToolCallRecord(BaseModel):
    """A tool the bot called during a turn."""

    node: str | None = None
    name: str
    args: dict[str, Any] = {}


class TurnRecord(BaseModel):
    """One turn of the transcript."""

    customer: list[str] = []
    action: str | None = None
    replies: list[str] = []
    route: str | None = None  # the intent, or "none" when the router did not run
    decided_by: str | None = None  # fast | model | rule
    expected_route: str | None = None
    tool_calls: list[ToolCallRecord] = []
    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    paused: bool = False
    elapsed_ms: float = 0.0


class TrialResult(BaseModel):
    """One run of one scenario."""

    scenario: str
    trial: int
    outcome: Outcome
    failures: list[Failure] = []
    transcript: list[TurnRecord] = []
    actual_state: dict[str, Any] = {}
    expected_state: dict[str, Any] = {}
    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0  # the bot's time over all turns
    wall_ms: float = 0.0  # including database set-up and grading
    error: str | None = None


class ScenarioResult(BaseModel):
    """A scenario and its trials."""

    id: str
    file: str
    description: str = ""
    tags: list[str] = []
    locale: str = "pt-BR"
    known_failure: str | None = None
    skipped: str | None = None  # why it did not run (e.g. a simulated user needs a real model)
    trials: list[TrialResult] = []

    @property
    def successes(self) -> int:
        """Trials that passed."""
        return sum(t.outcome == "passed" for t in self.trials)

    @property
    def graded(self) -> int:
        """Trials that ran (passed, failed or errored)."""
        return sum(t.outcome != "skipped" for t in self.trials)

    @property
    def passed(self) -> bool:
        """Every trial passed (and at least one ran)."""
        return self.graded > 0 and self.successes == self.graded


class RoutingStats(BaseModel):
    """Routing over the turns whose expected route the scenario author labelled."""

    labels: list[str] = []
    # confusion[expected][actual] = turns
    confusion: dict[str, dict[str, int]] = {}
    labelled_turns: int = 0
    correct: int = 0

    @property
    def accuracy(self) -> float | None:
        """Correct / labelled, None when nothing was labelled."""
        return self.correct / self.labelled_turns if self.labelled_turns else None


class TagStats(BaseModel):
    """Success over the trials of the scenarios carrying one tag."""

    scenarios: int
    trials: int
    passed: int

    @property
    def rate(self) -> float:
        """Passed / trials."""
        return self.passed / self.trials if self.trials else 0.0


class Summary(BaseModel):
    """The run's figures."""

    scenarios: int = 0
    ran: int = 0  # scenarios with at least one graded trial
    skipped: int = 0
    trials: int = 0
    passed_trials: int = 0
    success_rate: float = 0.0  # passed trials / graded trials
    pass_hat_k: dict[int, float] = {}  # τ-bench pass^k for k = 1..K
    routing: RoutingStats = Field(default_factory=RoutingStats)
    per_tag: dict[str, TagStats] = {}
    turns: int = 0
    model_calls: int = 0
    model_calls_per_turn: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    duration_s: float = 0.0
    # strict expected failures: a scenario failing without a `known_failure` note, or one with a note that now
    # passes every trial (remove the note), makes the run fail whatever the success rate
    unexpected_failures: list[str] = []
    unexpected_passes: list[str] = []

    @property
    def clean(self) -> bool:
        """No unexpected failure and no known failure that now passes."""
        return not self.unexpected_failures and not self.unexpected_passes


class RunResults(BaseModel):
    """Everything `comanda eval run` learned; the input of reports and diffs."""

    schema_version: int = 1
    started_at: str
    model: str
    prompts: str
    prompts_fingerprint: str = ""
    k: int
    suite: str
    summary: Summary
    scenarios: list[ScenarioResult]

    def write(self, path: Path) -> None:
        """Write as indented JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> RunResults:
        """Read a results.json."""
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
