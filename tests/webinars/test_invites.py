"""Every invite the hub produces parses with icalendar, ics and vobject, unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import ics
import pytest
import vobject
from icalendar import Calendar
from sqlmodel import Session

from hub.errors import InvalidInput
from hub.models import Role
from hub.settings import Settings
from tests.factories import make_user
from tests.webinars.helpers import mails, make_webinar, team
from webinars.invites import Method, Person, invite, publish
from webinars.models import WebinarSession
from webinars.registration import register, unregister
from webinars.sessions import SessionInput, cancel_session, create_session

HOSTILE_TITLES = [
    'Moodle : quiz, devoirs; "examens" à distance',
    "Équipes Teams \\ canaux; réunions, enregistrement — été",
    "Ça marche? ;;;,,,::: \"'` <b>gras</b> & co",
    "Une très longue session sur l'évaluation à distance avec des accents éèàùç "
    "répétés pour forcer le pliage des lignes au milieu des caractères multioctets",
]
HOSTILE_NAMES = ['Hélène "Léna" Dupré, PhD', "O'Brien; Seán", "Zoë: l'été"]


def _parse_all(text: str) -> dict[str, tuple[str, list[str]]]:
    """(summary, attendee e-mails) as each of the three parsers reads the invite."""
    ical_event = Calendar.from_ical(text).events[0]
    raw = ical_event.get("ATTENDEE")
    ical_attendees = [str(a) for a in (raw if isinstance(raw, list) else [raw] if raw else [])]
    ics_event = next(iter(ics.Calendar(text).events))
    vcal = vobject.readOne(text)
    return {
        "icalendar": (
            str(ical_event["SUMMARY"]),
            sorted(a.removeprefix("mailto:") for a in ical_attendees),
        ),
        "ics": (str(ics_event.name), sorted(a.email for a in ics_event.attendees)),
        "vobject": (
            vcal.vevent.summary.value,
            sorted(
                a.value.removeprefix("mailto:") for a in vcal.vevent.contents.get("attendee", [])
            ),
        ),
    }


def _check_wire_format(text: str) -> None:
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # CRLF only
    for line in text.split("\r\n"):
        assert len(line.encode("utf-8")) <= 75, line
    assert "BEGIN:VTIMEZONE\r\nTZID:Europe/Brussels" in text
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in text
    unfolded = text.replace("\r\n ", "")
    assert "DTSTART;TZID=Europe/Brussels:" in unfolded


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_titles_and_names_round_trip_through_three_parsers(
    db: Session, title: str, settings: Settings
) -> None:
    webinar = make_webinar(db, title=title, join_url="https://teams.example/l/meet?a=1,b;c")
    people = [make_user(db, Role.teacher, name=name) for name in HOSTILE_NAMES]
    for person in people:
        register(db, webinar.id or 0, actor=person, settings=settings)
    unregister(db, webinar.id or 0, actor=people[0], settings=settings)
    cancel_session(db, webinar.id or 0, actor=team(db), settings=settings)
    db.commit()
    produced = [m for m in mails(db) if m.calendar_ics]
    assert {m.calendar_method for m in produced} == {"REQUEST", "CANCEL"}
    for message in produced:
        text = message.calendar_ics or ""
        _check_wire_format(text)
        assert f"METHOD:{message.calendar_method}\r\n" in text
        for parser, (summary, attendees) in _parse_all(text).items():
            assert summary == title, parser
            assert attendees == [message.recipient], parser


def test_control_characters_are_refused_at_the_boundary(db: Session) -> None:
    actor = team(db)
    for title in ("x\r\nATTENDEE:mailto:evil@example.org", "x\nORGANIZER:y", "tab\there"):
        with pytest.raises(InvalidInput) as caught:
            create_session(
                db,
                actor=actor,
                data=SessionInput(
                    title=title,
                    starts_at=datetime(2031, 1, 7, 14, tzinfo=UTC),
                    duration_minutes=60,
                    capacity=10,
                ),
            )
        assert "title" in caught.value.fields


def test_builder_neutralises_a_title_that_bypassed_validation() -> None:
    webinar = WebinarSession(
        id=1,
        uid="webinar-x@crisis-hub",
        title="x\r\nATTENDEE:mailto:evil@example.org\r\nSUMMARY:y",
        description="ligne 1\r\nATTENDEE:mailto:evil2@example.org",
        starts_at=datetime(2031, 3, 30, 13, tzinfo=UTC),
        duration_minutes=60,
        capacity=10,
    )
    text = invite(
        webinar,
        method=Method.REQUEST,
        organizer=Person("hub@college.example", "Hub"),
        attendee=Person("t@college.example", "Teacher\r\nATTENDEE:mailto:evil3@example.org"),
        sequence=0,
    )
    lines = text.split("\r\n")
    assert sum(line.startswith("ATTENDEE") for line in lines) == 1
    assert sum(line.startswith("SUMMARY") for line in lines) == 1
    assert not any(line.startswith(("ATTENDEE:mailto:evil", "SUMMARY:y")) for line in lines)
    for parser, (_summary, attendees) in _parse_all(text).items():
        assert attendees == ["t@college.example"], parser


def test_publish_feed_parses_everywhere(db: Session) -> None:
    one = make_webinar(db, title="Première, séance")
    two = make_webinar(db, title='Deuxième; "séance"')
    text = publish(
        [(one, 0), (two, 3)], organizer=Person("hub@college.example", "Hub"), name="Mes webinaires"
    ).decode()
    assert "METHOD:PUBLISH\r\n" in text
    assert len(list(ics.Calendar(text).events)) == 2
    assert len(Calendar.from_ical(text).events) == 2
    assert len(vobject.readOne(text).contents["vevent"]) == 2
