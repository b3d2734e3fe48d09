"""iCalendar documents (RFC 5545 / iTIP RFC 5546) built with `icalendar` 7.

- One stable UID per session (`WebinarSession.uid`); SEQUENCE from the database: the
  session's counter (bumped on every real change) plus the recipient's own counter (bumped
  when they leave or come back), so every recipient sees it grow.
- METHOD:REQUEST for invites and updates, CANCEL for cancellations, PUBLISH for feeds and
  downloads.
- ORGANIZER is the hub's sender address; each invite lists exactly one ATTENDEE, its
  recipient (registrants never see each other's addresses).
- Times carry TZID=Europe/Brussels and the calendar has a VTIMEZONE with the EU rules as
  yearly RRULEs (what Outlook itself emits; valid for every year since 1996).
- `icalendar` folds lines at 75 octets (never inside a UTF-8 sequence) and ends them with
  CRLF; it escapes commas, semicolons and backslashes in TEXT values.
- User text is checked at the boundary (webinars/sessions.py refuses control characters in
  titles); here, as a second wall, single-line values lose any control character, so a
  title can never start a new property line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from hub.models import utcnow
from webinars.models import SessionStatus, WebinarSession

if TYPE_CHECKING:  # imported where used: serving pages does not load icalendar (~70 ms)
    from icalendar import Event, Timezone, vCalAddress

TZID = "Europe/Brussels"
LOCAL_TIME = ZoneInfo(TZID)
PRODID = "-//Crisis hub//Webinars//FR"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


class Method:
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"
    PUBLISH = "PUBLISH"


@dataclass(frozen=True)
class Person:
    email: str
    name: str = ""


def single_line(text: str) -> str:
    """Defence in depth: no control character survives in a one-line value."""
    return re.sub(r" {2,}", " ", _CONTROL.sub(" ", text)).strip()


def multi_line(text: str) -> str:
    """Descriptions keep their line breaks (escaped as \\n by icalendar), nothing else."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch if ch == "\n" or not _CONTROL.match(ch) else " " for ch in text)


def _display_name(name: str) -> str:
    # A parameter value cannot hold a double quote (RFC 5545); RFC 6868's ^' escape is not
    # understood by every parser (vobject, Outlook), so a quote becomes an apostrophe.
    return single_line(name).replace('"', "'")


def organizer_from(sender: str) -> Person:
    """The ORGANIZER from HUB_SMTP_FROM ("Name <address>")."""
    name, address = parseaddr(sender)
    return Person(email=address or "hub@localhost", name=name or "Hub")


def _address(person: Person, *, attendee: bool) -> vCalAddress:
    from icalendar import vCalAddress

    address = vCalAddress(f"mailto:{single_line(person.email)}")
    if person.name:
        address.params["CN"] = _display_name(person.name)
    if attendee:
        address.params["CUTYPE"] = "INDIVIDUAL"
        address.params["ROLE"] = "REQ-PARTICIPANT"
        address.params["PARTSTAT"] = "ACCEPTED"
        address.params["RSVP"] = "FALSE"
    return address


def brussels_timezone() -> Timezone:
    """VTIMEZONE for Europe/Brussels with the EU summer-time rules as RRULEs."""
    from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

    timezone = Timezone()
    timezone.add("TZID", TZID)
    daylight = TimezoneDaylight()
    daylight.add("TZNAME", "CEST")
    daylight.add("DTSTART", datetime(1970, 3, 29, 2, 0))
    daylight.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": 3, "BYDAY": "-1SU"})
    daylight.add("TZOFFSETFROM", timedelta(hours=1))
    daylight.add("TZOFFSETTO", timedelta(hours=2))
    standard = TimezoneStandard()
    standard.add("TZNAME", "CET")
    standard.add("DTSTART", datetime(1970, 10, 25, 3, 0))
    standard.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": 10, "BYDAY": "-1SU"})
    standard.add("TZOFFSETFROM", timedelta(hours=2))
    standard.add("TZOFFSETTO", timedelta(hours=1))
    timezone.add_component(daylight)
    timezone.add_component(standard)
    return timezone


def _description(session: WebinarSession, link: str) -> str:
    parts = [session.description.strip()]
    if session.join_url:
        parts.append(f"Rejoindre / Join: {session.join_url}")
    if link:
        parts.append(f"Page du webinaire / Webinar page: {link}")
    return multi_line("\n\n".join(part for part in parts if part))


def build_event(
    session: WebinarSession,
    *,
    method: str,
    organizer: Person,
    attendee: Person | None,
    sequence: int,
    link: str = "",
    stamp: datetime | None = None,
) -> Event:
    from icalendar import Event

    start = session.starts_at.astimezone(LOCAL_TIME)
    cancelled = method == Method.CANCEL or session.status == SessionStatus.cancelled.value
    event = Event.new(
        uid=session.uid,
        sequence=sequence,
        summary=single_line(session.title),
        start=start,
        end=start + timedelta(minutes=session.duration_minutes),
        stamp=(stamp or utcnow()).replace(microsecond=0),
        organizer=_address(organizer, attendee=False),
        attendees=[_address(attendee, attendee=True)] if attendee else None,
        description=_description(session, link) or None,
        location=single_line(session.join_url) or None,
        url=link or None,
    )
    event.add("STATUS", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("TRANSP", "OPAQUE")
    if method == Method.CANCEL:
        event.add("PRIORITY", 1)
    return event


def build_calendar(events: Iterable[Event], *, method: str, name: str | None = None) -> bytes:
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    if name:
        calendar.add("X-WR-CALNAME", single_line(name))
        calendar.add("X-WR-TIMEZONE", TZID)
    calendar.add_component(brussels_timezone())
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()


def invite(
    session: WebinarSession,
    *,
    method: str,
    organizer: Person,
    attendee: Person,
    sequence: int,
    link: str = "",
) -> str:
    """One REQUEST or CANCEL for one recipient, as text (CRLF line ends)."""
    if method not in (Method.REQUEST, Method.CANCEL):
        raise ValueError(f"not an iTIP method for mail: {method}")
    event = build_event(
        session,
        method=method,
        organizer=organizer,
        attendee=attendee,
        sequence=sequence,
        link=link,
    )
    return build_calendar([event], method=method).decode("utf-8")


def publish(
    items: Iterable[tuple[WebinarSession, int]],
    *,
    organizer: Person,
    attendee: Person | None = None,
    name: str | None = None,
    link_for: dict[int, str] | None = None,
) -> bytes:
    """A PUBLISH calendar (download button, subscription feed) of (session, sequence)."""
    links = link_for or {}
    events = [
        build_event(
            session,
            method=Method.PUBLISH,
            organizer=organizer,
            attendee=attendee,
            sequence=sequence,
            link=links.get(session.id or 0, ""),
        )
        for session, sequence in items
    ]
    return build_calendar(events, method=Method.PUBLISH, name=name)
