"""Crisis mode: one row saying whether the stricter crisis profile is on.

For now only a state read by the escalation clocks (stricter targets, longer opening hours);
the switch itself (pages, who may flip it, announcements) is built on this table later.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, Session, SQLModel

from hub.models import User, UTCDateTime, utcnow

STATE_ID = 1  # the table has a single row


class CrisisState(SQLModel, table=True):
    __tablename__ = "crisis_state"

    id: int | None = Field(default=None, primary_key=True)
    active: bool = Field(default=False)
    message: str = Field(default="", sa_column=Column(Text, nullable=False))
    changed_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    changed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


def crisis_state(session: Session) -> CrisisState | None:
    return session.get(CrisisState, STATE_ID)


def crisis_active(session: Session) -> bool:
    """Is the crisis profile on? (No row yet: no crisis.)"""
    state = crisis_state(session)
    return bool(state and state.active)


def set_crisis(session: Session, *, active: bool, message: str = "", actor: User | None) -> None:
    """Turn the crisis profile on or off (the future switch calls this after its checks)."""
    state = crisis_state(session) or CrisisState(id=STATE_ID)
    state.active = active
    state.message = message.strip()
    state.changed_by_id = actor.id if actor else None
    state.changed_at = utcnow()
    session.add(state)
    session.flush()
