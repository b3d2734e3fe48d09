"""Small factories for test data, going through the same services as the hub itself."""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import count

from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session

from hub.models import Department, Role, User
from hub.people import create_department, create_user

PASSWORD = "correct horse battery staple"
_sequence = count(1)


def make_department(db: Session, code: str = "SCI", name: str | None = None) -> Department:
    department = create_department(db, code=code, name=name or f"Département {code}")
    db.commit()
    return department


def make_user(
    db: Session,
    role: Role | str = Role.teacher,
    *,
    departments: Sequence[str] = (),
    email: str | None = None,
    name: str | None = None,
    password: str | None = PASSWORD,
) -> User:
    role = Role(role)
    number = next(_sequence)
    if not departments and role in (Role.teacher, Role.referent):
        departments = ("SCI",)
    user = create_user(
        db,
        email=email or f"{role.value}{number}@college.example",
        name=name or f"{role.value.title()} {number}",
        role=role,
        departments=departments,
        password=password,
    )
    db.commit()
    return user


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF field in page"
    return match.group(1)


def sign_in(client: TestClient, user: User, password: str = PASSWORD) -> None:
    """Sign in through the real login form (CSRF token included)."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": user.email,
            "password": password,
            "csrf_token": csrf_from(page.text),
            "next": "/",
        },
    )
    assert response.status_code == 303, response.text


def post_form(
    client: TestClient, url: str, data: dict[str, object], page: str = "/login"
) -> Response:
    """Post a form the way a browser would: with the CSRF token of a page just loaded."""
    html = client.get(page).text
    return client.post(url, data={**data, "csrf_token": csrf_from(html)})
