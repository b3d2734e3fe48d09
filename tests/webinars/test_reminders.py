"""Reminders: exactly once, across restarts, late workers and moves (fake clock)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hub.db import make_engine
from hub.settings import Settings
from tests.webinars.helpers import mails, make_webinar, teachers, team
from webinars.models import WebinarReminder
from webinars.registration import register
from webinars.reminders import parse_offsets, process_due
from webinars.sessions import move_session


def _reminders(db: Session, to: str | None = None) -> list[str]:
    db.commit()  # end the read transaction: see what the passes committed
    return [m.body_text.split("\n\n")[1] for m in mails(db, to=to, kind="webinar.reminder")]


def test_offsets_setting() -> None:
    assert parse_offsets("24h,15m") == [1440, 15]
    assert parse_offsets("2d, 1h,1h") == [2880, 60]
    assert parse_offsets("") == []


def test_reminders_exactly_once_across_a_restart(
    db: Session, engine: Engine, settings: Settings
) -> None:
    webinar = make_webinar(db, starts_in=timedelta(days=3))
    (teacher,) = teachers(db, 1)
    register(db, webinar.id or 0, actor=teacher, settings=settings)
    db.commit()
    start = webinar.starts_at

    assert process_due(engine, start - timedelta(hours=25), settings=settings).sent == 0
    assert process_due(engine, start - timedelta(hours=24), settings=settings).sent == 1
    assert process_due(engine, start - timedelta(hours=24), settings=settings).sent == 0
    assert _reminders(db) == ["Rappel : le webinaire commence dans 1 jour."]

    # restart: a new process (engine) with the same database
    engine.dispose()
    restarted = make_engine(settings.effective_database_url)
    try:
        assert process_due(restarted, start - timedelta(hours=23), settings=settings).sent == 0
        # the worker was down at T-15 min; it comes back at T-10 min: sent late, once
        assert process_due(restarted, start - timedelta(minutes=10), settings=settings).sent == 1
        assert process_due(restarted, start - timedelta(minutes=9), settings=settings).sent == 0
        assert process_due(restarted, start + timedelta(minutes=1), settings=settings).sent == 0
    finally:
        restarted.dispose()
    assert _reminders(db) == [
        "Rappel : le webinaire commence dans 1 jour.",
        "Rappel : le webinaire commence dans 15 minutes.",
    ]


def test_late_registrant_long_outage_and_move(
    db: Session, engine: Engine, settings: Settings
) -> None:
    webinar = make_webinar(db, starts_in=timedelta(days=3))
    early, late = teachers(db, 2)
    register(db, webinar.id or 0, actor=early, settings=settings)
    start = webinar.starts_at
    register(db, webinar.id or 0, actor=late, now=start - timedelta(hours=2), settings=settings)
    db.commit()

    # the worker was down for a day: only the closest reminder goes out
    report = process_due(engine, start - timedelta(minutes=5), settings=settings)
    assert (report.sent, report.skipped) == (2, 0)
    assert _reminders(db, early.email) == ["Rappel : le webinaire commence dans 15 minutes."]
    assert _reminders(db, late.email) == ["Rappel : le webinaire commence dans 15 minutes."]
    rows = db.exec(select(WebinarReminder).where(WebinarReminder.user_id == early.id)).all()
    assert sorted((r.offset_minutes, r.skipped) for r in rows) == [(15, False), (1440, True)]

    # moved two days later: new reminders for the new time
    new_start = start + timedelta(days=2)
    move_session(
        db,
        webinar.id or 0,
        new_start,
        actor=team(db),
        now=start - timedelta(minutes=4),
        settings=settings,
    )
    db.commit()
    assert process_due(engine, new_start - timedelta(hours=24), settings=settings).sent == 2
    assert process_due(engine, new_start - timedelta(minutes=15), settings=settings).sent == 2
    assert len(_reminders(db, early.email)) == 3


def test_concurrent_passes_send_once(db: Session, engine: Engine, settings: Settings) -> None:
    webinar = make_webinar(db, starts_in=timedelta(days=3))
    people = teachers(db, 6)
    for person in people:
        register(db, webinar.id or 0, actor=person, settings=settings)
    db.commit()
    moment: datetime = webinar.starts_at - timedelta(hours=24)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            process_due(engine, moment, settings=settings)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(_reminders(db)) == 6
