"""The "kind words" wall: short encouraging notes staff leave for each other.

Teachers, referents and the e-learning team leave a note; it waits (pending) until the
e-learning team approves or rejects it; approved notes are shown on the wall and on staff
home pages. An approved note whose author asked for it can be mirrored to the Teams crisis
channel, through the outbox (in the same transaction as the approval).
"""

from __future__ import annotations

import html as html_module
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, Session, SQLModel, col, select

from hub import outbox
from hub.errors import InvalidInput, NotFound
from hub.models import STAFF, TEAM, User, UTCDateTime, id_of, utcnow
from hub.people import require_role

MAX_LENGTH = 500


class KindWordStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class KindWord(SQLModel, table=True):
    __tablename__ = "kind_word"
    __table_args__ = (Index("ix_kind_word_status_created", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    author_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    author_name: str = Field(max_length=200)  # as signed, kept if the account goes
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=KindWordStatus.pending.value, max_length=10)
    share_on_teams: bool = Field(default=False)  # the author's wish; decided at approval
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    moderated_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    moderated_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")


def _clean(body: str) -> str:
    body = unicodedata.normalize("NFC", body).replace("\r\n", "\n").strip()
    body = "".join(c for c in body if c == "\n" or unicodedata.category(c)[0] != "C")
    if not body:
        raise InvalidInput("Écrivez quelques mots.", {"body": "Écrivez quelques mots."})
    if len(body) > MAX_LENGTH:
        message = f"{MAX_LENGTH} caractères au plus."
        raise InvalidInput(message, {"body": message})
    return body


def leave(session: Session, *, actor: User | None, body: str, share_on_teams: bool) -> KindWord:
    """A staff member leaves a note; it waits for the e-learning team."""
    author = require_role(actor, *STAFF)
    word = KindWord(
        author_id=author.id,
        author_name=author.name,
        body=_clean(body),
        share_on_teams=share_on_teams,
    )
    session.add(word)
    session.flush()
    return word


def moderate(
    session: Session,
    word_id: int,
    *,
    actor: User | None,
    approve: bool,
    share_on_teams: bool | None = None,
) -> KindWord:
    """Approve (optionally mirroring to Teams) or reject a pending note."""
    moderator = require_role(actor, *TEAM)
    word = session.get(KindWord, word_id)
    if word is None:
        raise NotFound("Mot introuvable.")
    if word.status != KindWordStatus.pending.value:
        raise InvalidInput("Ce mot a déjà été modéré.")
    word.status = (KindWordStatus.approved if approve else KindWordStatus.rejected).value
    word.moderated_at = utcnow()
    word.moderated_by_id = moderator.id
    if share_on_teams is not None:
        word.share_on_teams = share_on_teams
    session.add(word)
    session.flush()
    if approve and word.share_on_teams:
        body = html_module.escape(word.body).replace("\n", "<br>")
        outbox.enqueue_teams(
            session,
            recipient=outbox.TEAMS_CRISIS,
            subject=f"Un mot doux de {word.author_name}",
            html=f"<blockquote>{body}</blockquote>",
            text=f"{word.body}\n— {word.author_name}",
            kind="kind_word.approved",
            link="/kind-words",
            dedupe_key=f"kind-word:{id_of(word)}",
        )
    return word


def approved(session: Session, *, actor: User | None, limit: int = 50) -> Sequence[KindWord]:
    require_role(actor, *STAFF)
    return session.exec(
        select(KindWord)
        .where(col(KindWord.status) == KindWordStatus.approved.value)
        .order_by(col(KindWord.created_at).desc(), col(KindWord.id).desc())
        .limit(limit)
    ).all()


def pending(session: Session, *, actor: User | None) -> Sequence[KindWord]:
    require_role(actor, *TEAM)
    return session.exec(
        select(KindWord)
        .where(col(KindWord.status) == KindWordStatus.pending.value)
        .order_by(col(KindWord.created_at), col(KindWord.id))
    ).all()


def mine(session: Session, *, actor: User | None) -> Sequence[KindWord]:
    """The author's own notes still waiting (so they know it was received)."""
    author = require_role(actor, *STAFF)
    return session.exec(
        select(KindWord)
        .where(
            col(KindWord.author_id) == author.id,
            col(KindWord.status) == KindWordStatus.pending.value,
        )
        .order_by(col(KindWord.created_at).desc())
    ).all()
