"""Phrasings the hub learns from its own life: when a referent answers a question with a link
to an article, or someone says a suggested article solved their problem, the question's title
is proposed as a phrasing of that article. A referent or the e-learning team adds it to the
article's questions in one click, or sets it aside.

No proposal is added by itself, whatever its count of confirmations: a phrasing steers every
reader's search, and one wrong link (a referent's slip, a click on the first suggestion to
close a form) would send everyone asking the same words to the wrong article. Confirmations
(the same words proposed again) are counted and put first, to tell the reviewer what repeats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.errors import Conflict, NotFound, PermissionDenied
from hub.i18n import N_
from hub.models import Role, User, id_of, utcnow
from hub.people import require_role, served_department_ids
from kb.analyzer import analyze, fold
from kb.articles import AUTHORS, MAX_QUESTION_LENGTH, add_question, parse_questions
from kb.models import Article, PhrasingProposal, PhrasingSource, Status

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
MIN_TERMS = 2  # "teams" alone says nothing an article's title does not already say
# Links to an article in an answer: /kb/<slug>, absolute or not (not /kb/new, /kb/gaps...).
ARTICLE_LINK = re.compile(r"/kb/([a-z0-9][a-z0-9-]{1,119})(?![a-z0-9-])")


def _normalized(text: str) -> str:
    return " ".join(fold(text).split())


def propose(
    session: Session,
    *,
    article: Article,
    text: str,
    source: PhrasingSource,
    question_id: int | None = None,
) -> PhrasingProposal | None:
    """Propose `text` as a phrasing of `article` (or count one more confirmation). Nothing
    is proposed for a text too short to say anything, too long to be a phrasing, or that
    the article already has as its title or one of its questions."""
    text = " ".join(text.split())
    normalized = _normalized(text)
    known = {_normalized(q) for q in parse_questions(article.questions)}
    if (
        len(text) > MAX_QUESTION_LENGTH
        or len(analyze(text)) < MIN_TERMS
        or normalized in known
        or normalized == _normalized(article.title)
    ):
        return None
    for _ in range(2):  # a concurrent first proposal of the same words: confirm it instead
        existing = session.exec(
            select(PhrasingProposal).where(
                PhrasingProposal.article_id == article.id,
                PhrasingProposal.normalized == normalized,
            )
        ).first()
        if existing is not None:
            if existing.status == PENDING:
                existing.confirmations += 1
                session.add(existing)
                session.flush()
            return existing
        proposal = PhrasingProposal(
            article_id=id_of(article),
            text=text,
            normalized=normalized,
            source=source.value,
            question_id=question_id,
        )
        try:
            with session.begin_nested():
                session.add(proposal)
        except IntegrityError:
            continue
        return proposal
    return None


def propose_from_answer(session: Session, *, body: str, title: str, question_id: int) -> int:
    """A public answer linking articles: the question's title is proposed for each published
    one. Returns how many proposals were made or confirmed."""
    slugs = list(dict.fromkeys(ARTICLE_LINK.findall(body)))
    if not slugs:
        return 0
    articles = session.exec(
        select(Article).where(col(Article.slug).in_(slugs), Article.status == Status.published)
    ).all()
    made = 0
    for article in articles:
        if propose(
            session,
            article=article,
            text=title,
            source=PhrasingSource.answer_link,
            question_id=question_id,
        ):
            made += 1
    return made


@dataclass
class PendingPhrasing:
    proposal: PhrasingProposal
    article: Article


def _reviewable(session: Session, actor: User) -> list[ColumnElement[bool]]:
    """Conditions on the article: referents review the phrasings of the articles they may
    edit (for everyone or for a department they serve), the team all of them."""
    require_role(actor, *AUTHORS)
    if actor.role is Role.referent:
        served = served_department_ids(session, actor)
        return [col(Article.department_id).is_(None) | col(Article.department_id).in_(served)]
    return []


def pending(
    session: Session, *, actor: User, article_id: int | None = None
) -> list[PendingPhrasing]:
    """The proposals waiting for this reviewer, the most confirmed first."""
    query = (
        select(PhrasingProposal, Article)
        .join(Article, col(Article.id) == col(PhrasingProposal.article_id))
        .where(PhrasingProposal.status == PENDING, *_reviewable(session, actor))
        .order_by(
            col(PhrasingProposal.confirmations).desc(),
            col(Article.title),
            col(PhrasingProposal.id),
        )
    )
    if article_id is not None:
        query = query.where(PhrasingProposal.article_id == article_id)
    return [PendingPhrasing(p, a) for p, a in session.exec(query).all()]


def pending_count(session: Session, *, actor: User) -> int:
    if actor.role not in AUTHORS:
        return 0
    query = (
        select(func.count())
        .select_from(PhrasingProposal)
        .join(Article, col(Article.id) == col(PhrasingProposal.article_id))
        .where(PhrasingProposal.status == PENDING, *_reviewable(session, actor))
    )
    return session.exec(query).one()


def _waiting(session: Session, proposal_id: int, actor: User) -> tuple[PhrasingProposal, Article]:
    require_role(actor, *AUTHORS)
    proposal = session.get(PhrasingProposal, proposal_id)
    article = session.get(Article, proposal.article_id) if proposal else None
    if proposal is None or article is None:
        raise NotFound(N_("Formulation introuvable."))
    if actor.role is Role.referent and article.department_id is not None:
        if article.department_id not in served_department_ids(session, actor):
            raise PermissionDenied(N_("Vous ne servez pas ce département."))
    if proposal.status != PENDING:
        raise Conflict(N_("Cette formulation a déjà été traitée."))
    return proposal, article


def _decide(session: Session, proposal: PhrasingProposal, actor: User, status: str) -> None:
    proposal.status = status
    proposal.decided_at = utcnow()
    proposal.decided_by_id = actor.id
    session.add(proposal)
    session.flush()


def accept(session: Session, *, proposal_id: int, actor: User) -> Article:
    """Add the phrasing to its article's questions (a new revision): searched at once."""
    proposal, article = _waiting(session, proposal_id, actor)
    add_question(session, article=article, question=proposal.text, actor=actor)
    _decide(session, proposal, actor, ACCEPTED)
    return article


def reject(session: Session, *, proposal_id: int, actor: User) -> Article:
    """Set it aside for good: the same words are not proposed again for this article."""
    proposal, article = _waiting(session, proposal_id, actor)
    _decide(session, proposal, actor, REJECTED)
    return article
