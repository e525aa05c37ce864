"""The HTML report of a run: summary, pass^k, per-tag success, routing confusion, slowest and costliest, failures."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from evals.results import RunResults, ScenarioResult, TrialResult

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f5f5f5}
.num{text-align:right;font-variant-numeric:tabular-nums}.pass{color:#080}.fail{color:#b00}.skip{color:#888}
.diag{background:#e8f5e9}.off{background:#ffebee}pre{white-space:pre-wrap;margin:0;font:12px/1.4 monospace}
.turn{border-left:3px solid #ccc;padding-left:.5rem;margin:.3rem 0}.cust{color:#1565c0}.bot{color:#333}
details{margin:.5rem 0;border:1px solid #eee;padding:.5rem}summary{cursor:pointer;font-weight:600}
"""


def pct(value: float | None) -> str:
    """0.8123 → "81.2 %"."""
    return "—" if value is None else f"{value * 100:.1f} %"


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _outcome(s: ScenarioResult) -> str:
    if s.skipped:
        return f'<span class="skip">skipped: {escape(s.skipped)}</span>'
    cls = "pass" if s.passed else "fail"
    return f'<span class="{cls}">{s.successes}/{s.graded}</span>'


def transcript_html(trial: TrialResult) -> str:
    """The conversation with route, tools and timing per turn."""
    parts = []
    for n, turn in enumerate(trial.transcript, start=1):
        if turn.action:
            parts.append(f'<div class="turn"><b>{n}.</b> <i>customer action: {escape(turn.action)}</i></div>')
            continue
        route = escape(turn.route or "none")
        if turn.expected_route:
            ok = (turn.route or "none") == turn.expected_route
            route += f" ({'✓' if ok else '✗ expected ' + escape(turn.expected_route)})"
        tools = ", ".join(
            f"{escape(c.name)}({escape(json.dumps(c.args, ensure_ascii=False))})" for c in turn.tool_calls
        )
        parts.append(
            f'<div class="turn"><b>{n}.</b> <span class="cust">&gt; {escape(" / ".join(turn.customer))}</span>'
            f"<br><small>route {route} · by {escape(turn.decided_by or '-')} · tools: {tools or '-'} · "
            f"{turn.model_calls} model calls · {turn.elapsed_ms:.0f} ms{' · paused' if turn.paused else ''}</small>"
            f'<pre class="bot">{escape(chr(10).join(turn.replies) or "(no reply)")}</pre></div>'
        )
    return "".join(parts)


def failure_table(trial: TrialResult) -> str:
    """Each failed check: field, expected, actual."""
    rows = [
        [
            escape(f.check),
            escape(f.field),
            f"<pre>{escape(_fmt(f.expected))}</pre>",
            f"<pre>{escape(_fmt(f.actual))}</pre>",
        ]
        for f in trial.failures
    ]
    return _table(["check", "field", "expected", "actual"], rows)


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def render(results: RunResults) -> str:
    """The whole report as one self-contained HTML page."""
    s = results.summary
    out = [
        "<!doctype html><meta charset=utf-8>"
        f"<title>Comanda evals — {escape(results.model)}</title><style>{STYLE}</style>"
    ]
    out.append(f"<h1>Comanda evals: {escape(results.model)}, prompts {escape(results.prompts)}</h1>")
    out.append(
        f"<p>{escape(results.started_at)} · suite <code>{escape(results.suite)}</code> · k = {results.k} · "
        f"{s.duration_s:.1f} s</p>"
    )
    out.append("<h2>Summary</h2>")
    rows = [
        ["scenarios", f"{s.scenarios} ({s.ran} ran, {s.skipped} skipped)"],
        ["trials", f"{s.passed_trials} passed of {s.trials}"],
        ["success rate", pct(s.success_rate)],
        *[[f"pass^{k}", pct(v)] for k, v in sorted(s.pass_hat_k.items())],
        ["routing accuracy", f"{pct(s.routing.accuracy)} of {s.routing.labelled_turns} labelled turns"],
        ["model calls per turn", f"{s.model_calls_per_turn:.2f} ({s.model_calls} over {s.turns} turns)"],
        ["tokens in / out", f"{s.tokens_in} / {s.tokens_out}"],
        ["estimated cost", f"US$ {s.cost_usd:.4f}"],
    ]
    out.append(_table(["", ""], [[escape(a), escape(b)] for a, b in rows]))
    skipped = [x for x in results.scenarios if x.skipped]
    if skipped:
        out.append(
            "<p class=skip>Not run (not counted as passes): "
            + ", ".join(f"{escape(x.id)} ({escape(x.skipped or '')})" for x in skipped)
            + "</p>"
        )
    out.append("<h2>Success per tag</h2>")
    out.append(
        _table(
            ["tag", "scenarios", "trials", "passed", "rate"],
            [[escape(t), str(v.scenarios), str(v.trials), str(v.passed), pct(v.rate)] for t, v in s.per_tag.items()],
            {1, 2, 3, 4},
        )
    )
    out.append("<h2>Routing confusion (rows: expected, columns: actual)</h2>")
    labels = [
        lab
        for lab in s.routing.labels
        if lab in s.routing.confusion or any(lab in r for r in s.routing.confusion.values())
    ]
    rows_c = []
    for exp in labels:
        row = s.routing.confusion.get(exp, {})
        cells = []
        for act in labels:
            n = row.get(act, 0)
            cls = "diag" if exp == act and n else ("off" if n else "")
            cells.append(f'<span class="{cls}">{n or ""}</span>')
        rows_c.append([f"<b>{escape(exp)}</b>", *cells])
    out.append(_table(["expected \\ actual", *labels], rows_c, set(range(1, len(labels) + 1))))
    graded = [(x, t) for x in results.scenarios for t in x.trials if t.outcome != "skipped"]
    out.append("<h2>Slowest trials (bot time)</h2>")
    slow = sorted(graded, key=lambda p: p[1].latency_ms, reverse=True)[:10]
    out.append(
        _table(
            ["scenario", "trial", "turns", "bot ms", "ms per turn"],
            [
                [
                    escape(x.id),
                    str(t.trial),
                    str(len(t.transcript)),
                    f"{t.latency_ms:.0f}",
                    f"{t.latency_ms / max(1, len(t.transcript)):.0f}",
                ]
                for x, t in slow
            ],
            {1, 2, 3, 4},
        )
    )
    out.append("<h2>Most expensive trials</h2>")
    costly = sorted(
        graded, key=lambda p: (p[1].cost_usd, p[1].tokens_in + p[1].tokens_out, p[1].model_calls), reverse=True
    )[:10]
    out.append(
        _table(
            ["scenario", "trial", "model calls", "tokens in", "tokens out", "US$"],
            [
                [
                    escape(x.id),
                    str(t.trial),
                    str(t.model_calls),
                    str(t.tokens_in),
                    str(t.tokens_out),
                    f"{t.cost_usd:.5f}",
                ]
                for x, t in costly
            ],
            {1, 2, 3, 4, 5},
        )
    )
    out.append("<h2>Scenarios</h2>")
    out.append(
        _table(
            ["scenario", "tags", "passed", "known failure", "file"],
            [
                [
                    escape(x.id),
                    escape(", ".join(x.tags)),
                    _outcome(x),
                    escape(x.known_failure or ""),
                    escape(x.file.split("/")[-1]),
                ]
                for x in results.scenarios
            ],
        )
    )
    failures = [(x, t) for x, t in graded if t.outcome != "passed"]
    out.append(f"<h2>Failures ({len(failures)})</h2>")
    for x, t in failures:
        out.append(
            f"<details><summary class=fail>{escape(x.id)} — trial {t.trial}: {escape(t.outcome)}, "
            f"{len(t.failures)} check(s)</summary><p>{escape(x.description)}</p>"
            + (f"<p><b>error:</b> {escape(t.error)}</p>" if t.error else "")
            + failure_table(t)
            + "<h4>Transcript</h4>"
            + transcript_html(t)
            + "<h4>Final state (actual)</h4><pre>"
            + escape(_fmt(t.actual_state))
            + "</pre></details>"
        )
    return "\n".join(out)
