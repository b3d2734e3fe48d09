"""Business-hours arithmetic for service-level targets (Europe/Brussels by default).

A `Schedule` is opening hours per weekday plus a list of closed days (holidays). Every
computation works on real instants (aware datetimes): each local day's opening interval is
turned into UTC with zoneinfo, so a day on which clocks change (last Sunday of March or
October) simply has a shorter or longer night, and opening hours stay local (08:30 is 08:30
in winter and in summer).

The format of opening hours (settings `HUB_BUSINESS_HOURS`, `HUB_CRISIS_BUSINESS_HOURS`):
``"mon-fri 08:30-17:30"``, several parts separated by ``;`` or ``,``, e.g.
``"mon-fri 08:00-12:00 13:00-17:00; sat 09:00-12:00"``. A day not listed is closed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")


def local_day(moment: datetime | None = None) -> date:
    """The college's calendar day (Europe/Brussels) of a moment, now by default."""
    return (moment or datetime.now(UTC)).astimezone(BRUSSELS).date()


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SEARCH_DAYS = 3 * 366  # a schedule with no opening in three years is a configuration error

_PART = re.compile(
    r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?)\s+(?P<ranges>\d{1,2}:\d{2}-\d{1,2}:\d{2}"
    r"(?:\s+\d{1,2}:\d{2}-\d{1,2}:\d{2})*)$"
)


class ScheduleError(ValueError):
    """A malformed opening-hours or holiday setting (the message says which part)."""


def _clock(text: str) -> time:
    hours, minutes = (int(x) for x in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ScheduleError(f"invalid time {text!r}")
    return time(hours, minutes)


def parse_hours(text: str) -> dict[int, tuple[tuple[time, time], ...]]:
    """``"mon-fri 08:30-17:30; sat 09:00-12:00"`` -> {weekday: ((open, close), ...)}."""
    opening: dict[int, list[tuple[time, time]]] = {}
    parts = [p.strip().lower() for p in re.split(r"[;,]", text) if p.strip()]
    if not parts:
        raise ScheduleError("no opening hours (expected e.g. 'mon-fri 08:30-17:30')")
    for part in parts:
        match = _PART.match(" ".join(part.split()))
        if not match:
            raise ScheduleError(f"cannot read {part!r} (expected e.g. 'mon-fri 08:30-17:30')")
        first, _, last = match["days"].partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ScheduleError(f"unknown day in {part!r} (mon, tue, wed, thu, fri, sat, sun)")
        start, end = DAYS.index(first), DAYS.index(last or first)
        if end < start:
            raise ScheduleError(f"days go backwards in {part!r}")
        ranges = []
        for span in match["ranges"].split():
            opens, closes = (_clock(x) for x in span.split("-"))
            if closes <= opens:
                raise ScheduleError(f"{span!r} closes before it opens")
            ranges.append((opens, closes))
        for day in range(start, end + 1):
            opening.setdefault(day, []).extend(ranges)
    result = {}
    for day, ranges in opening.items():
        ranges.sort()
        for (_, close), (next_open, _) in zip(ranges, ranges[1:], strict=False):
            if next_open < close:
                raise ScheduleError(f"overlapping hours on {DAYS[day]}")
        result[day] = tuple(ranges)
    return result


def parse_holidays(text: str) -> frozenset[date]:
    """``"2026-12-25, 2027-01-01"`` -> dates (ISO format; empty text: no holidays)."""
    days = set()
    for item in re.split(r"[,;\s]+", text.strip()):
        if not item:
            continue
        try:
            days.add(date.fromisoformat(item))
        except ValueError:
            raise ScheduleError(f"invalid holiday {item!r} (expected YYYY-MM-DD)") from None
    return frozenset(days)


@dataclass(frozen=True)
class Schedule:
    opening: dict[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date] = field(default_factory=frozenset)
    zone: ZoneInfo = BRUSSELS

    @classmethod
    def from_text(cls, hours: str, holidays: str = "", zone: ZoneInfo = BRUSSELS) -> Schedule:
        return cls(parse_hours(hours), parse_holidays(holidays), zone)

    # --- the open intervals, as UTC instants ---------------------------------------------

    def _day_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        intervals = []
        for opens, closes in self.opening.get(day.weekday(), ()):
            start = datetime.combine(day, opens, self.zone).astimezone(UTC)
            if closes == time.max:
                end = datetime.combine(day + timedelta(days=1), time(0), self.zone)
            else:
                end = datetime.combine(day, closes, self.zone)
            end = end.astimezone(UTC)
            if end > start:  # a range falling inside a spring-forward gap is empty
                intervals.append((start, end))
        return intervals

    def _forward(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (clipped) from `at` onwards."""
        at = _aware(at)
        day = at.astimezone(self.zone).date()
        for offset in range(MAX_SEARCH_DAYS):
            for start, end in self._day_intervals(day + timedelta(days=offset)):
                if end > at:
                    yield max(start, at), end
        raise ScheduleError("the schedule never opens (check opening hours and holidays)")

    def _backward(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (clipped) before `at`, latest first."""
        at = _aware(at)
        day = at.astimezone(self.zone).date()
        for offset in range(MAX_SEARCH_DAYS):
            for start, end in reversed(self._day_intervals(day - timedelta(days=offset))):
                if start < at:
                    yield start, min(end, at)
        raise ScheduleError("the schedule never opens (check opening hours and holidays)")

    # --- questions the hub asks ----------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        at = _aware(at)
        day = at.astimezone(self.zone).date()
        return any(start <= at < end for start, end in self._day_intervals(day))

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when open, else the next opening."""
        start, _ = next(self._forward(at))
        return start

    def add(self, start: datetime, hours: float) -> datetime:
        """The instant `hours` business hours after `start` (a deadline)."""
        remaining = timedelta(hours=hours)
        if remaining <= timedelta(0):
            return self.next_opening(start) if remaining == timedelta(0) else _aware(start)
        for begin, end in self._forward(start):
            if end - begin >= remaining:
                return begin + remaining
            remaining -= end - begin
        raise AssertionError("unreachable")  # pragma: no cover

    def subtract(self, end: datetime, hours: float) -> datetime:
        """The latest instant `t` with `between(t, end) >= hours`: anything that started at
        or before `t` has used up its target by `end` (one cutoff instead of one computation
        per question: the SLA sweep's query)."""
        remaining = timedelta(hours=hours)
        if remaining <= timedelta(0):
            return _aware(end)
        for begin, stop in self._backward(end):
            if stop - begin >= remaining:
                return stop - remaining
            remaining -= stop - begin
        raise AssertionError("unreachable")  # pragma: no cover

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time elapsed from `start` to `end` (zero if end <= start)."""
        start, end = _aware(start), _aware(end)
        total = timedelta(0)
        if end <= start:
            return total
        for begin, stop in self._forward(start):
            if begin >= end:
                break
            total += min(stop, end) - begin
        return total


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to business-hours arithmetic")
    return value.astimezone(UTC)


def describe(schedule: Schedule) -> list[str]:
    """Human-readable lines, e.g. ['mon 08:30-17:30', ...] (for the settings' documentation)."""
    lines = []
    for day in range(7):
        ranges: Iterable[tuple[time, time]] = schedule.opening.get(day, ())
        spans = " ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in ranges)
        if spans:
            lines.append(f"{DAYS[day]} {spans}")
    return lines
