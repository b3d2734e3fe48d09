"""Business-hours arithmetic: weekends, holidays, lunch breaks and both DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.business_hours import BRUSSELS, Schedule, ScheduleError, parse_hours
from hub.settings import SettingsError, load_settings

WEEK = Schedule.from_text("mon-fri 08:30-17:30", "2026-12-25, 2027-01-01")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS)  # type: ignore[misc]


def test_within_one_day() -> None:
    assert WEEK.add(local(2026, 3, 2, 9, 0), 2) == local(2026, 3, 2, 11, 0)  # a Monday


def test_rolls_over_the_night_and_the_weekend() -> None:
    friday_4pm = local(2026, 3, 6, 16, 0)
    # 1.5 h left on Friday, 6.5 h more from Monday 08:30.
    assert WEEK.add(friday_4pm, 8) == local(2026, 3, 9, 15, 0)
    assert WEEK.between(friday_4pm, local(2026, 3, 9, 15, 0)) == timedelta(hours=8)


def test_asked_at_night_starts_at_opening() -> None:
    assert WEEK.add(local(2026, 3, 7, 23, 0), 1) == local(2026, 3, 9, 9, 30)  # Saturday night
    assert not WEEK.is_open(local(2026, 3, 7, 11, 0))
    assert WEEK.next_opening(local(2026, 3, 7, 11, 0)) == local(2026, 3, 9, 8, 30)


def test_holidays_are_skipped() -> None:
    # Thursday 24 December 2026 17:00; Friday 25 is a holiday, then the weekend.
    assert WEEK.add(local(2026, 12, 24, 17, 0), 1) == local(2026, 12, 28, 9, 0)
    assert WEEK.between(local(2026, 12, 24, 17, 30), local(2026, 12, 28, 8, 30)) == timedelta(0)


def test_spring_forward_keeps_local_opening_hours() -> None:
    # Clocks go 02:00 -> 03:00 on Sunday 29 March 2026: Friday 17:00 + 1 h = Monday 09:00.
    start = local(2026, 3, 27, 17, 0)
    due = WEEK.add(start, 1)
    assert due == local(2026, 3, 30, 9, 0)
    assert due.astimezone(UTC).hour == 7  # summer time (UTC+2)
    assert start.astimezone(UTC).hour == 16  # winter time (UTC+1)
    # A schedule open on Sunday night: the lost hour is not counted.
    nights = Schedule.from_text("sun 00:00-06:00")
    assert nights.between(local(2026, 3, 29, 0, 0), local(2026, 3, 29, 6, 0)) == timedelta(hours=5)


def test_fall_back_counts_the_extra_hour() -> None:
    nights = Schedule.from_text("sun 00:00-06:00")
    # 25 October 2026: 03:00 -> 02:00, the night is one hour longer.
    assert nights.between(local(2026, 10, 25, 0, 0), local(2026, 10, 25, 6, 0)) == timedelta(
        hours=7
    )
    friday = local(2026, 10, 23, 17, 0)
    assert WEEK.add(friday, 1) == local(2026, 10, 26, 9, 0)


def test_subtract_is_the_inverse_of_add() -> None:
    for start in (local(2026, 3, 6, 16, 0), local(2026, 3, 27, 12, 0), local(2026, 12, 23, 10, 0)):
        for hours in (0.5, 2, 8, 20):
            due = WEEK.add(start, hours)
            assert WEEK.subtract(due, hours) == start or WEEK.between(
                WEEK.subtract(due, hours), due
            ) == timedelta(hours=hours)
            assert WEEK.between(start, due) == timedelta(hours=hours)


def test_lunch_break_and_several_parts() -> None:
    schedule = Schedule.from_text("mon-fri 08:00-12:00 13:00-17:00; sat 09:00-12:00")
    assert schedule.add(local(2026, 3, 2, 11, 0), 2) == local(2026, 3, 2, 14, 0)
    assert schedule.add(local(2026, 3, 6, 16, 0), 2) == local(2026, 3, 7, 10, 0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mon-fri",
        "mon-fri 17:00-08:00",
        "xyz 08:00-09:00",
        "fri-mon 08:00-09:00",
        "mon 08:00-12:00 11:00-13:00",
        "mon 25:00-26:00",
    ],
)
def test_bad_opening_hours_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_hours(text)


def test_settings_refuse_bad_hours_and_holidays() -> None:
    with pytest.raises(SettingsError, match="HUB_BUSINESS_HOURS"):
        load_settings(_env_file=None, business_hours="weekdays 9 to 5")
    with pytest.raises(SettingsError, match="HUB_HOLIDAYS"):
        load_settings(_env_file=None, holidays="2026-13-01")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        WEEK.add(datetime(2026, 3, 2, 9, 0), 1)
