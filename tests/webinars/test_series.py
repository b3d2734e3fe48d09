"""Weekly series: sessions stay at their Brussels wall-clock time across clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlmodel import Session, select

from hub.errors import InvalidInput
from tests.webinars.helpers import team
from webinars.invites import LOCAL_TIME
from webinars.models import WebinarSession
from webinars.series import Slot, create_series, local_to_utc, occurrences, parse_pattern


def test_pattern_accepts_french_english_and_codes() -> None:
    assert parse_pattern("mardi 15:00, Jeudi 15h ; WE 10.30") == [
        Slot(1, time(15, 0)),
        Slot(2, time(10, 30)),
        Slot(3, time(15, 0)),
    ]
    for bad in ("", "mardi", "funday 15:00", "mardi 25:00", "mardi 15:75"):
        with pytest.raises(InvalidInput):
            parse_pattern(bad)


def test_local_times_across_march_and_october_changes() -> None:
    slots = parse_pattern("mardi 15:00, jeudi 15:00")
    # 2026: summer time starts Sunday 29 March, ends Sunday 25 October.
    march = occurrences(slots, date(2026, 3, 23), date(2026, 4, 3))
    october = occurrences(slots, date(2026, 10, 19), date(2026, 10, 30))
    for moments in (march, october):
        assert len(moments) == 4
        assert all(m.astimezone(LOCAL_TIME).time() == time(15, 0) for m in moments)
    assert [m.hour for m in march] == [14, 14, 13, 13]  # UTC: +01:00, then +02:00
    assert [m.hour for m in october] == [13, 13, 14, 14]
    # the skipped hour moves forward, the repeated hour is its first (summer) occurrence
    assert local_to_utc(date(2026, 3, 29), time(2, 30)) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert local_to_utc(date(2026, 10, 25), time(2, 30)) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


def test_create_series_across_dst_on_both_databases(db: Session) -> None:
    actor = team(db)
    series, sessions = create_series(
        db,
        actor=actor,
        title="Les mardis du numérique",
        pattern="mardi 15:00, mercredi 10:00, jeudi 15:00",
        starts_on=date(2030, 3, 18),
        ends_on=date(2030, 4, 5),
        duration_minutes=60,
        capacity=50,
        now=datetime(2030, 3, 1, tzinfo=UTC),
    )
    db.commit()
    assert series.pattern == "TU 15:00, WE 10:00, TH 15:00"
    stored = db.exec(select(WebinarSession).order_by(WebinarSession.starts_at)).all()
    assert len(stored) == len(sessions) == 9
    local = [s.starts_at.astimezone(LOCAL_TIME) for s in stored]
    assert {(t.strftime("%a"), t.strftime("%H:%M")) for t in local} == {
        ("Tue", "15:00"),
        ("Wed", "10:00"),
        ("Thu", "15:00"),
    }
    # 31 March 2030 is the change: the UTC offset moves, the local time does not
    assert {t.utcoffset().total_seconds() / 3600 for t in local} == {1.0, 2.0}  # type: ignore[union-attr]
    assert len({s.uid for s in stored}) == 9


def test_series_refuses_bad_input(db: Session) -> None:
    actor = team(db)
    with pytest.raises(InvalidInput) as caught:
        create_series(
            db,
            actor=actor,
            title="x\r\nATTENDEE:mailto:evil@example.org",
            pattern="lundi 15:00",
            starts_on=date(2030, 1, 10),
            ends_on=date(2030, 1, 1),
            duration_minutes=60,
            capacity=0,
        )
    assert {"title", "ends_on", "capacity"} <= set(caught.value.fields)
