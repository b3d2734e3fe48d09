"""Search-as-you-type answered from memory, before the framework.

The header's suggestions are the busiest path of a crisis's first hour: a request for every
key a signed-in teacher presses. Through the route (`kb.web.kb_suggest`) each one costs two
thread hops, the person read from the database and the ORM, for a list the process computed
a moment ago for someone else typing the same first letters. So the route remembers two
things, and `SuggestMiddleware` answers the next htmx request from them without touching the
database:

- the reader (`readers`): what a suggestion list depends on about a person (role, the
  departments whose articles they read, language, session version), remembered for
  READER_SECONDS. A session signed out elsewhere, a deactivated account or a new role takes
  effect within that time (at once in the process that made the change);
- the answer (`answers`): the articles listed for one reader filter and one query as typed,
  at one index generation. The generation is the one anonymous article pages check
  (`kb.pages.fresh_version`, re-read every CHECK_SECONDS), so an article edited, archived or
  restricted drops out of the lists within CHECK_SECONDS, as it does from cached pages.

Anything else (anonymous readers, API tokens, a plain GET, a reader or an answer not
remembered, a stale generation) goes through the route, which fills both. Both answers are
the same bytes; the search is logged the same way (`SearchLogRecorder`, written in batches).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from markupsafe import Markup
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.cache import Memo
from hub.i18n import pick_locale
from hub.models import User
from hub.web.rendering import Renderer
from kb.feedback import SearchLogRecorder, SearchTrail
from kb.search import SearchResponse, highlight_title

PATH = "/kb/suggest"
TEMPLATE = "kb/_suggestions.html"
READER_SECONDS = 5.0  # how long a change to a person (role, account) may go unnoticed here
READERS = 20_000  # people remembered (a few hundred bytes each)
ANSWERS = 4096  # lists remembered (reader filter x query as typed)


@dataclass(frozen=True)
class Reader:
    """What a suggestion list depends on about a signed-in person."""

    session_version: int
    role: str
    departments: tuple[int, ...] | None  # None: every department (the e-learning team)
    locale: str | None  # the account's language (the session's choice comes first)
    remembered_at: float

    @property
    def filter_key(self) -> tuple[object, ...]:
        return (self.role, self.departments)


@dataclass(frozen=True)
class Kind:
    value: str


@dataclass(frozen=True)
class Listed:
    """An article as the suggestion list shows it (the template reads `article.*`)."""

    slug: str
    title: str
    kind: Kind


@dataclass(frozen=True)
class Suggestion:
    article: Listed
    matched_terms: frozenset[str]


@dataclass(frozen=True)
class Answer:
    generation: object
    query: str  # stripped, as logged
    results: tuple[Suggestion, ...]


readers = Memo[tuple[str, int], Reader]("search-as-you-type readers", READERS)  # (db, user id)
answers = Memo[tuple[object, ...], Answer]("search-as-you-type answers", ANSWERS)


def remember(
    engine_url: str,
    user: User,
    departments: set[int] | None,
    raw_query: str,
    response: SearchResponse,
) -> None:
    """Called by the route after a signed-in search-as-you-type: the next keystrokes of
    this reader, and of anyone with the same reader filter typing the same thing, are
    answered from memory."""
    if user.id is None or response.generation is None:
        return
    reader = Reader(
        session_version=user.session_version,
        role=user.role.value,
        departments=None if departments is None else tuple(sorted(departments)),
        locale=user.locale,
        remembered_at=time.monotonic(),
    )
    readers.put((engine_url, user.id), reader)
    answer = Answer(
        generation=response.generation,
        query=response.query,
        results=tuple(
            Suggestion(
                article=Listed(
                    slug=result.article.slug,
                    title=result.article.title,
                    kind=Kind(result.article.kind.value),
                ),
                matched_terms=frozenset(result.matched_terms),
            )
            for result in response.results
        ),
    )
    answers.put((engine_url, reader.filter_key, raw_query), answer)


@event.listens_for(Session, "after_flush")
def _people_changed(session: Session, _flush_context: object) -> None:
    """A change to a person made in this process (role, department, deactivation, sign-out
    everywhere) applies from their next keystroke here; elsewhere within READER_SECONDS."""
    changed = [
        instance.id
        for instance in itertools.chain(session.dirty, session.deleted)
        if isinstance(instance, User) and instance.id is not None
    ]
    if changed:
        engine_url = str(session.get_bind().engine.url)
        for user_id in changed:
            readers.pop((engine_url, user_id))


def _remembered(
    engine_url: str, session: dict[str, object], raw_query: str, generation: object
) -> tuple[Reader, Answer] | None:
    uid = session.get("uid")
    if not isinstance(uid, int) or isinstance(uid, bool):
        return None
    reader = readers.get((engine_url, uid))
    if (
        reader is None
        or time.monotonic() - reader.remembered_at >= READER_SECONDS
        or reader.session_version != session.get("ver")
    ):
        return None
    answer = answers.get((engine_url, reader.filter_key, raw_query))
    if answer is None or answer.generation != generation:
        return None
    return reader, answer


class SuggestMiddleware:
    """Answers a signed-in reader's htmx `GET /kb/suggest` from what the route remembered
    (see the module's docstring); everything else goes on to the app. Sits inside the
    session middleware (it reads and updates the session: the search trail)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        engine_url: str,
        generation: Callable[[], object | None],
        renderer: Renderer,
        search_logs: SearchLogRecorder,
    ) -> None:
        self.app = app
        self.engine_url = engine_url
        self.generation = generation
        self.renderer = renderer
        self.search_logs = search_logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        answered = self._answer(scope)
        if answered is None:
            await self.app(scope, receive, send)
            return
        body = answered.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode("ascii")),
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"vary", b"HX-Request, HX-Target, Cookie"),  # as Renderer.render
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _answer(self, scope: Scope) -> str | None:
        headers = Headers(scope=scope)
        if (
            headers.get("hx-request") != "true"
            or "hx-history-restore-request" in headers
            or "authorization" in headers
        ):
            return None
        session = scope.get("session")
        if not isinstance(session, dict) or "uid" not in session:
            return None
        values = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        typed = values.get("q", [""])
        if len(typed) != 1 or "\x00" in typed[0] or not typed[0].strip():
            return None
        raw_query = typed[0]
        generation = self.generation()
        if generation is None:
            return None
        found = _remembered(self.engine_url, session, raw_query, generation)
        if found is None:
            return None
        reader, answer = found
        trail = self.search_logs.record(
            query=answer.query,
            result_count=len(answer.results),
            role=reader.role,
            previous=SearchTrail.from_session(session.get("search_log")),
        )
        session["search_log"] = trail.to_session()
        locale = pick_locale(_text(session.get("lang")), reader.locale)
        template = self.renderer.environments[locale].get_template(TEMPLATE)
        return template.render(
            url=self.renderer.addresses(scope["app"]),  # the app's routes, as `render` gives
            q=raw_query,
            response=answer,
            log_ref=trail.ref,
            highlight_title=_highlight_title,
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _highlight_title(title: str, matched: frozenset[str]) -> Markup:
    return highlight_title(title, set(matched))
