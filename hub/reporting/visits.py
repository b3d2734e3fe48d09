"""Visits, counted without personal browsing trails.

A page view adds one to an in-memory counter keyed by (local day, role, area); nothing
identifies the person and no per-request row is written. Each web process flushes its
counters to `visit_counter` with an additive upsert (through hub/byproducts.py's flusher), so
several workers add up and the exam-morning rush costs a dictionary increment per page.

What counts: a successful GET of a full HTML page (not htmx partials, not the API, not
static files), cached exam pages included (the middleware sits outside the page cache).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import date

from sqlalchemy import UniqueConstraint
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.business_hours import local_day
from hub.db import session_scope

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, "student", "teacher", "referent", "elearning")
# First path segment -> area shown on the dashboard; anything else is "other".
AREAS = {
    "": "home",
    "start": "home",
    "kb": "kb",
    "exams": "exams",
    "s": "exams",
    "questions": "questions",
    "queues": "queues",
    "webinars": "webinars",
    "calendar": "webinars",
    "departments": "departments",
    "dashboard": "dashboard",
    "admin": "admin",
    "account": "account",
    "login": "account",
}
NOT_PAGES = ("/static/", "/api/", "/healthz", "/favicon")


class VisitCounter(SQLModel, table=True):
    __tablename__ = "visit_counter"
    __table_args__ = (UniqueConstraint("day", "role", "area", name="uq_visit_counter_key"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(index=True)
    role: str = Field(max_length=20)
    area: str = Field(max_length=20)
    views: int = 0


def area_of(path: str) -> str:
    first = path.strip("/").split("/", 1)[0]
    return AREAS.get(first, "other")


class VisitRecorder:
    """The process's counters; `flush()` adds them to the database and starts afresh."""

    name = "visit counters"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counts: Counter[tuple[date, str, str]] = Counter()
        self.lock = threading.Lock()

    def count(self, role: str, path: str, day: date | None = None) -> None:
        key = (day or local_day(), role if role in ROLES else ANONYMOUS, area_of(path))
        with self.lock:
            self.counts[key] += 1

    def flush(self) -> int:
        with self.lock:
            counts, self.counts = self.counts, Counter()
        if not counts:
            return 0
        try:
            add_views(self.engine, counts)
        except Exception:  # the database is away: keep the counts for the next flush
            log.warning("could not record visit counters; keeping them", exc_info=True)
            with self.lock:
                self.counts.update(counts)
            return 0
        return sum(counts.values())


def add_views(engine: Engine, counts: Counter[tuple[date, str, str]]) -> None:
    """Additive upsert: concurrent processes add to the same row without losing counts."""
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    table = VisitCounter.__table__  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        for (day, role, area), views in sorted(counts.items()):
            statement = insert(table).values(day=day, role=role, area=area, views=views)
            statement = statement.on_conflict_do_update(
                index_elements=["day", "role", "area"],
                set_={"views": table.c.views + statement.excluded.views},
            )
            session.execute(statement)


class VisitCounterMiddleware:
    """Counts successful full-page GETs by role and area, after the answer is sent."""

    def __init__(self, app: ASGIApp, *, recorder: VisitRecorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or path.startswith(NOT_PAGES)
            or "hx-request" in Headers(scope=scope)
        ):
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status == 200 or status == 304:
            user = (scope.get("state") or {}).get("user")
            role = getattr(getattr(user, "role", None), "value", ANONYMOUS)
            self.recorder.count(role, path)
