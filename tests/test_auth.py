"""Signing in and out: cookies, wrong passwords, throttling, session fixation, sign-out."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from hub.models import Role
from hub.web.sessions import COOKIE_NAME
from tests import html
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
    assert "Bonjour Marc Prof" in html.text(home, "h1")


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
    assert "E-mail ou mot de passe incorrect." in html.text(response, "main [role=alert]")
    # the e-mail typed is kept in the form
    assert html.form_values(response, "form[action='/login']")["email"] == teacher.email
    assert "Bonjour" not in html.text(client.get("/"))


def test_sign_in_is_throttled_after_repeated_failures(client: TestClient, db: Session) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    for _ in range(5):
        assert _login(client, teacher.email, "wrong password!").status_code == 400
    blocked = _login(client, teacher.email, PASSWORD)  # even the right password now waits
    assert blocked.status_code == 429
    assert "Trop de tentatives" in html.text(blocked, "main [role=alert]")
    assert int(blocked.headers["retry-after"]) > 0
    assert "Bonjour" not in html.text(client.get("/"))


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


def test_the_password_is_checked_with_no_transaction_open(
    client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Argon2 at its production cost (~0.25 s of CPU a check) while other people write: the
    sign-in holds no transaction during the check. Before, it ran inside the POST's writer
    transaction: on SQLite the database's one write lock was held all that time (the rush
    benchmark's sign-ins got 503 "database is locked"), on PostgreSQL a connection sat idle
    in transaction."""
    import argon2

    import hub.passwords

    monkeypatch.setattr(hub.passwords, "_hasher", argon2.PasswordHasher())  # production cost
    make_department(db)
    teacher = make_user(db, Role.teacher)
    teacher.password_hash = hub.passwords.hash_password(PASSWORD)
    db.add(teacher)
    db.commit()
    token = csrf_from(client.get("/login").text)
    engine = db.get_bind().engine
    probes: list[bool] = []  # one per probe: did it find the database held by the sign-in?
    answers: list[int] = []

    def sign_in_now() -> None:
        response = client.post(
            "/login", data={"email": teacher.email, "password": PASSWORD, "csrf_token": token}
        )
        answers.append(response.status_code)

    with _probe(engine) as probe:
        thread = threading.Thread(target=sign_in_now)
        thread.start()
        while thread.is_alive():
            probes.append(probe())
            time.sleep(0.002)
        thread.join()
    assert answers == [303]
    assert len(probes) >= 8  # the check took long enough for the probes to mean something
    held = sum(probes) / len(probes)
    assert held < 0.2, f"held during {held:.0%} of the sign-in"


@contextmanager
def _probe(engine: Engine) -> Iterator[Callable[[], bool]]:
    """A check, from a connection of its own, of whether a sign-in holds the database."""
    if engine.dialect.name == "sqlite":
        # Another writer, not willing to wait (plain sqlite3: no transaction of its own).
        other = sqlite3.connect(str(engine.url.database), timeout=0, isolation_level=None)

        def write_lock_taken() -> bool:
            try:
                other.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return True
            other.execute("ROLLBACK")
            return False

        try:
            yield write_lock_taken
        finally:
            other.close()
        return
    with engine.connect() as connection:

        def idle_in_transaction() -> bool:
            idle = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
            ).scalar_one()
            connection.commit()
            return bool(idle)

        yield idle_in_transaction
