"""The connection rule (docs/architecture.md, "Connections and threads"): a request holds at
most one pooled connection at a time. With as many connections as web threads, a request
that needed a second one could wait for it behind requests that each held their first:
issue 14's freeze (the crisis banner read in a second session whenever its cache expired,
40 threads waiting on 15 connections until the 30 s pool timeout)."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session

import hub.cache
from hub.models import Role
from tests.factories import make_department, make_user, sign_in

PAGES = {
    None: ["/", "/kb", "/kb?q=examen", "/kb/suggest?q=enregistrer", "/kb/examen-acces-etudiant",
           "/exams", "/api/kb/search?q=quiz"],
    Role.teacher: ["/", "/kb", "/kb?q=capsule+video", "/kb/suggest?q=mot+de+pas",
                   "/kb/capsule-video-enregistrer", "/questions", "/questions/new",
                   "/questions/suggest?title=quiz+moodle", "/webinars", "/account"],
    Role.referent: ["/", "/queues", "/kb/new"],
    Role.elearning: ["/", "/dashboard", "/crisis", "/queues/elearning", "/kb/gaps", "/kb/synonyms"],
}  # fmt: skip


def visit_every_page(app: Any, db: Session, visiting: list[str]) -> None:
    """Every page of PAGES as its role, the crisis banner's cache expired before each (so it
    is read again); `visiting[0]` names the page while its request runs, "" in between."""
    for role, paths in PAGES.items():
        with TestClient(app, follow_redirects=False) as client:
            if role is not None:
                sign_in(client, make_user(db, role))
            for path in paths:
                hub.cache.changed(hub.cache.BANNER)  # the banner (and what shows it) read again
                visiting[0] = f"{role.value if role else 'anonymous'} {path}"
                response = client.get(path)
                assert response.status_code < 400, (visiting[0], response.status_code)
                visiting[0] = ""


def test_no_request_holds_two_connections_at_once(
    app: Any, db: Session, starter_pack: None
) -> None:
    make_department(db)
    engine = app.state.engine
    owners: dict[int, int] = {}  # connection record -> the thread that checked it out
    held: defaultdict[int, int] = defaultdict(int)  # thread -> connections it holds
    breaches: list[str] = []
    visiting = [""]

    def checkout(_dbapi: object, record: object, _proxy: object) -> None:
        thread = threading.get_ident()
        owners[id(record)] = thread
        held[thread] += 1
        if held[thread] > 1:
            breaches.append(f"{visiting[0]}: {held[thread]} connections in one thread")

    def checkin(_dbapi: object, record: object) -> None:
        thread = owners.pop(id(record), None)
        if thread is not None:
            held[thread] -= 1

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        visit_every_page(app, db, visiting)
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert not breaches, breaches


def test_no_database_round_trip_blocks_the_event_loop(
    app: Any, db: Session, starter_pack: None
) -> None:
    """Statements run in the routes' threads; so does ending a request's transaction on a
    database server (ROLLBACK and the pool's reset at check-in): done in the event loop, it
    took 20 % of a worker's loop under load on PostgreSQL, and every cached page of the
    process waited behind it (issue 14's article pages at 24 % of the hello app). An embedded
    SQLite ends a transaction in process, without a round trip."""
    make_department(db)
    engine = app.state.engine
    server = engine.dialect.name != "sqlite"
    in_loop: list[str] = []
    visiting = [""]

    def on_loop() -> bool:  # during a request (not the shutdown's last flush)
        return bool(visiting[0]) and asyncio._get_running_loop() is not None

    def statement(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        if on_loop():
            in_loop.append(f"{visiting[0]}: {sql.split()[0]}")

    def checkin(_dbapi: object, _record: object) -> None:
        if server and on_loop():
            in_loop.append(f"{visiting[0]}: transaction ended and connection returned")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "checkin", checkin)
    try:
        visit_every_page(app, db, visiting)
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "checkin", checkin)
    assert not in_loop, in_loop
