"""Duplicates: merge a question into another (answer once, every asker is told), and find
similar questions with the same French analyzer as the knowledge base."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from hub.errors import Conflict, InvalidInput, PermissionDenied
from hub.i18n import N_
from hub.models import User, id_of, utcnow
from hub.questions import audit, notify
from hub.questions.models import Question, QuestionStatus, QuestionTag
from hub.questions.queues import is_staff_for, open_for_staff

SIMILAR_WINDOW = timedelta(days=180)
SIMILAR_CANDIDATES = 2000


def merge(
    session: Session, *, actor: User | None, duplicate_id: int, into_id: int, base_url: str
) -> Question:
    """`duplicate` follows `into` from now on: its asker gets the answers given there."""
    duplicate = open_for_staff(session, actor=actor, question_id=duplicate_id)
    into = open_for_staff(session, actor=actor, question_id=into_id)
    assert actor is not None
    while into.merged_into_id is not None:  # merging into a duplicate: follow to the root
        into = open_for_staff(session, actor=actor, question_id=into.merged_into_id)
    if id_of(into) == id_of(duplicate):
        raise InvalidInput(
            N_("Une question ne peut pas être fusionnée avec elle-même."),
            {"into": N_("Choisissez une autre question.")},
        )
    if duplicate.status == QuestionStatus.merged.value:
        raise Conflict(N_("Cette question est déjà fusionnée."))
    if not (is_staff_for(session, actor, duplicate) and is_staff_for(session, actor, into)):
        raise PermissionDenied(N_("Vous ne servez pas ce département."))
    # Questions that followed the duplicate now follow the root.
    session.execute(
        update(Question)
        .where(col(Question.merged_into_id) == duplicate.id)
        .values(merged_into_id=into.id)
    )
    duplicate.status = QuestionStatus.merged.value
    duplicate.merged_into_id = into.id
    duplicate.last_activity_at = utcnow()
    session.add(duplicate)
    existing = set(
        session.exec(select(QuestionTag.tag).where(QuestionTag.question_id == into.id)).all()
    )
    for tag in session.exec(
        select(QuestionTag.tag).where(QuestionTag.question_id == duplicate.id)
    ).all():
        if tag not in existing:
            session.add(QuestionTag(question_id=id_of(into), tag=tag))
    audit.record(session, id_of(duplicate), actor, "merged", f"→ #{into.id}")
    audit.record(session, id_of(into), actor, "merged_in", f"#{duplicate.id}")
    if into.priority != "urgent" and duplicate.priority == "urgent":
        into.priority = "urgent"
        session.add(into)
    session.flush()
    notify.merged(session, duplicate, into, base_url=base_url)
    return into


@dataclass
class Similar:
    question: Question
    score: float


def similar_questions(
    session: Session, *, actor: User | None, question_id: int, limit: int = 5
) -> list[Similar]:
    """Questions of the same department(s) the actor serves sharing the most analyzed terms
    (weighted overlap of the title and text), newest first among equals."""
    question = open_for_staff(session, actor=actor, question_id=question_id)
    assert actor is not None
    terms = set(question.search_text.split())
    if not terms:
        return []
    since = utcnow() - SIMILAR_WINDOW
    rows = session.exec(
        select(Question)
        .where(
            Question.department_id == question.department_id,
            Question.id != question.id,
            col(Question.created_at) >= since,
        )
        .order_by(col(Question.created_at).desc())
        .limit(SIMILAR_CANDIDATES)
    ).all()
    scored = []
    for row in rows:
        other = set(row.search_text.split())
        shared = terms & other
        if len(shared) < 2:
            continue
        score = len(shared) / (len(terms | other) ** 0.5 * len(terms) ** 0.5)
        scored.append(Similar(question=row, score=round(score, 3)))
    scored.sort(key=lambda s: (-s.score, -id_of(s.question)))
    return scored[:limit]
