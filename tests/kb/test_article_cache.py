"""Anonymous article pages are one shared page: rendered once per version, answered before
the framework runs, cacheable by browsers and proxies for 30 s, with an ETag.

Issue 14: every anonymous article read cost a thread, database reads and a render (2.6-4 %
of a hello app's requests/s), and set a session cookie for the feedback form's CSRF token,
so no proxy could share it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session

from hub.models import Role
from kb.articles import ArticleInput, save_article
from tests import html
from tests.factories import csrf_from, make_department, make_user, sign_in

URL = "/kb/capsule-video"


def publish(db: Session, title: str) -> None:
    save_article(
        db,
        ArticleInput(
            slug="capsule-video",
            title=title,
            kind="tutorial",
            audience="everyone",
            status="published",
            body="PowerPoint ou OBS Studio, puis exportez en MP4.\n",
        ),
        actor=None,
    )
    db.commit()


@contextmanager
def statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL the app runs meanwhile."""
    seen: list[str] = []
    engine = client.app.state.engine  # type: ignore[attr-defined]

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_an_anonymous_article_page_is_shared_and_answered_without_the_database(
    client: TestClient, db: Session
) -> None:
    publish(db, "Enregistrer une capsule vidéo")
    first = client.get(URL)
    assert first.status_code == 200
    assert "Enregistrer une capsule vidéo" in html.text(first, "h1")
    assert first.headers["cache-control"] == "public, max-age=30"
    assert "set-cookie" not in first.headers  # nothing personal: a proxy may share it
    etag = first.headers["etag"]

    with statements(client) as seen:
        again = client.get(URL)
        revalidated = client.get(URL, headers={"If-None-Match": etag})
    assert again.text == first.text
    assert revalidated.status_code == 304 and revalidated.content == b""
    assert seen == []  # answered from the page cache, before the framework

    # A change made here shows at once; a change made by another process, within 2 s.
    publish(db, "Enregistrer une capsule vidéo avec OBS")
    changed = client.get(URL)
    assert "Enregistrer une capsule vidéo avec OBS" in html.text(changed, "h1")
    assert changed.headers["etag"] != etag


def test_signed_in_readers_get_their_own_page(client: TestClient, db: Session) -> None:
    make_department(db)
    publish(db, "Enregistrer une capsule vidéo")
    client.get(URL)  # the shared page, cached
    sign_in(client, make_user(db, Role.teacher))
    page = client.get(URL)
    assert page.headers["cache-control"] == "private, no-cache"
    assert html.one(page, "#feedback form input[name=csrf_token]")  # the feedback form, inline
    header = html.text(page, "header")
    assert "Se déconnecter" in header or "Déconnexion" in header


def test_a_crisis_banner_reaches_cached_article_pages(client: TestClient, db: Session) -> None:
    publish(db, "Enregistrer une capsule vidéo")
    before = client.get(URL)
    assert "Inondation" not in html.text(before)
    team = TestClient(client.app, follow_redirects=False)
    with team:
        sign_in(team, make_user(db, Role.elearning))
        token = csrf_from(team.get("/crisis").text)
        switched = team.post(
            "/crisis/switch",
            data={"action": "on", "message": "Inondation : campus fermé", "csrf_token": token},
        )
        assert switched.status_code == 303
    after = client.get(URL, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200  # not the copy without the banner
    assert "Inondation : campus fermé" in html.text(after, ".crisis-banner")


def test_a_new_minute_does_not_render_article_pages_again(
    client: TestClient, db: Session, monkeypatch: object
) -> None:
    """Article pages show no time: they stay cached until the article (or the banner)
    changes. Keyed by the minute like the exam pages' countdowns, every article page became
    a miss once a minute, and a crowd reading many articles paid a render each time."""
    import hub.web.caching

    clock = [1_800_000_000.0]

    class Clock:
        @staticmethod
        def time() -> float:
            return clock[0]

    monkeypatch.setattr(hub.web.caching, "time", Clock)  # type: ignore[attr-defined]
    publish(db, "Enregistrer une capsule vidéo")
    first = client.get(URL)
    clock[0] += 61  # a new minute (kb.pages re-checks the version on its own clock)
    with statements(client) as seen:
        again = client.get(URL)
    assert again.text == first.text
    assert not [sql for sql in seen if "FROM article" in sql]  # not read nor rendered again
