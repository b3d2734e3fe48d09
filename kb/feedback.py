"""What readers tell us: helpful votes, search logs and clicks, and the content gaps they show."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hub.db import session_scope
from hub.errors import InvalidInput
from hub.i18n import N_
from hub.models import TEAM, User, id_of, utcnow
from hub.people import require_role
from kb.analyzer import fold
from kb.models import Article, ArticleFeedback, SearchLog

MAX_COMMENT = 1000
log = logging.getLogger(__name__)
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


@dataclass
class PendingSearch:
    """A search answered but not yet written (see SearchLogRecorder)."""

    ref: str
    query: str
    normalized: str
    result_count: int
    role: str
    created_at: datetime
    clicked_slug: str | None = None
    found_elsewhere: int = 0  # matches shown elsewhere (see SearchLog.found_elsewhere)


@dataclass(frozen=True)
class SearchTrail:
    """What a reader's session remembers of their latest search, so that the next keystroke
    refines it and a click is credited to it, without reading the database."""

    ref: str
    normalized: str
    at: float  # epoch seconds

    def to_session(self) -> list[object]:
        return [self.ref, self.normalized, self.at]

    @classmethod
    def from_session(cls, value: object) -> SearchTrail | None:
        if (
            isinstance(value, list)
            and len(value) == 3
            and isinstance(value[0], str)
            and isinstance(value[1], str)
            and isinstance(value[2], int | float)
        ):
            return cls(value[0], value[1], float(value[2]))
        return None


def reader_role(user: User | None) -> str:
    """The role a search is logged under."""
    return user.role.value if user else "anonymous"


class SearchLogRecorder:
    """Search logs and clicks of this process, written in batches by hub.byproducts.Flusher.

    A search is given a random reference when it is answered; the keystrokes of one
    search-as-you-type session keep that reference (the row is updated, not multiplied) and a
    click is credited to it. The flush is an upsert by reference, so a refinement arriving after
    its search was written updates the same row, in any worker."""

    name = "search logs"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.searches: dict[str, PendingSearch] = {}
        self.clicks: dict[str, str] = {}

    def record(
        self,
        *,
        query: str,
        result_count: int,
        role: str,
        previous: SearchTrail | None = None,
        now: datetime | None = None,
        found_elsewhere: int = 0,
    ) -> SearchTrail:
        """Record a search; a refinement of the same reader's previous search (within
        KEYSTROKE_WINDOW, not clicked, one query a prefix of the other) keeps its reference.
        Keeps no user id, only the role (`reader_role`)."""
        now = now or utcnow()
        normalized = normalize_query(query)
        ref = secrets.token_hex(8)
        if (
            previous is not None
            and now.timestamp() - previous.at < KEYSTROKE_WINDOW.total_seconds()
            and (
                normalized.startswith(previous.normalized)
                or previous.normalized.startswith(normalized)
            )
        ):
            ref = previous.ref
        pending = PendingSearch(
            ref=ref,
            query=query[:200],
            normalized=normalized,
            result_count=result_count,
            role=role,
            created_at=now,
            found_elsewhere=found_elsewhere,
        )
        with self.lock:
            self.searches[ref] = pending
        return SearchTrail(ref, normalized, now.timestamp())

    def click(self, *, ref: str, slug: str) -> None:
        """A result opened from that search (only the first click counts)."""
        with self.lock:
            pending = self.searches.get(ref)
            if pending is not None:
                pending.clicked_slug = pending.clicked_slug or slug[:120]
            else:
                self.clicks.setdefault(ref, slug[:120])

    def flush(self) -> int:
        with self.lock:
            searches, self.searches = self.searches, {}
            clicks, self.clicks = self.clicks, {}
        if not searches and not clicks:
            return 0
        try:
            write_search_logs(self.engine, list(searches.values()), clicks)
        except Exception:  # the database is away: keep them for the next flush
            log.warning("could not write search logs; keeping them", exc_info=True)
            with self.lock:
                for ref, pending in searches.items():
                    self.searches.setdefault(ref, pending)
                for ref, slug in clicks.items():
                    self.clicks.setdefault(ref, slug)
            return 0
        return len(searches) + len(clicks)


def write_search_logs(
    engine: Engine, searches: list[PendingSearch], clicks: dict[str, str]
) -> None:
    """One write transaction: upsert the searches by reference, then credit the clicks."""
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    table = SearchLog.__table__  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        for pending in sorted(searches, key=lambda p: p.created_at):
            statement = insert(table).values(
                ref=pending.ref,
                query=pending.query,
                normalized=pending.normalized,
                result_count=pending.result_count,
                found_elsewhere=pending.found_elsewhere,
                role=pending.role,
                clicked_slug=pending.clicked_slug,
                created_at=pending.created_at,
            )
            excluded = statement.excluded
            statement = statement.on_conflict_do_update(
                index_elements=["ref"],
                set_={
                    "query": excluded.query,
                    "normalized": excluded.normalized,
                    "result_count": excluded.result_count,
                    "found_elsewhere": excluded.found_elsewhere,
                    "created_at": excluded.created_at,
                    "clicked_slug": func.coalesce(table.c.clicked_slug, excluded.clicked_slug),
                },
            )
            session.execute(statement)
        for ref, slug in sorted(clicks.items()):
            session.execute(
                update(table)
                .where(table.c.ref == ref, table.c.clicked_slug.is_(None))
                .values(clicked_slug=slug)
            )


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
    """Searches that found nothing (nor anything elsewhere: staff articles behind a sign-in,
    an exam), and articles readers said did not help (e-learning team)."""
    require_role(actor, *TEAM)
    since = utcnow() - timedelta(days=days)
    rows = session.exec(
        select(SearchLog.normalized, func.count(), func.max(SearchLog.created_at))
        .where(
            SearchLog.result_count == 0,
            SearchLog.found_elsewhere == 0,
            col(SearchLog.created_at) >= since,
        )
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
