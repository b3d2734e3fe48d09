"""The outbox: every message leaving the hub (e-mail, Teams) is a row written in the same
transaction as the change it announces, and delivered later by the scheduler.

Why: a web request must never wait for, or fail because of, a mail server or Microsoft
Graph; and a message must never be lost (the change committed, the message not) nor sent
for a change that was rolled back.

Delivery (`deliver_due`) claims one row at a time with a conditional UPDATE (status and
lease checked, row count verified), so two processes never send the same row. A row whose
sender died mid-delivery is reclaimed when its lease runs out; transports that can check
for a landed message (Teams: the `reference` is in the text) do so before re-sending.
Temporary failures are retried with backoff (or the server's Retry-After); permanent ones
are marked `failed` and shown to the e-learning team, who can retry them.

Channels without a configured transport (no SMTP server in `make run`) keep their rows
`pending`: the e-learning team reads them on the "sent mail" page, each person on
"my messages".
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import Column, Index, Text, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col

from hub.db import session_scope
from hub.errors import InvalidInput, NotFound
from hub.models import TEAM, Role, User, UTCDateTime, utcnow
from hub.people import require_role
from hub.scheduler import still_leader

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a sender that has not finished by then is presumed dead
MAX_ATTEMPTS = 12  # about 14 hours of retries with the backoff below
BACKOFF_SECONDS = (30, 60, 120, 300, 600, 1800, 3600)  # then every hour
BATCH = 100


class Channel(StrEnum):
    email = "email"
    teams = "teams"


class OutboxStatus(StrEnum):
    pending = "pending"  # waiting for delivery (or for a transport to be configured)
    sending = "sending"  # claimed by a sender until `locked_until`
    sent = "sent"
    failed = "failed"  # permanent failure or too many attempts: needs a person


TEAMS_CRISIS = "crisis"  # recipient of Teams messages for the crisis channel


def teams_department(department_id: int) -> str:
    """Recipient of Teams messages for a department's channel (falls back to the crisis one)."""
    return f"department:{department_id}"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
        Index("ix_outbox_message_user_created", "user_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=10)
    kind: str = Field(max_length=60)  # what it announces, e.g. "question.new"
    status: str = Field(default=OutboxStatus.pending.value, max_length=10)
    # e-mail: the address; Teams: TEAMS_CRISIS or teams_department(id)
    recipient: str = Field(max_length=320)
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    calendar_method: str | None = Field(default=None, max_length=20)  # REQUEST, CANCEL...
    calendar_ics: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    link: str = Field(default="", max_length=500)  # the hub page it is about
    # Random and unique: Message-ID of the mail, marker in Teams posts (landed check).
    reference: str = Field(max_length=40, unique=True)
    # Optional idempotency key: enqueueing the same key twice keeps the first message.
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    locked_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    external_id: str | None = Field(default=None, max_length=200)  # e.g. Teams message id
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


# --- Enqueueing -------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:\\\[\]]+@[^@\s<>\"(),;:\\\[\]]+\.[^@\s<>\"(),;:\\\[\]]+$")


def one_line(text: str, limit: int = 300) -> str:
    """A header-safe single line: control characters (CR, LF, tab...) become spaces.

    User text (a question title, a webinar title) ends up in mail subjects; a CR/LF there
    could otherwise add headers."""
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    text = re.sub(r" {2,}", " ", text).strip()
    return text[:limit]


def valid_address(address: str) -> bool:
    return bool(_ADDRESS.match(address)) and len(address) <= 320


def _new_reference() -> str:
    return secrets.token_hex(12)


def _queued(session: Session, dedupe_key: str) -> bool:
    return (
        session.scalars(
            select(col(OutboxMessage.id)).where(col(OutboxMessage.dedupe_key) == dedupe_key)
        ).first()
        is not None
    )


def _add(session: Session, message: OutboxMessage) -> OutboxMessage | None:
    if message.dedupe_key is None:
        session.add(message)
        session.flush()
        return message
    if _queued(session, message.dedupe_key):
        return None
    # A concurrent transaction may queue the same key between the check and the insert: the
    # savepoint keeps the caller's transaction alive and the key's owner wins.
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        if _queued(session, message.dedupe_key):
            return None
        raise
    return message


def enqueue_mail(
    session: Session,
    *,
    to: str,
    subject: str,
    text: str,
    kind: str,
    html: str | None = None,
    user_id: int | None = None,
    calendar_method: str | None = None,
    calendar_ics: str | None = None,
    link: str = "",
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage | None:
    """Queue one e-mail in the caller's transaction. Returns None if `dedupe_key` was used.

    `calendar_ics` (with `calendar_method`, e.g. "REQUEST") becomes a
    `text/calendar; method=...` alternative part: build it with webinars' invite code."""
    to = to.strip()
    if not valid_address(to):
        message = f"adresse e-mail invalide : {to[:80]!r}"
        raise InvalidInput(message, {"to": message})
    if (calendar_ics is None) != (calendar_method is None):
        raise ValueError("calendar_ics and calendar_method go together")
    if calendar_method is not None and not re.fullmatch(r"[A-Z]{3,20}", calendar_method):
        raise ValueError(f"bad calendar method {calendar_method!r}")
    return _add(
        session,
        OutboxMessage(
            channel=Channel.email.value,
            kind=kind,
            recipient=to,
            user_id=user_id,
            subject=one_line(subject) or "(sans objet)",
            body_text=text,
            body_html=html,
            calendar_method=calendar_method,
            calendar_ics=calendar_ics,
            link=link,
            reference=_new_reference(),
            dedupe_key=dedupe_key,
            next_attempt_at=not_before or utcnow(),
        ),
    )


def enqueue_user_mail(
    session: Session, user: User, *, subject: str, text: str, kind: str, **options: object
) -> OutboxMessage | None:
    """Queue a mail to a person of the hub (shown on their "my messages" page too)."""
    return enqueue_mail(
        session,
        to=user.email,
        user_id=user.id,
        subject=subject,
        text=text,
        kind=kind,
        **options,  # type: ignore[arg-type]
    )


def enqueue_teams(
    session: Session,
    *,
    recipient: str,
    subject: str,
    html: str,
    text: str,
    kind: str,
    link: str = "",
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue a Teams channel post. `recipient` is TEAMS_CRISIS or teams_department(id).

    `html` must already be safe (built from escaped values); the Teams transport adds the
    message's reference and the link back to the hub."""
    if recipient != TEAMS_CRISIS and not re.fullmatch(r"department:\d+", recipient):
        raise ValueError(f"bad Teams recipient {recipient!r}")
    return _add(
        session,
        OutboxMessage(
            channel=Channel.teams.value,
            kind=kind,
            recipient=recipient,
            subject=one_line(subject) or "(sans titre)",
            body_text=text,
            body_html=html,
            link=link,
            reference=_new_reference(),
            dedupe_key=dedupe_key,
        ),
    )


# --- Delivery ---------------------------------------------------------------------------


class TemporaryFailure(Exception):
    """Try again later (server down, 429, 5xx); `retry_after` in seconds if the server said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """Retrying cannot help (recipient refused, 403): a person must look at it."""


class Transport(Protocol):
    channel: Channel

    def send(self, message: OutboxMessage, *, reclaimed: bool) -> str | None:
        """Deliver the message; return an external id if there is one.

        `reclaimed` is true when a previous attempt may have delivered it already (its
        sender died or the outcome was ambiguous): check before sending again if you can.
        Raise TemporaryFailure or PermanentFailure."""
        ...

    def close(self) -> None: ...


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    index = min(max(attempts, 1), len(BACKOFF_SECONDS)) - 1
    return timedelta(seconds=BACKOFF_SECONDS[index])


def _claim(engine: Engine, message_id: int, now: datetime) -> OutboxMessage | None:
    """Take one due row for this sender; None if another sender got it first."""
    table = OutboxMessage
    due = (col(table.status) == OutboxStatus.pending.value) & (col(table.next_attempt_at) <= now)
    abandoned = (col(table.status) == OutboxStatus.sending.value) & (col(table.locked_until) < now)
    with session_scope(engine) as session:
        result = session.execute(
            update(table)
            .where(col(table.id) == message_id, or_(due, abandoned))
            .values(
                status=OutboxStatus.sending.value,
                locked_until=now + LEASE,
                attempts=col(table.attempts) + 1,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return session.get(table, message_id)


def _finish(engine: Engine, message_id: int, **values: object) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == message_id,
                col(OutboxMessage.status) == OutboxStatus.sending.value,
            )
            .values(locked_until=None, **values)
        )


def due_ids(
    engine: Engine, channels: Sequence[Channel], now: datetime, limit: int = BATCH
) -> list[int]:
    table = OutboxMessage
    with session_scope(engine, write=False) as session:
        rows = session.execute(
            select(col(table.id))
            .where(
                col(table.channel).in_([c.value for c in channels]),
                or_(
                    (col(table.status) == OutboxStatus.pending.value)
                    & (col(table.next_attempt_at) <= now),
                    (col(table.status) == OutboxStatus.sending.value)
                    & (col(table.locked_until) < now),
                ),
            )
            .order_by(col(table.next_attempt_at), col(table.id))
            .limit(limit)
        ).all()
    return [row[0] for row in rows]


def deliver_due(
    engine: Engine,
    transports: dict[Channel, Transport],
    *,
    now: Callable[[], datetime] = utcnow,
    limit: int = BATCH,
) -> DeliveryReport:
    """One delivery pass over due messages of the configured channels.

    Each row is a unit of work: the scheduler's fencing check (`still_leader`) comes before
    each claim, so a scheduler that has lost its lock sends nothing more (the rows it did
    not claim stay due for the new holder)."""
    report = DeliveryReport()
    if not transports:
        return report
    for message_id in due_ids(engine, list(transports), now(), limit):
        if not still_leader():
            break
        message = _claim(engine, message_id, now())
        if message is None:
            continue
        transport = transports[Channel(message.channel)]
        reclaimed = message.attempts > 1
        try:
            external_id = transport.send(message, reclaimed=reclaimed)
        except TemporaryFailure as exc:
            if message.attempts >= MAX_ATTEMPTS:
                _finish(engine, message_id, status=OutboxStatus.failed.value, last_error=str(exc))
                report.failed += 1
            else:
                wait = (
                    timedelta(seconds=exc.retry_after)
                    if exc.retry_after is not None
                    else backoff(message.attempts)
                )
                _finish(
                    engine,
                    message_id,
                    status=OutboxStatus.pending.value,
                    next_attempt_at=now() + wait,
                    last_error=str(exc),
                )
                report.retried += 1
            report.errors.append(f"#{message_id}: {exc}")
        except PermanentFailure as exc:
            _finish(engine, message_id, status=OutboxStatus.failed.value, last_error=str(exc))
            report.failed += 1
            report.errors.append(f"#{message_id}: {exc}")
        except Exception as exc:  # a bug in a transport must not stop the others
            log.exception("outbox transport crashed on message %s", message_id)
            _finish(
                engine,
                message_id,
                status=OutboxStatus.pending.value,
                next_attempt_at=now() + backoff(message.attempts),
                last_error=f"{type(exc).__name__}: {exc}",
            )
            report.retried += 1
            report.errors.append(f"#{message_id}: {exc}")
        else:
            _finish(
                engine,
                message_id,
                status=OutboxStatus.sent.value,
                sent_at=now(),
                external_id=external_id,
                last_error=None,
            )
            report.sent += 1
    return report


# --- Reading (pages) --------------------------------------------------------------------


def failed_count(session: Session) -> int:
    """Messages that failed for good and wait for the e-learning team (its home page)."""
    return session.execute(
        select(func.count(col(OutboxMessage.id))).where(
            col(OutboxMessage.status) == OutboxStatus.failed.value
        )
    ).scalar_one()


def list_messages(
    session: Session,
    *,
    actor: User,
    channel: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[OutboxMessage]:
    """The "sent mail" page: every message, newest first (e-learning team only)."""
    require_role(actor, *TEAM)
    query = select(OutboxMessage)
    if channel:
        query = query.where(col(OutboxMessage.channel) == channel)
    if status:
        query = query.where(col(OutboxMessage.status) == status)
    query = query.order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
    return list(session.scalars(query.limit(limit)))


def status_counts(session: Session, *, actor: User) -> dict[tuple[str, str], int]:
    require_role(actor, *TEAM)
    rows = session.execute(
        select(col(OutboxMessage.channel), col(OutboxMessage.status), func.count()).group_by(
            col(OutboxMessage.channel), col(OutboxMessage.status)
        )
    ).all()
    return {(channel, status): count for channel, status, count in rows}


def messages_for(session: Session, user: User, limit: int = 100) -> list[OutboxMessage]:
    """A person's own mail ("my messages"): what the hub sent or will send them."""
    query = (
        select(OutboxMessage)
        .where(
            col(OutboxMessage.channel) == Channel.email.value,
            or_(
                col(OutboxMessage.user_id) == user.id,
                func.lower(col(OutboxMessage.recipient)) == user.email.lower(),
            ),
        )
        .order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def open_message(session: Session, message_id: int, *, actor: User) -> OutboxMessage:
    """One message: the e-learning team sees all, a person only their own mail."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("message introuvable")
    if actor.role == Role.elearning.value:
        return message
    if message.channel == Channel.email.value and (
        message.user_id == actor.id or message.recipient.lower() == actor.email.lower()
    ):
        return message
    raise NotFound("message introuvable")  # do not reveal other people's mail


def retry(session: Session, message_id: int, *, actor: User) -> OutboxMessage:
    """A failed message sent again (after someone fixed the cause)."""
    require_role(actor, *TEAM)
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("message introuvable")
    if message.status != OutboxStatus.failed.value:
        raise InvalidInput("seuls les messages en échec peuvent être relancés")
    message.status = OutboxStatus.pending.value
    message.attempts = 0
    message.next_attempt_at = utcnow()
    session.add(message)
    session.flush()
    return message
