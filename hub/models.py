"""Tables of the hub package: people, departments, API tokens, login attempts, job runs."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite returns naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _timestamp(*, nullable: bool = False, index: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def id_of(row: SQLModel) -> int:
    """The primary key of a row that has been flushed (ids are None before that)."""
    value = getattr(row, "id", None)
    if value is None:
        raise ValueError(f"{type(row).__name__} has no id yet: flush the session first")
    return int(value)


class Role(StrEnum):
    student = "student"
    teacher = "teacher"
    referent = "referent"
    elearning = "elearning"  # the central e-learning team, also administrators


# The role sets the services check, one name each (never a list of roles written out):
SIGNED_IN = tuple(Role)  # anyone with an account
STAFF = (Role.teacher, Role.referent, Role.elearning)  # everyone but students
SUPPORT = (Role.referent, Role.elearning)  # who answers teachers' questions
TEAM = (Role.elearning,)  # the central e-learning team: crisis, webinars, imports, admin


class Department(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True, index=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    # The department's own Teams channel ("<channel id>" in the crisis team, or
    # "<team id>/<channel id>"); empty: its posts go to the crisis channel (hub/teams/).
    teams_channel_id: str | None = Field(default=None, max_length=300)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)  # stored lower-case
    name: str = Field(max_length=200)
    role: Role = Field(
        sa_column=Column(SAEnum(Role, name="role", native_enum=False, length=20), nullable=False)
    )
    # A teacher's or student's department; referents serve departments through DepartmentReferent.
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    password_hash: str | None = Field(default=None, max_length=255)  # None: single sign-on only
    is_active: bool = Field(default=True)
    # Bumped to sign out every session of this user (password change, deactivation).
    session_version: int = Field(default=1)
    locale: str | None = Field(default=None, max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    last_login_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class DepartmentReferent(SQLModel, table=True):
    """A referent serving a department; `is_backup` marks the backup who covers absences."""

    __tablename__ = "department_referent"

    department_id: int = Field(foreign_key="department.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True, ondelete="CASCADE")
    is_backup: bool = Field(default=False)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)  # sha256 hex of the secret
    prefix: str = Field(max_length=16)  # first characters, to recognise a token in lists
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    last_used_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class LoginAttempt(SQLModel, table=True):
    """Failed sign-ins, counted to throttle password guessing (pruned by the scheduler)."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_email_at", "email", "attempted_at"),
        Index("ix_login_attempt_address_at", "address", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    address: str = Field(max_length=64)
    attempted_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class JobRun(SQLModel, table=True):
    """One run of a scheduled job: which process ran it, when, and how it ended."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job_id", "started_at", "pid"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=100, index=True)
    pid: int
    host: str = Field(max_length=255)
    started_at: datetime = Field(sa_column=_timestamp(index=True))
    finished_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    error: str | None = Field(default=None)


class Platform(StrEnum):
    moodle = "moodle"
    teams = "teams"
    other = "other"


class ExamStatus(StrEnum):
    scheduled = "scheduled"
    moved = "moved"
    cancelled = "cancelled"


class ExamSession(SQLModel, table=True):
    """One remote exam sitting; identified in timetables by course code and start."""

    __tablename__ = "exam_session"
    __table_args__ = (UniqueConstraint("course_code", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    course_code: str = Field(max_length=40, index=True)
    course_name: str = Field(max_length=200)
    department_id: int = Field(foreign_key="department.id", index=True)
    starts_at: datetime = Field(sa_column=_timestamp(index=True))
    duration_minutes: int
    platform: Platform = Field(
        sa_column=Column(
            SAEnum(Platform, name="platform", native_enum=False, length=20), nullable=False
        )
    )
    access_url: str = Field(max_length=500)
    instructions_slug: str | None = Field(default=None, max_length=120)
    instructions: str = Field(default="", sa_column=Column(Text, nullable=False))
    contact_email: str = Field(max_length=320)
    status: ExamStatus = Field(
        default=ExamStatus.scheduled,
        sa_column=Column(
            SAEnum(ExamStatus, name="exam_status", native_enum=False, length=20), nullable=False
        ),
    )
    status_note: str = Field(default="", max_length=500)
    previous_starts_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False))  # analyzed
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class ExamProblem(SQLModel, table=True):
    """ "I have a problem during my exam": kept until a referent handles it."""

    __tablename__ = "exam_problem"
    __table_args__ = (Index("ix_exam_problem_email_at", "email", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = Field(foreign_key="exam_session.id", index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    student_number: str = Field(default="", max_length=40)
    message: str = Field(sa_column=Column(Text, nullable=False))
    address: str = Field(max_length=64)  # client address, for rate limiting
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp(index=True))
    handled_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class ShortLink(SQLModel, table=True):
    """A short code for posters and QR codes: /s/<code> redirects to a page of the hub."""

    __tablename__ = "short_link"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    target: str = Field(max_length=300, unique=True)  # a local path, e.g. /exams
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
