"""API tokens: created on the CLI or the account page, hashed at rest, revocable."""

from __future__ import annotations

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.cli import main
from hub.models import ApiToken, Role
from tests import html
from tests.factories import csrf_from, make_department, make_user, sign_in


def _cli(settings, *args: str):  # type: ignore[no-untyped-def]
    env = {"HUB_DATABASE_URL": settings.effective_database_url, "HUB_ENV": "test"}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_cli_token_authenticates_api_requests(client: TestClient, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    make_department(db, "SCI")
    make_department(db, "ART")
    make_user(db, Role.referent, departments=["SCI", "ART"], email="ref@college.example")
    result = _cli(settings, "tokens", "create", "--email", "ref@college.example")
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert secret.startswith("hub_")

    response = client.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "ref@college.example"
    assert body["role"] == "referent"
    assert body["serves"] == ["ART", "SCI"]
    assert "set-cookie" not in response.headers  # API calls never start a browser session

    stored = db.exec(select(ApiToken)).one()
    assert stored.token_hash != secret and secret not in stored.token_hash
    assert stored.last_used_at is not None


def test_revoked_token_is_refused(client: TestClient, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    make_department(db)
    make_user(db, Role.teacher, email="prof@college.example")
    secret = _cli(settings, "tokens", "create", "--email", "prof@college.example").output.strip()
    listing = _cli(settings, "tokens", "list", "--email", "prof@college.example").output
    token_id = listing.split("\t")[0]
    assert listing.strip().endswith("active")
    assert _cli(settings, "tokens", "revoke", token_id).exit_code == 0
    response = client.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Jeton d'API invalide ou révoqué."}


def test_api_without_token_answers_401_json(client: TestClient, db: Session) -> None:
    response = client.get("/api/departments")
    assert response.status_code == 401
    assert "detail" in response.json()
    wrong = client.get("/api/departments", headers={"Authorization": "Basic abc"})
    assert wrong.status_code == 401


def test_api_departments_follow_roles(client: TestClient, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    for code in ("SCI", "LET"):
        make_department(db, code)
    make_user(db, Role.teacher, departments=["LET"], email="t@college.example")
    make_user(db, Role.student, departments=["LET"], email="s@college.example")
    teacher = _cli(settings, "tokens", "create", "--email", "t@college.example").output.strip()
    student = _cli(settings, "tokens", "create", "--email", "s@college.example").output.strip()
    seen = client.get("/api/departments", headers={"Authorization": f"Bearer {teacher}"})
    assert seen.json() == [{"code": "LET", "name": "Département LET"}]
    refused = client.get("/api/departments", headers={"Authorization": f"Bearer {student}"})
    assert refused.status_code == 403
    assert refused.json()["detail"]


def test_account_page_creates_token_shown_once_and_revokes_it(
    client: TestClient, db: Session
) -> None:
    make_department(db)
    sign_in(client, make_user(db, Role.teacher))
    token = csrf_from(client.get("/account").text)
    page = client.post("/account/tokens", data={"name": "tableur", "csrf_token": token})
    assert page.status_code == 200
    secret = html.one(page, "code#new-token").get_text()
    assert client.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert secret not in client.get("/account").text  # raw: never shown again, anywhere

    stored = db.exec(select(ApiToken)).one()
    revoked = client.post(f"/account/tokens/{stored.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert client.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_user_cannot_revoke_someone_elses_token(client: TestClient, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    make_department(db)
    make_user(db, Role.teacher, email="owner@college.example")
    _cli(settings, "tokens", "create", "--email", "owner@college.example")
    stored = db.exec(select(ApiToken)).one()
    sign_in(client, make_user(db, Role.teacher))
    token = csrf_from(client.get("/account").text)
    response = client.post(f"/account/tokens/{stored.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 403
    db.refresh(stored)
    assert stored.revoked_at is None
