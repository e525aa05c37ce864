"""`comanda usage`: a restaurant's metered conversations this month (or another) against its plan's quota."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated

import typer

from comanda.cli_common import _run_with_db, err, out
from memory.db import Pool
from memory.repos import tenants as tenant_repo
from memory.repos import usage as usage_repo


def _month(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date().replace(day=1)
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        err.print(f"--month {value!r}: use YYYY-MM, e.g. 2026-11")
        raise typer.Exit(2) from None


def usage_cmd(
    tenant: Annotated[str, typer.Option(help="Restaurant slug.")],
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month, UTC).")] = None,
    set_quota: Annotated[
        int | None, typer.Option("--set-quota", min=0, help="Set the monthly conversation quota (its plan's).")
    ] = None,
    unlimited: Annotated[bool, typer.Option("--unlimited", help="Remove the quota.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A restaurant's conversations in a month against its plan's quota.

    A conversation is a customer's messages with no day-long gap. Over the quota, new conversations go to staff.
    """
    first = _month(month)

    async def work(pool: Pool) -> usage_repo.MonthUsage | None:
        async with pool.connection() as conn:
            found = await tenant_repo.by_slug(conn, tenant)
            if found is None:
                return None
            if set_quota is not None or unlimited:
                await usage_repo.set_quota(conn, found.id, None if unlimited else set_quota)
            return await usage_repo.month_usage(conn, found.id, first)

    result = _run_with_db(work)
    if result is None:
        err.print(f"no restaurant with slug {tenant!r}")
        raise typer.Exit(1)
    if as_json:
        out.print_json(json.dumps({**result.model_dump(mode="json"), "remaining": result.remaining}))
        return
    quota = "no quota" if result.quota is None else f"quota {result.quota}, {result.remaining} left"
    out.print(f"{tenant} {result.month:%Y-%m}: {result.conversations} conversation(s), {quota}")
