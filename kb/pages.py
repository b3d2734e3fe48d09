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
import threading
import time
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session
from starlette.types import Scope

from hub.crisis.mode import current_banner
from hub.web.caching import PageCache
from kb.articles import RESERVED_SLUGS
from kb.search import CHANGE_LISTENERS

CHECK_SECONDS = 2.0  # staleness an anonymous reader may see after an article changes
CLAIM_SECONDS = 1.0  # a claimed re-check that never happened (request failed) expires
ARTICLE_PATH = re.compile(r"/kb/([a-z0-9]+(?:-[a-z0-9]+)*)")
GENERATION = text("SELECT generation FROM search_fts_generation WHERE id = 1")

# Anonymous article pages show no time (no countdown): kept until the version changes, not
# re-rendered every minute (each minute used to make every article page a miss again).
pages = PageCache(per_minute=False)


@dataclass(frozen=True)
class _Checked:
    version: object
    checked_at: float


_checked: dict[str, _Checked] = {}  # database URL -> last version read
_claims: dict[str, float] = {}  # database URL -> when a request was sent to re-check
_lock = threading.Lock()  # memory only, never held across a query


def version(session: Session) -> object:
    """The version anonymous article pages depend on, read through the request's session
    (one primary-key read and the cached banner), remembered for `fresh_version`."""
    key = str(session.get_bind().engine.url)
    value = (session.execute(GENERATION).scalar_one(), current_banner(session))
    with _lock:
        _checked[key] = _Checked(value, time.monotonic())
        _claims.pop(key, None)
    return value


def fresh_version(engine_url: str, *, now: float | None = None) -> object | None:
    """The version to answer cached pages with, or None when the caller must go through the
    route (which reads it): within CHECK_SECONDS of the last read everyone gets it; after
    that one caller gets None and re-checks, the others keep the last version meanwhile."""
    clock = time.monotonic() if now is None else now
    with _lock:
        checked = _checked.get(engine_url)
        if checked is None:
            return None
        if clock - checked.checked_at < CHECK_SECONDS:
            return checked.version
        claimed = _claims.get(engine_url)
        if claimed is not None and clock - claimed < CLAIM_SECONDS:
            return checked.version
        _claims[engine_url] = clock
        return None


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


def _changed_here(engine_url: str) -> None:
    """A change committed by this process shows at once here (the next request reads the
    version); other processes see it within CHECK_SECONDS."""
    with _lock:
        _checked.pop(engine_url, None)


CHANGE_LISTENERS.append(_changed_here)


def forget() -> None:
    """Drop cached pages and versions (tests; a change in this process shows anyway within
    CHECK_SECONDS)."""
    with _lock:
        _checked.clear()
        _claims.clear()
    pages.clear()
