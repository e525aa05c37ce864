"""Opening hours in the restaurant's time zone, including ranges that cross midnight."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
ALL_DAY = "00:00-24:00"  # open the whole day: what a "24:00" closing means, and only with a 00:00 opening


class DayHours(BaseModel):
    """Opening and closing time of one day; `closes <= opens` means it closes after midnight."""

    model_config = ConfigDict(frozen=True)

    opens: time
    closes: time

    @property
    def crosses_midnight(self) -> bool:
        """True when the closing time belongs to the next day."""
        return self.closes <= self.opens


def parse_range(text: str) -> DayHours:
    """Parse "18:00-00:30" (or "00:00-24:00", the whole day); raises ValueError with the expected format otherwise."""
    if text.strip() == ALL_DAY:
        # opens at midnight and closes at the next midnight: a range that crosses midnight from 00:00
        return DayHours(opens=time(0, 0), closes=time(0, 0))
    m = _RANGE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a range like '18:00-23:30'")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if (h1, m1) == (h2, m2):
        raise ValueError(f"{text!r} opens and closes at the same minute")
    return DayHours(opens=time(h1, m1), closes=time(h2, m2))


def parse_hours(hours: dict[str, str]) -> dict[str, DayHours]:
    """Parse a week of hours keyed by mon..sun (a missing day is closed)."""
    return {day: parse_range(value) for day, value in hours.items()}


def is_open(hours: dict[str, str], tz: str, at: datetime) -> bool:
    """Whether the restaurant is open at `at` (any aware datetime), in its own time zone."""
    local = at.astimezone(ZoneInfo(tz))
    week = parse_hours(hours)
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local.weekday() - 1) % 7]
    now = local.time()
    if today in week:
        h = week[today]
        if h.crosses_midnight:
            if now >= h.opens:
                return True
        elif h.opens <= now < h.closes:
            return True
    # the tail of yesterday's range, when it crossed midnight
    if yesterday in week:
        h = week[yesterday]
        if h.crosses_midnight and now < h.closes:
            return True
    return False


def next_opening(hours: dict[str, str], tz: str, at: datetime) -> datetime | None:
    """When the restaurant next opens after `at` (local time), or None if it has no hours at all."""
    week = parse_hours(hours)
    if not week:
        return None
    local = at.astimezone(ZoneInfo(tz))
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        key = DAYS[day.weekday()]
        if key not in week:
            continue
        opens = datetime.combine(day, week[key].opens, tzinfo=ZoneInfo(tz))
        if opens > local:
            return opens
    return None
