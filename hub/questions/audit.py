"""The audit trail of a question: every action, who did it and when (staff can read it)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from hub.models import User
from hub.questions.models import QuestionEvent

SYSTEM_ACTOR = "hub"  # the SLA sweep, the exam problem form


def record(
    session: Session, question_id: int, actor: User | None, action: str, detail: str = ""
) -> QuestionEvent:
    event = QuestionEvent(
        question_id=question_id,
        actor_id=actor.id if actor else None,
        actor_name=(actor.name if actor else SYSTEM_ACTOR)[:200],
        action=action,
        detail=detail[:500],
    )
    session.add(event)
    return event


def events_of(session: Session, question_id: int) -> Sequence[QuestionEvent]:
    """Oldest first. Callers check that the reader is staff for the question."""
    return session.exec(
        select(QuestionEvent)
        .where(QuestionEvent.question_id == question_id)
        .order_by(col(QuestionEvent.created_at), col(QuestionEvent.id))
    ).all()
