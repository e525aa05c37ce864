"""Compare two runs: scenarios that flipped, and the change in pass^k, routing, model calls, tokens and cost."""

from __future__ import annotations

from html import escape

from pydantic import BaseModel

from evals.report import STYLE, pct
from evals.results import RunResults, ScenarioResult


class Delta(BaseModel):
    """One figure in A and B."""

    name: str
    a: float | None
    b: float | None

    @property
    def change(self) -> float | None:
        """B − A."""
        return None if self.a is None or self.b is None else self.b - self.a


class RunDiff(BaseModel):
    """What changed from run A to run B."""

    a_label: str
    b_label: str
    pass_to_fail: list[str]
    fail_to_pass: list[str]
    only_in_a: list[str]
    only_in_b: list[str]
    still_failing: list[str]
    deltas: list[Delta]


def _outcomes(run: RunResults) -> dict[str, ScenarioResult]:
    return {s.id: s for s in run.scenarios if s.graded}


def diff_runs(a: RunResults, b: RunResults) -> RunDiff:
    """Flips by scenario (passed = every trial passed) and the headline figures side by side."""
    ra, rb = _outcomes(a), _outcomes(b)
    common = [i for i in ra if i in rb]
    k = min(a.k, b.k)
    sa, sb = a.summary, b.summary
    deltas = [
        Delta(name="success rate", a=sa.success_rate, b=sb.success_rate),
        *[Delta(name=f"pass^{i}", a=sa.pass_hat_k.get(i), b=sb.pass_hat_k.get(i)) for i in range(1, k + 1)],
        Delta(name="routing accuracy", a=sa.routing.accuracy, b=sb.routing.accuracy),
        Delta(name="model calls per turn", a=sa.model_calls_per_turn, b=sb.model_calls_per_turn),
        Delta(name="tokens in", a=sa.tokens_in, b=sb.tokens_in),
        Delta(name="tokens out", a=sa.tokens_out, b=sb.tokens_out),
        Delta(name="cost (US$)", a=sa.cost_usd, b=sb.cost_usd),
    ]
    return RunDiff(
        a_label=f"{a.model} / {a.prompts} ({a.started_at})",
        b_label=f"{b.model} / {b.prompts} ({b.started_at})",
        pass_to_fail=sorted(i for i in common if ra[i].passed and not rb[i].passed),
        fail_to_pass=sorted(i for i in common if not ra[i].passed and rb[i].passed),
        only_in_a=sorted(i for i in ra if i not in rb),
        only_in_b=sorted(i for i in rb if i not in ra),
        still_failing=sorted(i for i in common if not ra[i].passed and not rb[i].passed),
        deltas=deltas,
    )


def _num(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    if name in ("success rate", "routing accuracy") or name.startswith("pass^"):
        return pct(value)
    if name.startswith("tokens"):
        return f"{value:.0f}"
    return f"{value:.4f}" if "cost" in name else f"{value:.2f}"


def _signed(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    if name in ("success rate", "routing accuracy") or name.startswith("pass^"):
        return f"{value * 100:+.1f} pp"
    if name.startswith("tokens"):
        return f"{value:+.0f}"
    return f"{value:+.4f}" if "cost" in name else f"{value:+.2f}"


def diff_text(d: RunDiff) -> str:
    """The diff for a terminal."""
    lines = [f"A: {d.a_label}", f"B: {d.b_label}", ""]
    for delta in d.deltas:
        lines.append(
            f"  {delta.name:<22} {_num(delta.name, delta.a):>12} → {_num(delta.name, delta.b):>12}   "
            f"{_signed(delta.name, delta.change)}"
        )
    lines.append("")
    lines.append(f"pass → fail ({len(d.pass_to_fail)}): {', '.join(d.pass_to_fail) or '-'}")
    lines.append(f"fail → pass ({len(d.fail_to_pass)}): {', '.join(d.fail_to_pass) or '-'}")
    if d.only_in_a or d.only_in_b:
        lines.append(f"only in A: {', '.join(d.only_in_a) or '-'}; only in B: {', '.join(d.only_in_b) or '-'}")
    return "\n".join(lines)


def render_diff(d: RunDiff, a: RunResults, b: RunResults) -> str:
    """The diff as an HTML page, the two runs side by side."""
    out = [f"<!doctype html><meta charset=utf-8><title>Comanda evals diff</title><style>{STYLE}</style>"]
    out.append(f"<h1>A: {escape(d.a_label)}<br>B: {escape(d.b_label)}</h1>")
    rows = "".join(
        f"<tr><td>{escape(x.name)}</td><td class=num>{_num(x.name, x.a)}</td><td class=num>{_num(x.name, x.b)}</td>"
        f"<td class=num>{_signed(x.name, x.change)}</td></tr>"
        for x in d.deltas
    )
    out.append(f"<table><tr><th></th><th>A</th><th>B</th><th>Δ</th></tr>{rows}</table>")
    ra, rb = {s.id: s for s in a.scenarios}, {s.id: s for s in b.scenarios}
    for title, ids, cls in (
        ("pass → fail", d.pass_to_fail, "fail"),
        ("fail → pass", d.fail_to_pass, "pass"),
        ("still failing", d.still_failing, "fail"),
    ):
        out.append(f"<h2 class={cls}>{escape(title)} ({len(ids)})</h2>")
        if not ids:
            continue
        body = "".join(
            f"<tr><td>{escape(i)}</td><td>{ra[i].successes}/{ra[i].graded}</td><td>{rb[i].successes}/{rb[i].graded}</td>"
            f"<td><pre>{escape(_first_failures(rb[i] if cls == 'fail' else ra[i]))}</pre></td></tr>"
            for i in ids
        )
        out.append(
            "<table><tr><th>scenario</th><th>A</th><th>B</th>"
            + f"<th>failed checks ({'B' if cls == 'fail' else 'A'})</th></tr>{body}</table>"
        )
    if d.only_in_a or d.only_in_b:
        out.append(
            f"<p>only in A: {escape(', '.join(d.only_in_a) or '-')}; "
            f"only in B: {escape(', '.join(d.only_in_b) or '-')}</p>"
        )
    return "\n".join(out)


def _first_failures(s: ScenarioResult) -> str:
    failed = next((t for t in s.trials if t.outcome in ("failed", "error")), None)
    return "\n".join(f.text() for f in failed.failures) if failed else ""
