"""Recurring questions become tutorials: a draft KB article prefilled from a question and
its answers, linked to its source question, to be reviewed in the KB editor."""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from hub.errors import Conflict
from hub.i18n import N_
from hub.models import SUPPORT, User, id_of
from hub.people import require_role
from hub.questions import audit
from hub.questions.models import MessageKind, Question, QuestionMessage
from hub.questions.queues import open_for_staff, tags_of
from kb.analyzer import words
from kb.articles import MAX_QUESTION_LENGTH, ArticleInput, save_article
from kb.models import Article, Status


def _slug(question: Question) -> str:
    base = "-".join(words(question.title))[:90].strip("-") or "question"
    base = re.sub(r"-+", "-", base)
    return f"{base}-q{question.id}"


def draft_article(session: Session, *, actor: User | None, question_id: int) -> Article:
    """Create (or return, if made before) the draft article for this question."""
    question = open_for_staff(session, actor=actor, question_id=question_id)
    require_role(actor, *SUPPORT)
    if question.article_id is not None:
        existing = session.get(Article, question.article_id)
        if existing is not None:
            return existing
    answers = session.exec(
        select(QuestionMessage)
        .where(
            QuestionMessage.question_id == question.id,
            QuestionMessage.kind == MessageKind.answer.value,
        )
        .order_by(col(QuestionMessage.created_at))
    ).all()
    if not answers:
        raise Conflict(N_("Répondez d'abord à la question : l'article part de la réponse."))
    body = (
        "## La question\n\n"
        + question.body
        + "\n\n## La réponse\n\n"
        + "\n\n".join(a.body for a in answers)
        + f"\n\n<!-- Source : question #{question.id} du hub. -->\n"
    )
    tags = [t for t in tags_of(session, id_of(question)) if "," not in t][:20]
    article, _ = save_article(
        session,
        ArticleInput(
            slug=_slug(question),
            title=question.title[:200],
            kind="guide",
            audience="teacher",
            body=body,
            summary=f"Question fréquente (question #{question.id}).",
            tags=tags,
            # The asker's words: the first phrasing of the question the article answers.
            questions=[question.title[:MAX_QUESTION_LENGTH]],
            status=Status.draft.value,
        ),
        actor=actor,
        note=f"brouillon depuis la question #{question.id}",
        create_only=True,
    )
    question.article_id = article.id
    session.add(question)
    audit.record(session, id_of(question), actor, "article_drafted", article.slug)
    session.flush()
    return article
