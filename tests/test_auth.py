"""Signing in and out: cookies, wrong passwords, throttling, session fixation, sign-out."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.models import Role
from hub.web.sessions import COOKIE_NAME
from tests.factories import PASSWORD, csrf_from, make_department, make_user, sign_in


def _login(client: TestClient, email: str, password: str):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/departments"},
    )


def test_sign_in_sets_http_only_lax_cookie_and_redirects(client: TestClient, db: Session) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher, name="Marc Prof")
    response = _login(client, teacher.email.upper(), PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/departments"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    home = client.get("/")
    assert "Bonjour Marc Prof" in home.text


def test_sign_in_over_https_marks_cookie_secure(app, db: Session) -> None:  # type: ignore[no-untyped-def]
    make_department(db)
    teacher = make_user(db, Role.teacher)
    with TestClient(app, base_url="https://hub.example", follow_redirects=False) as client:
        response = _login(client, teacher.email, PASSWORD)
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_sign_in_with_wrong_password_shows_message(client: TestClient, db: Session) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    response = _login(client, teacher.email, "not the password")
    assert response.status_code == 400
    assert "E-mail ou mot de passe incorrect." in response.text
    assert teacher.email in response.text  # the e-mail typed is kept in the form
    assert "Bonjour" not in client.get("/").text


def test_sign_in_is_throttled_after_repeated_failures(client: TestClient, db: Session) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    for _ in range(5):
        assert _login(client, teacher.email, "wrong password!").status_code == 400
    blocked = _login(client, teacher.email, PASSWORD)  # even the right password now waits
    assert blocked.status_code == 429
    assert "Trop de tentatives" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    assert "Bonjour" not in client.get("/").text


def test_throttling_one_account_leaves_others_alone(client: TestClient, db: Session) -> None:
    make_department(db)
    victim = make_user(db, Role.teacher)
    other = make_user(db, Role.teacher)
    for _ in range(5):
        _login(client, victim.email, "wrong password!")
    assert _login(client, other.email, PASSWORD).status_code == 303


def test_sign_in_rotates_session_against_fixation(client: TestClient, db: Session) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    before = csrf_from(client.get("/login").text)
    planted = client.cookies.get(COOKIE_NAME)
    assert _login(client, teacher.email, PASSWORD).status_code == 303
    assert client.cookies.get(COOKIE_NAME) != planted
    after = csrf_from(client.get("/").text)
    assert after != before
    # A form carrying the pre-login token (e.g. planted by an attacker) is refused.
    refused = client.post("/logout", data={"csrf_token": before})
    assert refused.status_code == 403


def test_sign_out_ends_the_session(client: TestClient, db: Session) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    sign_in(client, teacher)
    token = csrf_from(client.get("/").text)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert client.get("/departments").status_code == 303  # back to the login page


def test_password_change_signs_out_other_sessions(app, db: Session) -> None:  # type: ignore[no-untyped-def]
    make_department(db)
    teacher = make_user(db, Role.teacher)
    with (
        TestClient(app, follow_redirects=False) as laptop,
        TestClient(app, follow_redirects=False) as phone,
    ):
        sign_in(laptop, teacher)
        sign_in(phone, teacher)
        token = csrf_from(laptop.get("/account").text)
        changed = laptop.post(
            "/account/password",
            data={"current": PASSWORD, "new": "a brand new passphrase", "csrf_token": token},
        )
        assert changed.status_code == 303
        assert laptop.get("/account").status_code == 200
        assert phone.get("/account").status_code == 303  # signed out


def test_deactivated_user_loses_access(client: TestClient, db: Session) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    sign_in(client, teacher)
    teacher.is_active = False
    db.add(teacher)
    db.commit()
    assert client.get("/account").status_code == 303
