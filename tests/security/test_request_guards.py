"""CSRF on every unsafe route, session fixation and sign-out, login throttling, 413, uploads.

Already covered elsewhere and not repeated here: per-account throttling and the CSRF token
rotated at sign-in (tests/test_auth.py), CSRF on one form / htmx header / multipart and 413
on a form (tests/test_csrf.py), uploads refused by content (HTML or an executable named
.png, an empty PDF: tests/questions/test_pages.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from hub.app import create_app
from hub.models import Department, Role, User
from hub.questions.models import Question, QuestionAttachment
from hub.tokens import create_token
from hub.web.sessions import COOKIE_NAME
from tests.factories import PASSWORD, csrf_from, make_department, make_user, sign_in
from tests.questions.conftest import PNG
from tests.security.test_authorization_matrix import app_routes

PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _unsafe_routes(app: Any) -> list[tuple[str, str]]:
    routes = []
    for key in app_routes(app):
        method, path = key.split(" ", 1)
        if method != "GET":
            routes.append((method, PARAM.sub("1", path)))
    return routes


def _counts(db: Session) -> tuple[int, ...]:
    db.expire_all()
    db.commit()
    return tuple(
        db.scalar(select(func.count()).select_from(table)) or 0
        for table in (Department, User, Question)
    )


def test_every_unsafe_route_refuses_missing_or_wrong_csrf_token(
    client: TestClient, db: Session, app: Any
) -> None:
    make_department(db)
    team = make_user(db, Role.elearning)
    sign_in(client, team)
    before = _counts(db)
    routes = _unsafe_routes(app)
    assert len(routes) > 60  # forms and the JSON API, enumerated from the app
    refused = []
    for method, path in routes:
        for headers in ({}, {"X-CSRF-Token": "forged"}, {"HX-Request": "true"}):
            response = client.request(
                method, path, data={"code": "EVIL", "name": "Evil"}, headers=headers
            )
            if response.status_code != 403 or "CSRF" not in response.text:
                refused.append(f"{method} {path} {headers}: {response.status_code}")
        form = client.request(
            method, path, data={"csrf_token": "forged", "code": "EVIL", "name": "Evil"}
        )
        if form.status_code != 403:
            refused.append(f"{method} {path} (wrong form token): {form.status_code}")
    assert not refused, "\n".join(refused)
    assert _counts(db) == before  # nothing was created


def test_the_api_exemption_needs_a_bearer_token_not_the_cookie(
    client: TestClient, db: Session
) -> None:
    """A cookie-signed-in browser cannot post to the API cross-site without the token."""
    make_department(db)
    teacher = make_user(db, Role.teacher)
    sign_in(client, teacher)
    response = client.post("/api/questions", json={"title": "Titre", "body": "Corps"})
    assert response.status_code == 403
    _, secret = create_token(db, user=teacher)
    db.commit()
    client.cookies.clear()
    ok = client.post(
        "/api/questions",
        json={"title": "Titre", "body": "Corps"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert ok.status_code == 201


def test_a_cookie_planted_before_sign_in_is_not_signed_in_after(
    client: TestClient, db: Session
) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    client.get("/login")
    planted = client.cookies.get(COOKIE_NAME)
    assert planted  # the login form gave this visitor a session (for its CSRF token)
    sign_in(client, teacher)
    assert client.cookies.get(COOKIE_NAME) != planted
    assert client.get("/account").status_code == 200
    client.cookies.set(COOKIE_NAME, planted)  # the attacker's copy of the planted cookie
    assert client.get("/account").headers["location"].startswith("/login")


def test_a_cookie_copied_before_sign_out_is_dead_after(client: TestClient, db: Session) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    sign_in(client, teacher)
    stolen = client.cookies.get(COOKIE_NAME)
    token = csrf_from(client.get("/account").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    client.cookies.set(COOKIE_NAME, stolen)
    assert client.get("/account").headers["location"].startswith("/login")


def test_sign_in_is_throttled_per_address_across_accounts(
    make_settings: Any, database_url: str, db: Session
) -> None:
    settings = make_settings(database_url=database_url, login_max_failures_per_address=3)
    make_department(db)
    people = [make_user(db, Role.teacher) for _ in range(4)]
    with TestClient(create_app(settings), follow_redirects=False) as client:
        token = csrf_from(client.get("/login").text)

        def attempt(user: User, password: str) -> int:
            data = {"email": user.email, "password": password, "csrf_token": token}
            return client.post("/login", data=data).status_code

        assert [attempt(user, "wrong password!") for user in people[:3]] == [400] * 3
        blocked = client.post(
            "/login", data={"email": people[3].email, "password": PASSWORD, "csrf_token": token}
        )
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0
        assert client.get("/account").status_code == 303  # not signed in


LIMIT = 32 * 1024


def _small_limit_client(make_settings: Any, database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url=database_url, max_body_bytes=LIMIT)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def test_bodies_over_the_limit_get_413_on_forms_api_uploads_and_streams(
    make_settings: Any, database_url: str, db: Session
) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    _, secret = create_token(db, user=teacher)
    db.commit()
    for client in _small_limit_client(make_settings, database_url):
        sign_in(client, teacher)
        token = csrf_from(client.get("/questions/new").text)
        big = "x" * (LIMIT + 1)
        form = client.post(
            "/questions/new", data={"title": "Grand", "body": big, "csrf_token": token}
        )
        upload = client.post(
            "/questions/new",
            data={"title": "Capture", "body": "Voir la capture", "csrf_token": token},
            files={"files": ("capture.png", PNG + b"\x00" * LIMIT, "image/png")},
        )
        api = client.post(
            "/api/questions",
            json={"title": "Grand", "body": big},
            headers={"Authorization": f"Bearer {secret}"},
        )

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as read
            for _ in range(LIMIT // 1024 + 2):
                yield b"x" * 1024

        stream = client.post(
            "/api/questions",
            content=chunks(),
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        )
        statuses = [r.status_code for r in (form, upload, api, stream)]
        assert statuses == [413] * 4
        assert api.json() == {"detail": "Requête trop volumineuse."}
        assert "content-security-policy" in form.headers  # errors carry the headers too
    assert _counts(db)[2] == 0  # no question was created


def test_upload_that_lies_about_its_type_is_refused_or_served_inert(
    client: TestClient, db: Session
) -> None:
    make_department(db)
    make_user(db, Role.referent, departments=["SCI"])
    teacher = make_user(db, Role.teacher)
    sign_in(client, teacher)
    token = csrf_from(client.get("/questions/new").text)

    def ask(name: str, content: bytes, content_type: str) -> int:
        return client.post(
            "/questions/new",
            data={"title": f"Fichier {name}", "body": "Voir le fichier", "csrf_token": token},
            files={"files": (name, content, content_type)},
        ).status_code

    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    assert ask("capture.png", svg, "image/png") == 422
    assert ask("page.pdf", b"<html><script>alert(1)</script>", "application/pdf") == 422
    # A polyglot starting with GIF magic bytes is a GIF: stored, but served as an image that
    # cannot run anything (type from the content, nosniff, sandboxed, no HTML name kept).
    polyglot = b"GIF89a<html><script>alert(document.cookie)</script></html>"
    assert ask("page.html", polyglot, "text/html") in (303, 422)
    for row in db.exec(select(QuestionAttachment)).all():
        served = client.get(f"/attachments/{row.id}")
        assert served.headers["content-type"] == "image/gif"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
        assert ".html" not in served.headers.get("content-disposition", "")
