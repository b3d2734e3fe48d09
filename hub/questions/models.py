"""Tables of the question loop: questions, their messages, attachments, tags, escalations,
audit events, canned answers, referent absences and KB suggestions (deflection)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.models import UTCDateTime, utcnow


def _ts(*, nullable: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable)


class QuestionStatus(StrEnum):
    open = "open"  # waiting for the department (or the central team once escalated)
    answered = "answered"  # a public answer was given; waiting for the asker
    resolved = "resolved"  # the asker said it is solved (or staff closed it)
    merged = "merged"  # a duplicate: its asker follows the question it was merged into


OPEN_STATUSES = (QuestionStatus.open.value, QuestionStatus.answered.value)


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"  # e.g. a student stuck during an exam


PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


class Source(StrEnum):
    web = "web"
    api = "api"
    exam = "exam"  # "I have a problem during my exam" (no account)


class MessageKind(StrEnum):
    answer = "answer"  # public answer by staff, sent to the asker(s)
    note = "note"  # internal note: staff only, never shown to the asker
    reply = "reply"  # the asker's follow-up


class Question(SQLModel, table=True):
    __tablename__ = "question"
    __table_args__ = (
        # The department queues and the SLA sweep (one cutoff per level, see escalation.py).
        Index("ix_question_queue", "department_id", "status", "created_at"),
        Index("ix_question_sla", "status", "level", "first_response_at", "clock_started_at"),
        Index("ix_question_asker", "asker_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id")
    # The asker: a hub account, or only a name and address (exam problems).
    asker_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    asker_name: str = Field(max_length=200)
    asker_email: str = Field(max_length=320)
    title: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=QuestionStatus.open.value, max_length=20)
    priority: str = Field(default=Priority.normal.value, max_length=20)
    source: str = Field(default=Source.web.value, max_length=20)
    level: int = Field(default=0)  # 0: the department; 1: escalated to the central team
    assignee_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    merged_into_id: int | None = Field(default=None, foreign_key="question.id", index=True)
    exam_problem_id: int | None = Field(
        default=None, foreign_key="exam_problem.id", ondelete="SET NULL"
    )
    article_id: int | None = Field(default=None, foreign_key="article.id", ondelete="SET NULL")
    draft_key: str | None = Field(default=None, max_length=40)  # links the KB suggestions shown
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False))  # analyzed
    # The referent's clock: started at creation (restarted when the asker reopens), stopped
    # by the first public answer. The central team's clock lives on the escalation row.
    clock_started_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    first_response_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_activity_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    resolved_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class QuestionMessage(SQLModel, table=True):
    __tablename__ = "question_message"
    __table_args__ = (Index("ix_question_message_question", "question_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="question.id", ondelete="CASCADE")
    kind: str = Field(max_length=10)
    author_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    author_name: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class QuestionAttachment(SQLModel, table=True):
    __tablename__ = "question_attachment"

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="question.id", index=True, ondelete="CASCADE")
    # Attached to a message (an internal note's attachment is staff-only like the note).
    message_id: int | None = Field(
        default=None, foreign_key="question_message.id", ondelete="CASCADE"
    )
    filename: str = Field(max_length=200)  # as uploaded, cleaned; only shown, never a path
    content_type: str = Field(max_length=60)  # decided from the content, not the name
    size: int
    sha256: str = Field(max_length=64)
    storage_name: str = Field(max_length=80, unique=True)  # random, under data_dir/attachments
    uploaded_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class QuestionTag(SQLModel, table=True):
    __tablename__ = "question_tag"

    question_id: int = Field(foreign_key="question.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(max_length=40, primary_key=True, index=True)


class Escalation(SQLModel, table=True):
    """A question passed up one level; the database keeps it to once per question and level.

    Level 1: to the central e-learning team (manual with a reason, or automatic when the
    referent's first-response target is missed); its `created_at` starts the central team's
    clock and `answered_at` stops it. Level 2: the central team's own target missed (a
    reminder to the team and the crisis channel)."""

    __tablename__ = "question_escalation"
    __table_args__ = (
        UniqueConstraint("question_id", "level", name="uq_question_escalation_level"),
        Index("ix_question_escalation_open", "level", "answered_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="question.id", ondelete="CASCADE")
    level: int
    reason: str = Field(sa_column=Column(Text, nullable=False))
    automatic: bool = Field(default=False)
    actor_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    answered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class QuestionEvent(SQLModel, table=True):
    """The audit trail: who did what to a question, when."""

    __tablename__ = "question_event"
    __table_args__ = (Index("ix_question_event_question", "question_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="question.id", ondelete="CASCADE")
    actor_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    actor_name: str = Field(max_length=200)  # kept if the account goes; "hub" for the sweep
    action: str = Field(max_length=40)
    detail: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class CannedAnswer(SQLModel, table=True):
    __tablename__ = "canned_answer"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=120)
    body: str = Field(sa_column=Column(Text, nullable=False))
    article_slug: str | None = Field(default=None, max_length=120)  # a KB article to link
    department_id: int | None = Field(
        default=None, foreign_key="department.id", ondelete="CASCADE"
    )  # None: every department
    updated_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ReferentAbsence(SQLModel, table=True):
    """A referent away until a date: their departments' backups see the questions."""

    __tablename__ = "referent_absence"

    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")
    absent_until: datetime = Field(sa_column=_ts())
    set_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class QuestionSuggestion(SQLModel, table=True):
    """A KB article suggested while someone wrote a question (one row per form and article):
    shown, clicked, and whether it solved the problem (a deflected question)."""

    __tablename__ = "question_suggestion"
    __table_args__ = (UniqueConstraint("draft_key", "article_id"),)

    id: int | None = Field(default=None, primary_key=True)
    draft_key: str = Field(max_length=40, index=True)  # one per "ask a question" form
    article_id: int = Field(foreign_key="article.id", ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    department_id: int | None = Field(
        default=None, foreign_key="department.id", ondelete="SET NULL"
    )
    shown_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    clicked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    solved_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
