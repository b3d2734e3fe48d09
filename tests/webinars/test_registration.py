"""Seats, waitlist, promotion and leaving, with the mails each step sends."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hub.db import session_scope
from hub.errors import Conflict, NotFound, PermissionDenied
from hub.models import Role, User, utcnow
from hub.settings import Settings
from tests.factories import make_user
from tests.webinars.helpers import mails, make_webinar, teachers, team
from webinars.models import RegistrationStatus, WebinarRegistration, WebinarSession
from webinars.registration import counts, register, unregister, waitlist_position
from webinars.sessions import SessionInput, cancel_session, move_session, update_session


def _event(message: object) -> object:
    calendar = Calendar.from_ical(message.calendar_ics)  # type: ignore[attr-defined]
    return calendar.events[0]


def _sequence(message: object) -> int:
    return int(_event(message)["SEQUENCE"])  # type: ignore[index]


def test_capacity_holds_under_concurrent_registrations(
    db: Session, engine: Engine, settings: Settings
) -> None:
    webinar = make_webinar(db, capacity=5)
    people = teachers(db, 24)
    start = threading.Barrier(len(people))
    errors: list[BaseException] = []

    def sign_up(user: User) -> None:
        try:
            start.wait()
            with session_scope(engine) as session:
                register(
                    session, webinar.id or 0, actor=session.get(User, user.id), settings=settings
                )  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=sign_up, args=(user,)) for user in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.expire_all()
    assert counts(db, webinar.id or 0) == (5, 19)
    assert db.get(WebinarSession, webinar.id).registered_count == 5  # type: ignore[union-attr]
    waitlisted = db.exec(
        select(WebinarRegistration).where(
            WebinarRegistration.status == RegistrationStatus.waitlisted.value
        )
    ).all()
    assert sorted(waitlist_position(db, r) or 0 for r in waitlisted) == list(range(1, 20))
    assert len(mails(db, kind="webinar.invite")) == 5
    assert len(mails(db, kind="webinar.waitlisted")) == 19


def test_waitlist_promotion_sends_request_and_leaver_gets_cancel(
    db: Session, settings: Settings
) -> None:
    webinar = make_webinar(db, capacity=1)
    first, second, third = teachers(db, 3)
    for person in (first, second, third):
        register(db, webinar.id or 0, actor=person, settings=settings)
    db.commit()
    assert counts(db, webinar.id or 0) == (1, 2)
    invite = mails(db, to=first.email, kind="webinar.invite")[0]
    assert invite.calendar_method == "REQUEST"

    unregister(db, webinar.id or 0, actor=first, settings=settings)
    db.commit()
    cancel = mails(db, to=first.email, kind="webinar.unregistered")[0]
    assert cancel.calendar_method == "CANCEL"
    assert "METHOD:CANCEL" in (cancel.calendar_ics or "")
    assert _sequence(cancel) > _sequence(invite)  # the leaver's calendar accepts it
    promoted = mails(db, to=second.email, kind="webinar.promoted")
    assert len(promoted) == 1 and promoted[0].calendar_method == "REQUEST"
    attendees = _event(promoted[0]).get("ATTENDEE")  # type: ignore[attr-defined]
    assert str(attendees) == f"mailto:{second.email}"
    assert mails(db, to=third.email, kind="webinar.promoted") == []
    assert counts(db, webinar.id or 0) == (1, 1)
    third_row = db.exec(
        select(WebinarRegistration).where(WebinarRegistration.user_id == third.id)
    ).one()
    assert waitlist_position(db, third_row) == 1

    # leaving the waitlist sends no calendar mail; coming back sends a higher SEQUENCE
    unregister(db, webinar.id or 0, actor=third, settings=settings)
    unregister(db, webinar.id or 0, actor=second, settings=settings)
    db.commit()
    assert counts(db, webinar.id or 0) == (0, 0)
    register(db, webinar.id or 0, actor=first, settings=settings)
    db.commit()
    again = mails(db, to=first.email, kind="webinar.invite")
    assert len(again) == 2 and _sequence(again[1]) > _sequence(cancel)


def test_register_twice_is_idempotent_and_rules_apply(db: Session, settings: Settings) -> None:
    webinar = make_webinar(db, capacity=3)
    (teacher,) = teachers(db, 1)
    first = register(db, webinar.id or 0, actor=teacher, settings=settings)
    second = register(db, webinar.id or 0, actor=teacher, settings=settings)
    db.commit()
    assert first.id == second.id
    assert counts(db, webinar.id or 0) == (1, 0)
    assert len(mails(db, to=teacher.email)) == 1
    student = make_user(db, Role.student, departments=("SCI",))
    with pytest.raises(PermissionDenied):
        register(db, webinar.id or 0, actor=student, settings=settings)
    other = teachers(db, 1)[0]
    with pytest.raises(NotFound):
        unregister(db, webinar.id or 0, actor=other, settings=settings)
    past = make_webinar(db, starts_in=timedelta(days=3))
    past.starts_at = utcnow() - timedelta(minutes=1)
    db.add(past)
    db.commit()
    with pytest.raises(Conflict):
        register(db, past.id or 0, actor=other, settings=settings)


def test_sequence_grows_on_real_changes_and_cancel(db: Session, settings: Settings) -> None:
    webinar = make_webinar(db, capacity=10)
    actor = team(db)
    alice, bob = teachers(db, 2)
    register(db, webinar.id or 0, actor=alice, settings=settings)
    register(db, webinar.id or 0, actor=bob, settings=settings)
    db.commit()
    invite_seq = _sequence(mails(db, to=alice.email)[0])

    # a description-only edit is not a real change: no mail, same SEQUENCE
    data = SessionInput(
        title=webinar.title,
        starts_at=webinar.starts_at,
        duration_minutes=webinar.duration_minutes,
        capacity=12,
        description="Autre texte",
    )
    _, changes = update_session(db, webinar.id or 0, data, actor=actor, settings=settings)
    db.commit()
    assert changes == [] and db.get(WebinarSession, webinar.id).sequence == 0  # type: ignore[union-attr]
    assert mails(db, kind="webinar.update") == []

    moved = move_session(
        db, webinar.id or 0, webinar.starts_at + timedelta(days=1), actor=actor, settings=settings
    )
    db.commit()
    assert moved.sequence == 1
    updates = mails(db, kind="webinar.update")
    assert {m.recipient for m in updates} == {alice.email, bob.email}
    assert all(_sequence(m) > invite_seq and m.calendar_method == "REQUEST" for m in updates)
    event = _event(updates[0])
    assert event.start == moved.starts_at  # type: ignore[attr-defined]

    cancel_session(db, webinar.id or 0, actor=actor, settings=settings)
    db.commit()
    cancels = mails(db, kind="webinar.cancelled")
    assert {m.recipient for m in cancels} == {alice.email, bob.email}
    assert all(m.calendar_method == "CANCEL" and _sequence(m) == 2 for m in cancels)
    assert all("STATUS:CANCELLED" in (m.calendar_ics or "") for m in cancels)
    with pytest.raises(Conflict):
        register(db, webinar.id or 0, actor=teachers(db, 1)[0], settings=settings)


def test_capacity_increase_promotes_the_waitlist(db: Session, settings: Settings) -> None:
    webinar = make_webinar(db, capacity=1)
    people = teachers(db, 3)
    for person in people:
        register(db, webinar.id or 0, actor=person, settings=settings)
    db.commit()
    data = SessionInput(
        title=webinar.title,
        starts_at=webinar.starts_at,
        duration_minutes=webinar.duration_minutes,
        capacity=3,
        description=webinar.description,
    )
    update_session(db, webinar.id or 0, data, actor=team(db), settings=settings)
    db.commit()
    assert counts(db, webinar.id or 0) == (3, 0)
    assert len(mails(db, kind="webinar.promoted")) == 2
