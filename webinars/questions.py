"""Questions sent in advance: asked by registrants, upvoted by them, read by the hosts.

Registrants see the questions and their votes but not who asked; the hosts and the
e-learning team also see the authors."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.errors import InvalidInput, NotFound, PermissionDenied
from hub.i18n import N_
from hub.models import User, id_of
from webinars.models import (
    RegistrationStatus,
    WebinarQuestion,
    WebinarQuestionVote,
)
from webinars.registration import registration_of
from webinars.sessions import can_host, get_session, has_control

MAX_QUESTION = 1000


@dataclass
class QuestionView:
    question: WebinarQuestion
    author: str | None  # for hosts only
    voted: bool


def can_take_part(session: Session, user: User | None, webinar_id: int) -> bool:
    if user is None:
        return False
    if can_host(session, user, webinar_id):
        return True
    registration = registration_of(session, webinar_id, user.id or 0)
    return registration is not None and registration.status != RegistrationStatus.cancelled.value


def ask(session: Session, webinar_id: int, text: str, *, actor: User) -> WebinarQuestion:
    get_session(session, webinar_id)
    if not can_take_part(session, actor, webinar_id):
        raise PermissionDenied(N_("Inscrivez-vous pour poser une question."))
    text = text.replace("\r\n", "\n").strip()
    if not text or len(text) > MAX_QUESTION or has_control(text, multiline=True):
        message = N_("Votre question : 1 à 1000 caractères.")
        raise InvalidInput(message, {"text": message})
    question = WebinarQuestion(session_id=webinar_id, user_id=actor.id, text=text)
    session.add(question)
    session.flush()
    return question


def toggle_vote(session: Session, question_id: int, *, actor: User) -> WebinarQuestion:
    """Upvote, or take the upvote back. The counter moves only if the vote row changed."""
    question = session.get(WebinarQuestion, question_id)
    if question is None:
        raise NotFound(N_("Question introuvable."))
    if not can_take_part(session, actor, question.session_id):
        raise PermissionDenied(N_("Inscrivez-vous pour voter."))
    vote = session.get(WebinarQuestionVote, (question_id, id_of(actor)))
    if vote is not None:
        session.delete(vote)
        session.flush()
        delta = -1
    else:
        try:
            with session.begin_nested():
                session.add(WebinarQuestionVote(question_id=question_id, user_id=id_of(actor)))
        except IntegrityError:  # a double click: already counted
            return question
        delta = 1
    session.execute(
        update(WebinarQuestion)
        .where(col(WebinarQuestion.id) == question_id)
        .values(votes=col(WebinarQuestion.votes) + delta)
        .execution_options(synchronize_session=False)
    )
    session.refresh(question)
    return question


def list_questions(session: Session, webinar_id: int, *, viewer: User | None) -> list[QuestionView]:
    if not can_take_part(session, viewer, webinar_id):
        return []
    assert viewer is not None
    host = can_host(session, viewer, webinar_id)
    questions = session.exec(
        select(WebinarQuestion)
        .where(WebinarQuestion.session_id == webinar_id)
        .order_by(col(WebinarQuestion.votes).desc(), col(WebinarQuestion.id))
    ).all()
    voted = set(
        session.exec(
            select(WebinarQuestionVote.question_id).where(
                WebinarQuestionVote.user_id == viewer.id,
                col(WebinarQuestionVote.question_id).in_([q.id for q in questions]),
            )
        ).all()
    )
    names: dict[int, str] = {}
    if host:
        ids = {q.user_id for q in questions if q.user_id is not None}
        if ids:
            names = {
                id_of(u): u.name for u in session.exec(select(User).where(col(User.id).in_(ids)))
            }
    return [
        QuestionView(
            question=q,
            author=names.get(q.user_id or 0) if host else None,
            voted=q.id in voted,
        )
        for q in questions
    ]
