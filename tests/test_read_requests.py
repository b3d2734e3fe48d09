"""Read-only requests (GET, HEAD) and the few by-products they write.

On PostgreSQL their statements run in autocommit (`hub.db.reader`: no BEGIN/ROLLBACK round
trips around every page); a by-product is written in a transaction begun for it
(`begin_write`). On SQLite `begin_write` ends the read transaction first: upgrading a read
transaction in place fails at once with "database is locked" when another writer committed
since it began, whatever the busy timeout (issue 14)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hub.db import begin_write, reader, session_scope
from hub.models import Role
from tests import html
from tests.factories import make_department, make_user
from webinars.feeds import feed_path, regenerate
from webinars.models import CalendarFeedToken


def _short_links(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.execute(text("SELECT count(*) FROM short_link")).scalar_one())


def test_a_read_request_never_keeps_half_of_a_write(engine: Engine) -> None:
    insert = text(
        "INSERT INTO short_link (code, target, created_at) VALUES (:code, :target, :now)"
    ).bindparams(now=datetime(2026, 12, 6, 8, 0))
    with Session(reader(engine)) as session:
        session.execute(text("SELECT 1"))
        try:
            session.execute(insert, {"code": "aaaaa", "target": "/a"})
        except RuntimeError as refused:  # PostgreSQL, autocommit: it would be kept alone
            assert "begin_write" in str(refused)
        session.rollback()
    assert _short_links(engine) == 0

    with Session(reader(engine)) as session:
        session.execute(text("SELECT 1"))
        begin_write(session)
        session.execute(insert, {"code": "bbbbb", "target": "/b"})
        session.execute(insert, {"code": "ccccc", "target": "/c"})
        session.rollback()  # the second step failed: nothing of the write is kept
    assert _short_links(engine) == 0

    with Session(reader(engine)) as session:
        begin_write(session)
        session.execute(insert, {"code": "ddddd", "target": "/d"})
        session.commit()
    assert _short_links(engine) == 1


def test_a_calendar_feed_read_while_others_write(app: Any, db: Session, engine: Engine) -> None:
    """A calendar client polls its feed (a GET that records the token's last use) just as
    someone else commits a write: the feed is served and its use recorded."""
    make_department(db)
    user = make_user(db, Role.teacher)
    token = regenerate(db, user)
    db.commit()
    app_engine = app.state.engine
    interfered: list[bool] = []

    def someone_else_writes(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        if "FROM calendar_feed_token" in sql and not interfered:
            interfered.append(True)
            with session_scope(engine) as other:  # another connection, committed now
                other.execute(text("UPDATE calendar_feed_token SET token_hash = token_hash"))

    event.listen(app_engine, "after_cursor_execute", someone_else_writes)
    try:
        with TestClient(app) as client:
            answer = client.get(feed_path(token))
    finally:
        event.remove(app_engine, "after_cursor_execute", someone_else_writes)
    assert interfered
    assert answer.status_code == 200, answer.text[:300]
    assert answer.text.startswith("BEGIN:VCALENDAR")
    db.expire_all()
    row = db.exec(select(CalendarFeedToken)).one()
    assert row.last_used_at is not None


def test_a_poster_creates_its_short_link_on_a_get(client: TestClient) -> None:
    page = client.get("/poster?target=/exams")
    assert page.status_code == 200
    assert "/s/" in html.text(page, ".poster-url")
