"""iCalendar and e-mail header injection through user fields.

A webinar title or description, a person's name or a question's title carrying CR/LF and
`ATTENDEE:` / `Bcc:` lines must never add a property to an invite nor a header to a mail.
The mails are the real outbox rows queued by the services, built with hub/mail.py
`build_email` and parsed back with the email package and icalendar.
"""

from __future__ import annotations

import email
from datetime import timedelta
from email.message import Message
from email.policy import default

import icalendar
import pytest
from sqlmodel import Session, col, select

from hub.errors import InvalidInput
from hub.mail import build_email
from hub.models import Role, User, id_of, utcnow
from hub.outbox import OutboxMessage
from hub.questions import asking
from hub.settings import Settings
from tests.factories import make_department, make_user
from webinars import registration
from webinars.sessions import SessionInput, create_session

EVIL = "evil@attacker.example"
PAYLOADS = [
    f"Quiz\r\nATTENDEE;CN=Evil:mailto:{EVIL}\r\nBcc: {EVIL}",
    f"Quiz\nBcc: {EVIL}\nATTENDEE:mailto:{EVIL}",
    f"Quiz\rCc: {EVIL}",
    f"Quiz\u2028Bcc: {EVIL}\x85ATTENDEE:mailto:{EVIL}",
    f"Quiz\r\n\r\nBEGIN:VEVENT\r\nATTENDEE:mailto:{EVIL}\r\nEND:VEVENT",
]
ALLOWED_HEADERS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "auto-submitted",
    "x-hub-kind",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}


def _mails(db: Session, to: str) -> list[OutboxMessage]:
    db.commit()
    db.expire_all()
    query = select(OutboxMessage).where(
        OutboxMessage.channel == "email", OutboxMessage.recipient == to
    )
    return list(db.exec(query.order_by(col(OutboxMessage.id))).all())


def _parsed(row: OutboxMessage, settings: Settings) -> Message:
    raw = build_email(row, settings).as_bytes()
    return email.message_from_bytes(raw, policy=default)


def _assert_clean_mail(mail: Message, recipient: str) -> None:
    names = {name.lower() for name in mail.keys()}
    assert names <= ALLOWED_HEADERS, names - ALLOWED_HEADERS
    assert mail.get_all("To") == [recipient]
    assert "\n" not in str(mail["Subject"]) and "\r" not in str(mail["Subject"])
    assert EVIL not in str(mail["To"]) + str(mail["From"])
    for part in mail.walk():  # no header smuggled into a MIME part either
        assert {name.lower() for name in part.keys()} <= ALLOWED_HEADERS


def _calendar_events(mail: Message) -> list[icalendar.cal.Component]:
    parts = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    calendar = icalendar.Calendar.from_ical(payload)
    return list(calendar.walk("VEVENT"))


def _assert_clean_invite(mail: Message, attendee: User) -> None:
    events = _calendar_events(mail)
    assert len(events) == 1  # no event smuggled in
    event = events[0]
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [str(a).lower() for a in attendees] == [f"mailto:{attendee.email.lower()}"]
    for name, value in event.property_items():
        if name in ("ATTENDEE", "ORGANIZER"):
            assert EVIL not in str(value)


def _webinar(db: Session, title: str, description: str) -> int:
    team = db.exec(select(User).where(User.role == Role.elearning)).first()
    assert team is not None
    webinar = create_session(
        db,
        actor=team,
        data=SessionInput(
            title=title,
            starts_at=(utcnow() + timedelta(days=3)).replace(second=0, microsecond=0),
            duration_minutes=60,
            capacity=10,
            description=description,
            join_url="",
        ),
    )
    db.commit()
    return id_of(webinar)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_webinar_title_and_description_never_add_properties_or_headers(
    db: Session, settings: Settings, payload: str
) -> None:
    make_department(db)
    make_user(db, Role.elearning)
    teacher = make_user(db, Role.teacher)
    try:
        webinar_id = _webinar(db, title=payload, description="Ordre du jour")
    except InvalidInput:
        db.rollback()  # control characters in a one-line field are refused at the boundary
        try:
            webinar_id = _webinar(db, title="Quiz", description=payload)
        except InvalidInput:
            return  # refused in the (multi-line) description too
    registration.register(db, webinar_id, actor=teacher, settings=settings)
    db.commit()
    [row] = _mails(db, teacher.email)
    mail = _parsed(row, settings)
    _assert_clean_mail(mail, teacher.email)
    _assert_clean_invite(mail, teacher)


def test_a_multi_line_description_with_calendar_lines_stays_text(
    db: Session, settings: Settings
) -> None:
    make_department(db)
    make_user(db, Role.elearning)
    teacher = make_user(db, Role.teacher)
    payload = f"Ordre du jour\nATTENDEE:mailto:{EVIL}\nEND:VEVENT\nBEGIN:VEVENT"
    webinar_id = _webinar(db, title="Quiz", description=payload)  # accepted: line breaks
    registration.register(db, webinar_id, actor=teacher, settings=settings)
    db.commit()
    [row] = _mails(db, teacher.email)
    mail = _parsed(row, settings)
    _assert_clean_mail(mail, teacher.email)
    _assert_clean_invite(mail, teacher)
    [event] = _calendar_events(mail)
    assert f"ATTENDEE:mailto:{EVIL}" in str(event["DESCRIPTION"])  # kept, as text


@pytest.mark.parametrize("payload", PAYLOADS[:3])
def test_a_person_name_never_adds_properties_or_headers(
    db: Session, settings: Settings, payload: str
) -> None:
    make_department(db)
    make_user(db, Role.elearning)
    try:
        teacher = make_user(db, Role.teacher, name=payload.replace("Quiz", "Eve"))
    except InvalidInput:
        return  # refused at the boundary: nothing can reach a mail
    webinar_id = _webinar(db, title="Quiz", description="Ordre du jour")
    registration.register(db, webinar_id, actor=teacher, settings=settings)
    db.commit()
    [row] = _mails(db, teacher.email)
    mail = _parsed(row, settings)
    _assert_clean_mail(mail, teacher.email)
    _assert_clean_invite(mail, teacher)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_question_title_never_adds_mail_headers(
    db: Session, settings: Settings, payload: str
) -> None:
    make_department(db)
    referent = make_user(db, Role.referent, departments=["SCI"])
    teacher = make_user(db, Role.teacher)
    try:
        asking.ask(
            db,
            actor=teacher,
            title=payload,
            body="Détails",
            data_dir=settings.data_dir,
            base_url=settings.base_url,
        )
    except InvalidInput:
        return  # refused at the boundary
    db.commit()
    rows = _mails(db, referent.email)
    assert rows  # the new question was announced to the referent
    for row in rows:
        _assert_clean_mail(_parsed(row, settings), referent.email)
