"""Tables of the knowledge base: articles and their revisions, tags, checklists, feedback,
search logs, synonyms and concepts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from hub.models import UTCDateTime, utcnow


class Kind(StrEnum):
    tutorial = "tutorial"
    checklist = "checklist"
    video = "video"
    guide = "guide"


class Audience(StrEnum):
    everyone = "everyone"
    student = "student"
    teacher = "teacher"
    referent = "referent"
    elearning = "elearning"


class Status(StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"


def _enum(enum: type[StrEnum], name: str) -> Column[str]:
    return Column(SAEnum(enum, name=name, native_enum=False, length=20), nullable=False)


class Article(SQLModel, table=True):
    # Lets the search vocabulary check "did published articles change?" from the index alone.
    __table_args__ = (Index("ix_article_status_updated_at", "status", "updated_at"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, unique=True, index=True)
    title: str = Field(max_length=200)
    kind: Kind = Field(sa_column=_enum(Kind, "article_kind"))
    audience: Audience = Field(sa_column=_enum(Audience, "article_audience"))
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    summary: str = Field(default="", max_length=400)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    tags: str = Field(default="", max_length=500)  # comma-separated, as typed
    # Questions the article answers, in readers' words: one per line, as typed.
    questions: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    status: Status = Field(sa_column=_enum(Status, "article_status"))
    verified_on: date | None = Field(default=None)
    video_url: str | None = Field(default=None, max_length=500)
    revision: int = Field(default=1)  # number of the current revision
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_by_id: int | None = Field(default=None, foreign_key="user.id")
    # Analyzed text (kb.analyzer), indexed by FTS5 on SQLite and a tsvector on PostgreSQL.
    search_title: str = Field(default="", sa_column=Column(Text, nullable=False))
    search_tags: str = Field(default="", sa_column=Column(Text, nullable=False))
    search_questions: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )
    search_body: str = Field(default="", sa_column=Column(Text, nullable=False))


class ArticleRevision(SQLModel, table=True):
    """A full copy of an article as saved: who changed what, and what to restore."""

    __tablename__ = "article_revision"
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True, ondelete="CASCADE")
    number: int
    title: str = Field(max_length=200)
    kind: Kind = Field(sa_column=_enum(Kind, "article_kind"))
    audience: Audience = Field(sa_column=_enum(Audience, "article_audience"))
    department_id: int | None = Field(default=None)
    summary: str = Field(default="", max_length=400)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    tags: str = Field(default="", max_length=500)
    questions: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    status: Status = Field(sa_column=_enum(Status, "article_status"))
    verified_on: date | None = Field(default=None)
    video_url: str | None = Field(default=None, max_length=500)
    note: str = Field(default="", max_length=300)
    editor_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class ChecklistTick(SQLModel, table=True):
    """A checklist item ticked by a user; items are keyed by a hash of their text so that
    editing one item does not untick the others."""

    __tablename__ = "checklist_tick"

    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")
    article_id: int = Field(foreign_key="article.id", primary_key=True, ondelete="CASCADE")
    item_key: str = Field(max_length=16, primary_key=True)
    ticked_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class ArticleFeedback(SQLModel, table=True):
    __tablename__ = "article_feedback"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True, ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    helpful: bool
    comment: str = Field(default="", max_length=1000)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class SearchLog(SQLModel, table=True):
    """One search as a person made it (keystrokes of one search are coalesced)."""

    __tablename__ = "search_log"
    __table_args__ = (
        Index("ix_search_log_zero", "result_count", "created_at"),
        Index("ux_search_log_ref", "ref", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Random, given when the search is answered: the row itself is written later, in a batch
    # (kb.feedback.SearchLogRecorder), and refinements and clicks find it by this reference.
    ref: str | None = Field(default=None, max_length=32)
    query: str = Field(max_length=200)
    normalized: str = Field(max_length=200, index=True)  # folded, for grouping
    result_count: int
    # Matches shown elsewhere instead (staff articles behind a sign-in for an anonymous
    # reader, an exam for a course code): such a search is not a content gap.
    found_elsewhere: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    role: str = Field(max_length=20)  # "anonymous" or the user's role; no user id kept
    clicked_slug: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Synonym(SQLModel, table=True):
    """`term` typed by users also searches `expansion` (mdp -> mot de passe)."""

    id: int | None = Field(default=None, primary_key=True)
    term: str = Field(max_length=60, unique=True)  # folded
    expansion: str = Field(max_length=200)


class Concept(SQLModel, table=True):
    """Words and phrases that mean the same thing here, every way round: a query holding any
    member also searches the others (word families: présent, présence; paraphrases:
    débordé, surchargé, charge de travail). `members` holds one expression per line."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True)  # the first member, folded
    members: str = Field(max_length=600)


class PhrasingSource(StrEnum):
    answer_link = "answer_link"  # a referent answered a question with a link to the article
    solved = "solved"  # "ça a résolu mon problème" on a suggested article


class PhrasingProposal(SQLModel, table=True):
    """A question's title proposed as a phrasing of an article, learned from the hub's life;
    a referent or the team adds it to the article's questions in one click, or sets it
    aside. The same words proposed again count as a confirmation."""

    __tablename__ = "phrasing_proposal"
    __table_args__ = (UniqueConstraint("article_id", "normalized"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", ondelete="CASCADE", index=True)
    text: str = Field(max_length=160)
    normalized: str = Field(max_length=160)  # folded, spaces collapsed: what repeats match
    source: str = Field(max_length=20)  # PhrasingSource of the first proposal
    question_id: int | None = Field(default=None)  # the question it came from, if any
    confirmations: int = Field(default=1)
    status: str = Field(default="pending", max_length=10, index=True)  # pending/accepted/rejected
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    decided_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
