"""The fault report as a table on the terminal."""

from __future__ import annotations

from rich.table import Table

from comanda.fault_harness.config import FaultReport, console


def print_report(report: FaultReport) -> None:
    """The table the issue asks for, the verdict, and the first few failures of each kind."""
    cfg = report.config
    kills = sum(report.kills.values())
    table = Table(title="fault harness", show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("required")
    points = ", ".join(f"{v} {k}" for k, v in report.kills.items())
    table.add_row("faults injected", str(report.faults), "")
    table.add_row("  worker SIGKILLs", f"{kills} ({points})", f"≥ {cfg.kills}")
    table.add_row("  Valkey restarts", str(report.valkey_restarts), "")
    table.add_row("  Postgres restarts", str(report.pg_restarts), "")
    table.add_row("  Postgres outage (frozen)", f"{report.pg_outage_s:.0f} s", "")
    table.add_row("  webhook deliveries", f"{report.deliveries} ({cfg.deliveries}× each, at once)", "")
    table.add_row("  forged/malformed requests", str(report.hostile), "all 4xx, no effect")
    table.add_row("messages", f"{report.messages} ({report.nudges} were '?' after a silence)", "")
    table.add_row("replies", str(report.replies), "")
    table.add_row("scripts finished / orders", f"{report.scripts_finished} / {report.orders}", "one order each")
    table.add_row("lost", str(report.lost), "0")
    table.add_row("duplicated", str(report.duplicated), "0")
    table.add_row("stuck", str(report.stuck), "0")
    table.add_row("wrong order count", str(report.wrong_orders), "0")
    table.add_row("hostile requests not refused / with effect", str(report.hostile_failures), "0")
    table.add_row("max reply delay (from sending)", f"{report.max_reply_s:.1f} s", "")
    table.add_row(
        "max reply delay (after the fault that hit it)",
        f"{report.max_reply_after_fault_s:.1f} s",
        f"≤ {cfg.delay_bound_s:.0f} s (reclaim + 10 s)",
    )
    table.add_row("max webhook ack", f"{report.max_ack_ms:.0f} ms", "")
    console.print(table)
    if report.worker_exits:
        console.print(f"  {report.worker_exits} worker start(s) failed (e.g. Postgres away) and were retried")
    for kind, lines in report.details.items():
        if kind == "slowest reply" or lines:
            console.print(f"[bold]{kind}[/] ({len(lines)}{'+' if len(lines) >= 50 else ''}):")
            for line in lines[:8]:
                console.print(f"  {line}", markup=False, highlight=False)
    console.print("phases: " + ", ".join(f"{k} {v:.0f} s" for k, v in report.phases.items()))
    verdict = "[green]meets[/]" if report.ok else "[red]misses[/]"
    console.print(f"{report.elapsed_s:.0f} s; 0 lost, 0 duplicated, 0 stuck, delay bound: {verdict}")
