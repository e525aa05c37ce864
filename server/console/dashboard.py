"""The dashboard's windows (today and the last 7 days, in the restaurant's time zone) and its small SVG charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from memory.db import Pool
from memory.repos import dashboard as dashboard_repo
from memory.repos.dashboard import Figures
from memory.repos.tenants import Tenant

DAYS = 7


@dataclass(frozen=True)
class Dashboard:
    """Today, the last 7 days, and each of those days (oldest first) for the charts."""

    today: Figures
    week: Figures
    days: list[tuple[date, Figures]]


async def build(pool: Pool, tenant: Tenant, now: datetime) -> Dashboard:
    """The figures the dashboard shows at `now`."""
    tz = ZoneInfo(tenant.timezone)
    midnight = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)
    starts = [midnight - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    async with pool.connection() as conn:
        days = [
            (start.date(), await dashboard_repo.figures(conn, tenant.id, start, min(start + timedelta(days=1), now)))
            for start in starts
        ]
        week = await dashboard_repo.figures(conn, tenant.id, starts[0], now)
    return Dashboard(today=days[-1][1], week=week, days=days)


def bars(values: list[float | Decimal | int | None], width: int = 140, height: int = 36) -> str:
    """A tiny bar chart as inline SVG (no script): one bar a day, the last one (today) highlighted."""
    numbers = [float(v) if v is not None else 0.0 for v in values]
    top = max(numbers) or 1.0
    step = width / max(len(numbers), 1)
    rects = []
    for i, v in enumerate(numbers):
        h = max(1.0, v / top * (height - 2)) if v else 1.0
        fill = "#c2410c" if i == len(numbers) - 1 else "#fdba74"
        rects.append(
            f'<rect x="{i * step + 1:.1f}" y="{height - h:.1f}" width="{step - 2:.1f}" height="{h:.1f}" fill="{fill}"/>'
        )
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-hidden="true">{"".join(rects)}</svg>'
    )
