"""Anonymous article pages, cached like the exam pages (hub/web/caching.py).

The exam-morning crowd and the first hour of a crisis read the same few tutorials without
signing in. Their article pages are rendered once per version and replayed: by
`PageCacheMiddleware` before FastAPI runs, or by the route (`pages.page`) when the version
was not checked in the last CHECK_SECONDS. They carry an ETag and a short public cache
(`Cache-Control: public, max-age=30`) and set no cookie: the feedback form, which needs a
CSRF token and so a session, is loaded on its own (`/kb/{slug}/feedback`).

The version is what an anonymous article page shows besides the article: the search index
generation (bumped by database triggers on any change of an article or a synonym, by any
process) and the crisis banner. A change shows within CHECK_SECONDS.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlmodel import Session
from starlette.types import Scope

from hub.cache import ARTICLES, BANNER, ProcessCache
from hub.crisis.mode import current_banner
from hub.web.caching import PageCache
from kb.articles import RESERVED_SLUGS

CHECK_SECONDS = 2.0  # staleness an anonymous reader may see after an article changes
ARTICLE_PATH = re.compile(r"/kb/([a-z0-9]+(?:-[a-z0-9]+)*)")
GENERATION = text("SELECT generation FROM search_fts_generation WHERE id = 1")

# Anonymous article pages show no time (no countdown): kept until the version changes, not
# re-rendered every minute (each minute used to make every article page a miss again).
pages = PageCache(per_minute=False)


def _read_version(session: Session) -> object:
    # One primary-key read and the cached banner.
    return (session.execute(GENERATION).scalar_one(), current_banner(session))


# The version anonymous article pages depend on, re-read at most every CHECK_SECONDS by one
# caller (hub/cache.py); an article, a synonym or the banner changed here drops it at once.
_versions = ProcessCache[object](
    "article pages version",
    version=_read_version,
    check_seconds=CHECK_SECONDS,
    depends_on=[BANNER, ARTICLES],
)


def version(session: Session) -> object:
    """The version anonymous article pages depend on, read through the request's session
    when due, remembered for `fresh_version`."""
    return _versions.get(session)


def fresh_version(engine_url: str, *, now: float | None = None) -> object | None:
    """The version to answer cached pages with, or None when the caller must go through the
    route (which reads it): within CHECK_SECONDS of the last read everyone gets it; after
    that one caller gets None and re-checks, the others keep the last version meanwhile."""
    entry = _versions.fresh(engine_url, now=now)
    return entry.version if entry is not None else None


def fresh_generation(engine_url: str) -> object | None:
    """The search index generation part of `fresh_version` (remembered search-as-you-type
    lists depend on it, not on the banner: kb/suggest.py)."""
    checked = fresh_version(engine_url)
    return None if checked is None else checked[0]  # type: ignore[index]


def cacheable(scope: Scope) -> bool:
    """An article page (not /kb/new and the like), not a click from a search result (the
    route credits that click to the reader's search)."""
    match = ARTICLE_PATH.fullmatch(scope["path"])
    return (
        match is not None
        and match.group(1) not in RESERVED_SLUGS
        and b"from_search" not in scope.get("query_string", b"")
    )
