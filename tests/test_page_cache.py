"""Cached anonymous exam pages: served before the framework, never to the wrong reader."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.models import Role
from tests.exam_csv import load, row
from tests.factories import csrf_from, make_department, make_user, sign_in


def test_cached_page_is_not_served_to_signed_in_staff(client: TestClient, db: Session) -> None:
    make_department(db, "SCI")
    load(db, [row("MATH101")])
    anonymous = client.get("/exams/1")
    assert anonymous.status_code == 200 and "Déplacer ou annuler" not in anonymous.text
    again = client.get("/exams/1")  # answered from the cache
    assert again.text == anonymous.text and again.headers["etag"] == anonymous.headers["etag"]
    assert again.headers["cache-control"] == "public, max-age=30"
    assert "content-security-policy" in again.headers  # security headers on cached answers too

    sign_in(client, make_user(db, Role.elearning))
    staff = client.get("/exams/1")
    assert "Déplacer ou annuler" in staff.text
    assert staff.headers["cache-control"] == "private, no-cache"


def test_cached_page_follows_a_change_at_once(client: TestClient, db: Session) -> None:
    make_department(db, "SCI")
    load(db, [row("MATH101")])
    first = client.get("/exams/1")
    assert "Examen annulé" not in first.text
    assert (
        client.get("/exams/1", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    )
    staff = TestClient(client.app, follow_redirects=False)
    sign_in(staff, make_user(db, Role.elearning))
    token = csrf_from(staff.get("/exams/1").text)
    moved = staff.post(
        "/exams/1/status", data={"status": "cancelled", "note": "Grève.", "csrf_token": token}
    )
    assert moved.status_code == 303
    after = client.get("/exams/1", headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200 and "Examen annulé" in after.text


def test_head_request_gets_headers_only(client: TestClient, db: Session) -> None:
    make_department(db, "SCI")
    load(db, [row("MATH101")])
    client.get("/exams/1")
    head = client.head("/exams/1")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 1000
