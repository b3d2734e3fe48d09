"""Tables of the webinars package: series, sessions, hosts, registrations, questions,
reminders and calendar feed tokens."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Date, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.models import UTCDateTime, utcnow


class SessionStatus(StrEnum):
    scheduled = "scheduled"
    cancelled = "cancelled"


class RegistrationStatus(StrEnum):
    registered = "registered"
    waitlisted = "waitlisted"
    cancelled = "cancelled"  # the person left (or the session was cancelled)


class WebinarSeries(SQLModel, table=True):
    """A weekly pattern (e.g. "TU 15:00, TH 15:00") that generated sessions for a date range."""

    __tablename__ = "webinar_series"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    pattern: str = Field(max_length=200)  # normalised, e.g. "TU 15:00, TH 15:00"
    starts_on: date = Field(sa_column=Column(Date, nullable=False))
    ends_on: date = Field(sa_column=Column(Date, nullable=False))
    duration_minutes: int
    capacity: int
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class WebinarSession(SQLModel, table=True):
    """One webinar. `registered_count` is the capacity counter: it is only changed by a
    conditional UPDATE (see webinars/registration.py), never read-modify-written."""

    __tablename__ = "webinar_session"
    __table_args__ = (Index("ix_webinar_session_status_starts", "status", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: int | None = Field(
        default=None, foreign_key="webinar_series.id", index=True, ondelete="SET NULL"
    )
    uid: str = Field(max_length=120, unique=True)  # the iCalendar UID, never changes
    sequence: int = 0  # iCalendar SEQUENCE, bumped on every real change
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    duration_minutes: int
    capacity: int
    registered_count: int = 0
    status: str = Field(default=SessionStatus.scheduled.value, max_length=20)
    join_url: str = Field(default="", max_length=1000)
    recording_url: str = Field(default="", max_length=1000)
    transcript: str = Field(default="", sa_column=Column(Text, nullable=False))
    kb_slug: str | None = Field(default=None, max_length=120)
    announced_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class WebinarHost(SQLModel, table=True):
    __tablename__ = "webinar_host"

    session_id: int = Field(foreign_key="webinar_session.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True, ondelete="CASCADE")


class WebinarRegistration(SQLModel, table=True):
    """One person's place (or waitlist place) in one session; at most one row per pair.

    `personal_sequence` counts the invites this person alone received a change for (their
    own CANCEL on leaving, a new REQUEST on coming back): the SEQUENCE they see is the
    session's plus theirs, so it only ever grows for each recipient."""

    __tablename__ = "webinar_registration"
    __table_args__ = (
        UniqueConstraint("session_id", "user_id"),
        Index("ix_webinar_registration_queue", "session_id", "status", "queued_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="webinar_session.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    status: str = Field(max_length=20)
    personal_sequence: int = 0
    queued_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )  # registration or waitlist time: the waitlist order
    registered_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    attended: bool | None = None  # marked by a host after the session


class WebinarQuestion(SQLModel, table=True):
    """A question sent in advance by a registrant, upvoted by others, read by the hosts."""

    __tablename__ = "webinar_question"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="webinar_session.id", index=True, ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    text: str = Field(sa_column=Column(Text, nullable=False))
    votes: int = 0
    answered: bool = False
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class WebinarQuestionVote(SQLModel, table=True):
    __tablename__ = "webinar_question_vote"

    question_id: int = Field(
        foreign_key="webinar_question.id", primary_key=True, ondelete="CASCADE"
    )
    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")


class WebinarReminder(SQLModel, table=True):
    """A reminder that is due or was sent: one per person, session, offset and start time
    (a moved session gets new reminders). `sent_at` is set by the claim; `skipped` marks a
    reminder overtaken by a later one (the worker was down) and not mailed."""

    __tablename__ = "webinar_reminder"
    __table_args__ = (UniqueConstraint("session_id", "user_id", "offset_minutes", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="webinar_session.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    offset_minutes: int
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    skipped: bool = False


class CalendarFeedToken(SQLModel, table=True):
    """A person's subscription feed address (/calendar/<token>.ics); only the hash is kept."""

    __tablename__ = "calendar_feed_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", unique=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_used_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
