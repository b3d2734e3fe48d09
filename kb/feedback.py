"""What readers tell us: helpful votes, search logs and clicks, and the content gaps they show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from hub.errors import InvalidInput
from hub.i18n import N_
from hub.models import Role, User, id_of, utcnow
from hub.people import require_role
from kb.analyzer import fold
from kb.models import Article, ArticleFeedback, SearchLog

MAX_COMMENT = 1000
KEYSTROKE_WINDOW = timedelta(seconds=30)  # refinements of one search within this are one log


def record_feedback(
    session: Session, *, article: Article, user: User | None, helpful: bool, comment: str = ""
) -> ArticleFeedback:
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(
            N_("Commentaire trop long (1000 caractères au plus)."),
            {"comment": N_("1000 caractères au plus.")},
        )
    feedback = ArticleFeedback(
        article_id=id_of(article),
        user_id=user.id if user else None,
        helpful=helpful,
        comment=comment,
    )
    session.add(feedback)
    session.flush()
    return feedback


def normalize_query(query: str) -> str:
    return " ".join(fold(query).split())[:200]


def log_search(
    session: Session,
    *,
    query: str,
    result_count: int,
    user: User | None,
    previous_id: int | None = None,
) -> int:
    """Record a search; a refinement of the same reader's previous search (search-as-you-type
    keystrokes) updates that row instead of adding one. Keeps no user id, only the role."""
    normalized = normalize_query(query)
    if previous_id is not None:
        previous = session.get(SearchLog, previous_id)
        if (
            previous is not None
            and previous.clicked_slug is None
            and utcnow() - previous.created_at < KEYSTROKE_WINDOW
            and (
                normalized.startswith(previous.normalized)
                or previous.normalized.startswith(normalized)
            )
        ):
            previous.query = query[:200]
            previous.normalized = normalized
            previous.result_count = result_count
            previous.created_at = utcnow()
            session.add(previous)
            session.flush()
            return id_of(previous)
    log = SearchLog(
        query=query[:200],
        normalized=normalized,
        result_count=result_count,
        role=user.role.value if user else "anonymous",
    )
    session.add(log)
    session.flush()
    return id_of(log)


def record_click(session: Session, *, log_id: int, slug: str) -> None:
    log = session.get(SearchLog, log_id)
    if log is not None and log.clicked_slug is None:
        log.clicked_slug = slug[:120]
        session.add(log)
        session.flush()


@dataclass
class Gap:
    query: str
    searches: int
    last: str


@dataclass
class UnhelpfulArticle:
    slug: str
    title: str
    unhelpful: int
    helpful: int
    comments: list[str]


def content_gaps(
    session: Session, *, actor: User, days: int = 30, limit: int = 50
) -> tuple[list[Gap], list[UnhelpfulArticle]]:
    """Searches that found nothing, and articles readers said did not help (e-learning team)."""
    require_role(actor, Role.elearning)
    since = utcnow() - timedelta(days=days)
    rows = session.exec(
        select(SearchLog.normalized, func.count(), func.max(SearchLog.created_at))
        .where(SearchLog.result_count == 0, col(SearchLog.created_at) >= since)
        .group_by(col(SearchLog.normalized))
        .order_by(func.count().desc(), col(SearchLog.normalized))
        .limit(limit)
    ).all()
    gaps = [Gap(query=q, searches=n, last=str(last)[:16]) for q, n, last in rows]
    unhelpful_count = func.sum(case((col(ArticleFeedback.helpful).is_(False), 1), else_=0))
    helpful_count = func.sum(case((col(ArticleFeedback.helpful).is_(True), 1), else_=0))
    votes = session.execute(
        sa_select(
            col(Article.id), col(Article.slug), col(Article.title), unhelpful_count, helpful_count
        )
        .join(ArticleFeedback, col(ArticleFeedback.article_id) == col(Article.id))
        .where(col(ArticleFeedback.created_at) >= since)
        .group_by(col(Article.id), col(Article.slug), col(Article.title))
        .having(unhelpful_count > 0)
        .order_by(unhelpful_count.desc(), col(Article.slug))
        .limit(limit)
    ).all()
    articles = []
    for article_id, slug, title, bad, good in votes:
        comments = list(
            session.exec(
                select(ArticleFeedback.comment)
                .where(
                    ArticleFeedback.article_id == article_id,
                    col(ArticleFeedback.helpful).is_(False),
                    ArticleFeedback.comment != "",
                )
                .order_by(col(ArticleFeedback.id).desc())
                .limit(5)
            ).all()
        )
        articles.append(
            UnhelpfulArticle(
                slug=slug, title=title, unhelpful=int(bad), helpful=int(good), comments=comments
            )
        )
    return gaps, articles
