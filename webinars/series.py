"""Weekly series: a pattern such as "mardi 15:00, jeudi 15:00, mercredi 10:00" generates one
session per matching day of a date range, at that wall-clock time in Europe/Brussels (so a
15:00 webinar stays at 15:00 across the March and October clock changes: its UTC time
moves, not its local one)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session

from hub.errors import InvalidInput
from hub.i18n import N_
from hub.models import TEAM, User, id_of
from hub.people import require_role
from webinars.invites import LOCAL_TIME
from webinars.models import WebinarSeries, WebinarSession

MAX_SESSIONS_PER_SERIES = 200
MAX_RANGE_DAYS = 366
CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = {
    **{code.lower(): index for index, code in enumerate(CODES)},
    **{
        name: index
        for index, names in enumerate(
            (
                ("lundi", "lun", "monday", "mon"),
                ("mardi", "mar", "tuesday", "tue"),
                ("mercredi", "mer", "wednesday", "wed"),
                ("jeudi", "jeu", "thursday", "thu"),
                ("vendredi", "ven", "friday", "fri"),
                ("samedi", "sam", "saturday", "sat"),
                ("dimanche", "dim", "sunday", "sun"),
            )
        )
        for name in names
    },
}
_ITEM = re.compile(r"^([a-z]+)\s+(\d{1,2})(?:[:h.](\d{2})?)?$")


@dataclass(frozen=True, order=True)
class Slot:
    weekday: int  # Monday 0
    at: time

    def __str__(self) -> str:
        return f"{CODES[self.weekday]} {self.at:%H:%M}"


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def parse_pattern(text: str) -> list[Slot]:
    """ "mardi 15:00, jeudi 15h, WE 10:00" -> sorted slots; InvalidInput on anything else."""
    slots: set[Slot] = set()
    for raw in re.split(r"[,;\n]+", text):
        item = _fold(raw).strip()
        if not item:
            continue
        match = _ITEM.match(item)
        weekday = _DAY_NAMES.get(match.group(1)) if match else None
        if match is None or weekday is None:
            message = N_("Jours et heures attendus, ex. « mardi 15:00, jeudi 15:00 ».")
            raise InvalidInput(message, {"pattern": message})
        hour, minute = int(match.group(2)), int(match.group(3) or 0)
        if hour > 23 or minute > 59:
            message = N_("Heure invalide (00:00 à 23:59).")
            raise InvalidInput(message, {"pattern": message})
        slots.add(Slot(weekday, time(hour, minute)))
    if not slots:
        message = N_("Indiquez au moins un jour et une heure.")
        raise InvalidInput(message, {"pattern": message})
    return sorted(slots)


def format_pattern(slots: Sequence[Slot]) -> str:
    return ", ".join(str(slot) for slot in slots)


def local_to_utc(day: date, at: time) -> datetime:
    """A Brussels wall-clock time as UTC. A time that does not exist (the skipped hour of the
    March change) moves forward by the gap, as calendar applications do."""
    # zoneinfo with fold=0 reads a skipped time with the offset before the change (02:30
    # becomes 03:30 CEST) and a repeated time as its first occurrence (summer time).
    return datetime.combine(day, at, tzinfo=LOCAL_TIME).astimezone(UTC)


def occurrences(slots: Sequence[Slot], starts_on: date, ends_on: date) -> list[datetime]:
    """UTC start times of every slot between the two dates (both included), in order."""
    result = []
    day = starts_on
    while day <= ends_on:
        for slot in slots:
            if slot.weekday == day.weekday():
                result.append(local_to_utc(day, slot.at))
        day += timedelta(days=1)
    return sorted(result)


def create_series(
    session: Session,
    *,
    actor: User,
    title: str,
    pattern: str,
    starts_on: date,
    ends_on: date,
    duration_minutes: int,
    capacity: int,
    description: str = "",
    hosts: Sequence[str] = (),
    now: datetime | None = None,
) -> tuple[WebinarSeries, list[WebinarSession]]:
    """A series and its sessions (only those still to come)."""
    from webinars.sessions import SessionInput, create_session, validate_session_fields

    require_role(actor, *TEAM)
    errors: dict[str, str] = {}
    try:
        slots = parse_pattern(pattern)
    except InvalidInput as exc:
        errors.update(exc.fields)
        slots = []
    if ends_on < starts_on:
        errors["ends_on"] = N_("La fin doit suivre le début.")
    elif (ends_on - starts_on).days > MAX_RANGE_DAYS:
        errors["ends_on"] = N_("Une série couvre au plus un an.")
    fields = SessionInput(
        title=title,
        description=description,
        starts_at=None,
        duration_minutes=duration_minutes,
        capacity=capacity,
        hosts=list(hosts),
    )
    errors.update(validate_session_fields(fields, need_start=False))
    moments = occurrences(slots, starts_on, ends_on) if slots and "ends_on" not in errors else []
    current = now or datetime.now(UTC)
    moments = [moment for moment in moments if moment > current]
    if slots and not moments and "ends_on" not in errors:
        errors["ends_on"] = N_("Aucune séance à venir dans cette période.")
    if len(moments) > MAX_SESSIONS_PER_SERIES:
        errors["ends_on"] = N_("Trop de séances : 200 au plus par série.")
    if errors:
        raise InvalidInput(N_("Série invalide."), errors)
    series = WebinarSeries(
        title=title.strip(),
        description=description.strip(),
        pattern=format_pattern(slots),
        starts_on=starts_on,
        ends_on=ends_on,
        duration_minutes=duration_minutes,
        capacity=capacity,
        created_by_id=actor.id,
    )
    session.add(series)
    session.flush()
    created = [
        create_session(
            session,
            actor=actor,
            data=SessionInput(
                title=title,
                description=description,
                starts_at=moment,
                duration_minutes=duration_minutes,
                capacity=capacity,
                hosts=list(hosts),
            ),
            series_id=id_of(series),
            now=current,
        )
        for moment in moments
    ]
    return series, created
