"""Invites delivered over real SMTP (aiosmtpd on 127.0.0.1): structure, outage, recovery."""

from __future__ import annotations

from datetime import timedelta
from email.message import Message
from typing import Any

import ics
import vobject
from icalendar import Calendar
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hub.models import utcnow
from hub.outbox import OutboxStatus, deliver_due
from hub.settings import Settings
from hub.transports import configured_transports
from tests.webinars.helpers import mails, make_webinar, teachers, team
from webinars.registration import register, unregister
from webinars.sessions import cancel_session, move_session


def _calendar_part(message: Message) -> Message:
    assert message.get_content_type() == "multipart/alternative"
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return parts[0]


def _deliver(engine: Engine, settings: Settings, at: Any) -> Any:
    transports = configured_transports(settings)
    try:
        return deliver_due(engine, transports, now=lambda: at)
    finally:
        for transport in transports.values():
            transport.close()


def test_invites_over_smtp_with_outage_and_recovery(
    db: Session, engine: Engine, make_settings: Any, database_url: str, smtp_server: Any
) -> None:
    settings = make_settings(
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="none",
        smtp_from="Équipe e-learning <elearning@college.example>",
    )
    webinar = make_webinar(db, title='Moodle ; quiz, "examens" à distance', capacity=1)
    alice, bob = teachers(db, 2)
    register(db, webinar.id or 0, actor=alice, settings=settings)
    register(db, webinar.id or 0, actor=bob, settings=settings)  # waitlisted
    db.commit()

    # outage: the server is down, every message is kept for a retry
    smtp_server.stop()
    now = utcnow()
    report = _deliver(engine, settings, now)
    assert (report.sent, report.retried, report.failed) == (0, 2, 0)
    db.commit()
    assert {m.status for m in mails(db)} == {OutboxStatus.pending.value}
    assert all(m.attempts == 1 and m.last_error for m in mails(db))

    # recovery: delivered once each, and a further pass sends nothing
    smtp_server.start()
    assert _deliver(engine, settings, now + timedelta(seconds=10)).sent == 0  # backoff
    assert _deliver(engine, settings, now + timedelta(hours=1)).sent == 2
    assert _deliver(engine, settings, now + timedelta(hours=2)).sent == 0
    assert len(smtp_server.messages) == 2
    db.commit()  # end the test's read transaction before writing (SQLite)

    # leaving, promotion, a move and a cancellation: each mail's header method = body METHOD
    unregister(db, webinar.id or 0, actor=alice, settings=settings)
    move_session(
        db,
        webinar.id or 0,
        webinar.starts_at + timedelta(hours=1),
        actor=team(db),
        settings=settings,
    )
    cancel_session(db, webinar.id or 0, actor=team(db), settings=settings)
    db.commit()
    assert _deliver(engine, settings, now + timedelta(hours=3)).sent == 4
    received = smtp_server.messages
    assert len(received) == 6
    db.commit()
    assert {m.status for m in mails(db)} == {OutboxStatus.sent.value}

    methods = []
    for message in received:
        if message["X-Hub-Kind"] == "webinar.waitlisted":
            assert "text/calendar" not in {p.get_content_type() for p in message.walk()}
            continue
        part = _calendar_part(message)
        header_method = part.get_param("method")
        body = part.get_payload(decode=True).decode("utf-8")
        calendar = Calendar.from_ical(body)
        assert header_method == str(calendar["METHOD"])
        event = calendar.events[0]
        assert str(event["SUMMARY"]) == webinar.title
        assert str(event["ORGANIZER"]) == "mailto:elearning@college.example"
        assert [str(event["ATTENDEE"])] == [f"mailto:{message['To']}"]
        assert str(next(iter(ics.Calendar(body).events)).name) == webinar.title
        assert vobject.readOne(body).vevent.summary.value == webinar.title
        methods.append((message["To"], message["X-Hub-Kind"], header_method))
    assert methods == [
        (alice.email, "webinar.invite", "REQUEST"),
        (alice.email, "webinar.unregistered", "CANCEL"),
        (bob.email, "webinar.promoted", "REQUEST"),
        (bob.email, "webinar.update", "REQUEST"),
        (bob.email, "webinar.cancelled", "CANCEL"),
    ]
