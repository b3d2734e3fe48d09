"""Reminder mails before each session (HUB_WEBINAR_REMINDERS, default "24h,15m").

State lives in `webinar_reminder` rows, one per (session, person, offset, start time), so:
- a restart loses nothing: a reminder that fell due while the worker was down is found by
  the next pass (rows are made from the registrations when they fall due);
- nothing is sent twice: each row is claimed with
  `UPDATE webinar_reminder SET sent_at = :now WHERE id = :id AND sent_at IS NULL` and mailed
  only if that changed one row, in the same transaction as the outbox row (a crash rolls
  both back; the outbox's dedupe key is a second guard);
- a moved session gets new reminders (the start time is part of the key), and rows for
  the old time are skipped;
- when several reminders of one person fall due together (the worker was down), only the
  closest one to the start is mailed, the others are marked skipped;
- someone registering after a reminder's moment does not get it (they just got the invite).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hub.db import session_scope
from hub.models import User, utcnow
from hub.scheduler import still_leader
from hub.settings import Settings
from webinars import notify
from webinars.models import (
    RegistrationStatus,
    SessionStatus,
    WebinarRegistration,
    WebinarReminder,
    WebinarSession,
)

UNITS = {"d": 24 * 60, "h": 60, "m": 1}


def parse_offsets(text: str) -> list[int]:
    """ "24h,15m" -> [1440, 15] (minutes, largest first)."""
    offsets = set()
    for item in text.split(","):
        item = item.strip().lower()
        if not item:
            continue
        number, unit = item[:-1], item[-1:]
        if unit not in UNITS or not number.isdigit() or int(number) == 0:
            raise ValueError(f"bad reminder offset {item!r}")
        offsets.add(int(number) * UNITS[unit])
    return sorted(offsets, reverse=True)


def describe(minutes: int) -> str:
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} jour{'s' if days > 1 else ''}"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} minutes"


@dataclass
class ReminderReport:
    created: int = 0
    sent: int = 0
    skipped: int = 0


def _insert(session: Session, rows: list[dict[str, object]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: two passes at once never make a row twice."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(WebinarReminder).values(rows)
    session.execute(
        statement.on_conflict_do_nothing(
            index_elements=["session_id", "user_id", "offset_minutes", "starts_at"]
        )
    )


def _materialise(session: Session, now: datetime, offsets: Sequence[int]) -> int:
    """Rows for every reminder that has fallen due for a session still to come."""
    if not offsets:
        return 0
    horizon = now + timedelta(minutes=max(offsets))
    due = session.exec(
        select(WebinarSession, WebinarRegistration)
        .join(WebinarRegistration, col(WebinarRegistration.session_id) == col(WebinarSession.id))
        .where(
            WebinarSession.status == SessionStatus.scheduled.value,
            col(WebinarSession.starts_at) > now,
            col(WebinarSession.starts_at) <= horizon,
            WebinarRegistration.status == RegistrationStatus.registered.value,
        )
    ).all()
    rows: list[dict[str, object]] = []
    for webinar, registration in due:
        registered_at = registration.registered_at or registration.queued_at
        moments = [
            (offset, webinar.starts_at - timedelta(minutes=offset))
            for offset in offsets
            if webinar.starts_at - timedelta(minutes=offset) <= now
            and registered_at < webinar.starts_at - timedelta(minutes=offset)
        ]
        closest = min((offset for offset, _ in moments), default=None)
        for offset, due_at in moments:
            rows.append(
                {
                    "session_id": webinar.id,
                    "user_id": registration.user_id,
                    "offset_minutes": offset,
                    "starts_at": webinar.starts_at,
                    "due_at": due_at,
                    # overtaken by a closer reminder: recorded, not mailed
                    "sent_at": None if offset == closest else now,
                    "skipped": offset != closest,
                }
            )
    _insert(session, rows)
    return len(rows)


def _claim(session: Session, reminder_id: int, now: datetime, *, skip: bool = False) -> bool:
    result = session.execute(
        update(WebinarReminder)
        .where(col(WebinarReminder.id) == reminder_id, col(WebinarReminder.sent_at).is_(None))
        .values(sent_at=now, skipped=skip)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


def process_due(
    engine: Engine,
    now: datetime | None = None,
    *,
    settings: Settings,
    offsets: Sequence[int] | None = None,
) -> ReminderReport:
    """One pass: make the due rows, claim each unsent one, queue its mail (one transaction).

    Each reminder is a unit of work: the scheduler's fencing check (`still_leader`) comes
    before each claim; a scheduler that has lost its lock stops there and commits the
    reminders already queued (the others stay unsent for the new holder)."""
    now = now or utcnow()
    if offsets is None:
        offsets = parse_offsets(settings.webinar_reminders if settings else "24h,15m")
    report = ReminderReport()
    context = notify.mail_context(settings)
    with session_scope(engine) as session:
        report.created = _materialise(session, now, offsets)
        pending = session.exec(
            select(WebinarReminder, WebinarSession)
            .join(WebinarSession, col(WebinarSession.id) == col(WebinarReminder.session_id))
            .where(col(WebinarReminder.sent_at).is_(None), col(WebinarReminder.due_at) <= now)
            .order_by(col(WebinarReminder.id))
        ).all()
        for reminder, webinar in pending:
            if not still_leader():
                break
            reminder_id = reminder.id or 0
            registration = session.exec(
                select(WebinarRegistration).where(
                    WebinarRegistration.session_id == webinar.id,
                    WebinarRegistration.user_id == reminder.user_id,
                )
            ).first()
            stale = (
                webinar.status != SessionStatus.scheduled.value
                or webinar.starts_at != reminder.starts_at  # moved since
                or webinar.starts_at <= now
                or registration is None
                or registration.status != RegistrationStatus.registered.value
            )
            if stale:
                if _claim(session, reminder_id, now, skip=True):
                    report.skipped += 1
                continue
            if not _claim(session, reminder_id, now):
                continue  # another pass got it
            user = session.get(User, reminder.user_id)
            if user is None or not user.is_active:
                continue
            left = describe(reminder.offset_minutes)
            notify.send_plain(
                session,
                webinar,
                user,
                context,
                subject=f"Rappel : {webinar.title} ({notify.when(webinar.starts_at)})",
                intro=f"Rappel : le webinaire commence dans {left}.",
                kind="webinar.reminder",
                dedupe_key=f"webinar-reminder:{reminder_id}",
            )
            report.sent += 1
    return report
