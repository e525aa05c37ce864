"""Opening hours in the restaurant's time zone, including ranges that cross midnight."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tools.menu.hours import ALL_DAY, is_open, next_opening, parse_range

SP = "America/Sao_Paulo"
HOURS = {"tue": "18:00-23:30", "fri": "18:00-00:30", "sat": "18:00-00:30", "sun": "17:00-23:00"}


def sp(y: int, mo: int, d: int, h: int, mi: int) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(SP))


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (sp(2026, 11, 20, 17, 59), False),  # Friday, before opening
        (sp(2026, 11, 20, 18, 0), True),  # Friday opens
        (sp(2026, 11, 20, 23, 59), True),
        (sp(2026, 11, 21, 0, 15), True),  # Saturday 00:15: Friday's range crossed midnight
        (sp(2026, 11, 21, 0, 30), False),  # closes at 00:30 sharp
        (sp(2026, 11, 21, 12, 0), False),  # Saturday noon
        (sp(2026, 11, 22, 0, 20), True),  # Sunday 00:20: Saturday's range
        (sp(2026, 11, 23, 0, 20), False),  # Monday 00:20: Sunday closed at 23:00
        (sp(2026, 11, 23, 20, 0), False),  # Monday: no hours, closed
        (sp(2026, 11, 24, 23, 29), True),  # Tuesday
        (sp(2026, 11, 24, 23, 30), False),
    ],
)
def test_is_open_in_local_time(when: datetime, expected: bool) -> None:
    assert is_open(HOURS, SP, when) is expected


def test_an_instant_in_utc_is_judged_in_the_restaurants_zone() -> None:
    # 02:45 UTC on Saturday is 23:45 on Friday in São Paulo (UTC-3): open
    assert is_open(HOURS, SP, datetime(2026, 11, 21, 2, 45, tzinfo=UTC))
    # 21:00 UTC on Monday is 18:00 Monday in São Paulo: closed all day
    assert not is_open(HOURS, SP, datetime(2026, 11, 23, 21, 0, tzinfo=UTC))


def test_next_opening_skips_closed_days() -> None:
    # Monday afternoon: next opening is Tuesday 18:00
    assert next_opening(HOURS, SP, sp(2026, 11, 23, 15, 0)) == sp(2026, 11, 24, 18, 0)


@pytest.mark.parametrize("when", [sp(2026, 11, 23, 0, 0), sp(2026, 11, 23, 3, 30), sp(2026, 11, 23, 23, 59)])
def test_a_day_open_from_midnight_to_midnight_is_open_at_every_minute(when: datetime) -> None:
    assert is_open({"mon": ALL_DAY}, SP, when)
    assert not is_open({"mon": ALL_DAY}, SP, sp(2026, 11, 24, 0, 0))  # Tuesday has no hours


def test_24_00_closes_only_a_day_that_opens_at_midnight() -> None:
    with pytest.raises(ValueError):
        parse_range("18:00-24:00")
