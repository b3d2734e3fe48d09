"""CSRF: every unsafe request from a browser needs the session's token; bodies are bounded."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.models import Department, Role
from tests import html
from tests.factories import csrf_from, make_department, make_user, sign_in


def _team_client(client: TestClient, db: Session) -> str:
    make_department(db)
    sign_in(client, make_user(db, Role.elearning))
    return csrf_from(client.get("/admin/people").text)


def _department_codes(db: Session) -> list[str]:
    db.expire_all()
    return [d.code for d in db.exec(select(Department)).all()]


def test_form_without_csrf_token_is_rejected(client: TestClient, db: Session) -> None:
    _team_client(client, db)
    response = client.post("/admin/departments", data={"code": "EVIL", "name": "Evil"})
    assert response.status_code == 403
    assert "CSRF" in html.text(response, "main")
    assert "EVIL" not in _department_codes(db)


def test_form_with_wrong_csrf_token_is_rejected(client: TestClient, db: Session) -> None:
    _team_client(client, db)
    response = client.post(
        "/admin/departments", data={"code": "EVIL", "name": "Evil", "csrf_token": "guess"}
    )
    assert response.status_code == 403
    assert "EVIL" not in _department_codes(db)


def test_form_with_csrf_token_is_accepted(client: TestClient, db: Session) -> None:
    token = _team_client(client, db)
    response = client.post(
        "/admin/departments", data={"code": "NEW", "name": "Nouveau", "csrf_token": token}
    )
    assert response.status_code == 303
    assert "NEW" in _department_codes(db)


def test_htmx_request_with_csrf_header_is_accepted(client: TestClient, db: Session) -> None:
    token = _team_client(client, db)
    response = client.post(
        "/admin/departments",
        data={"code": "HX", "name": "Par htmx"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert response.status_code == 303
    assert "HX" in _department_codes(db)


def test_multipart_form_token_is_read(client: TestClient, db: Session) -> None:
    token = _team_client(client, db)
    response = client.post(
        "/admin/departments",
        data={"code": "MP", "name": "Multipart", "csrf_token": token},
        files={"attachment": ("note.txt", b"hello", "text/plain")},
    )
    assert response.status_code == 303
    assert "MP" in _department_codes(db)


def test_oversized_body_is_refused_with_413(client: TestClient, db: Session, app) -> None:  # type: ignore[no-untyped-def]
    token = _team_client(client, db)
    limit = app.state.settings.max_body_bytes
    response = client.post(
        "/admin/departments",
        data={"code": "BIG", "name": "x" * (limit + 1), "csrf_token": token},
    )
    assert response.status_code == 413
    assert "BIG" not in _department_codes(db)


def test_bearer_token_requests_skip_csrf_but_need_a_valid_token(
    client: TestClient, db: Session
) -> None:
    make_department(db)
    response = client.post("/logout", headers={"Authorization": "Bearer hub_forged"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_refusals_speak_the_visitors_language(client: TestClient, db: Session, app) -> None:  # type: ignore[no-untyped-def]
    token = _team_client(client, db)
    french = client.post("/admin/departments", data={"code": "EVIL", "name": "Evil"})
    assert html.one(french, "html")["lang"] == "fr"
    assert "Jeton de sécurité (CSRF) absent ou expiré" in html.text(french, "main")

    client.get("/lang/en")
    english = client.post("/admin/departments", data={"code": "EVIL", "name": "Evil"})
    assert english.status_code == 403
    assert html.one(english, "html")["lang"] == "en" and html.text(english, "title") == "Error"
    assert "Security token (CSRF) missing or expired: reload the page" in html.text(english, "main")
    assert html.text(english, "main a[href='/']") == "Home"
    too_large = client.post(
        "/admin/departments",
        data={
            "code": "BIG",
            "name": "x" * (app.state.settings.max_body_bytes + 1),
            "csrf_token": token,
        },
        headers={"accept": "application/json"},
    )
    assert too_large.status_code == 413
    assert too_large.json() == {"detail": "Request too large."}
