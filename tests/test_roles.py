"""Role checks and department isolation, through the pages and the JSON API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.errors import PermissionDenied
from hub.models import Role
from hub.people import open_department, visible_departments
from tests import html
from tests.factories import make_department, make_user, sign_in


@pytest.fixture
def departments(db: Session) -> None:
    for code in ("SCI", "LET", "ECO"):
        make_department(db, code)


def test_anonymous_visitor_is_sent_to_sign_in(client: TestClient, departments: None) -> None:
    response = client.get("/departments/SCI?tab=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/departments/SCI%3Ftab%3D1"


def test_student_cannot_open_teacher_pages(
    client: TestClient, db: Session, departments: None
) -> None:
    student = make_user(db, Role.student, departments=["SCI"])
    sign_in(client, student)
    for path in ("/departments", "/departments/SCI", "/admin/people"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Accès refusé" in html.text(response, "h1")
    assert "Départements" not in html.text(client.get("/"))  # not offered in the navigation


def test_teacher_sees_only_own_department(
    client: TestClient, db: Session, departments: None
) -> None:
    teacher = make_user(db, Role.teacher, departments=["SCI"])
    referent = make_user(db, Role.referent, departments=["SCI"], name="Sophie Ref")
    sign_in(client, teacher)
    page = client.get("/departments/SCI")
    assert page.status_code == 200
    referents = html.text(page, ".referents")
    assert "Sophie Ref" in referents  # who to ask
    assert referent.email in referents
    assert teacher.email not in page.text  # raw, nowhere: members are listed to referents only
    assert client.get("/departments/LET").status_code == 403
    assert client.get("/admin/people").status_code == 403


def test_referent_sees_only_served_departments(
    client: TestClient, db: Session, departments: None
) -> None:
    referent = make_user(db, Role.referent, departments=["SCI", "ECO"])
    teacher = make_user(db, Role.teacher, departments=["SCI"], name="Anne Membre")
    sign_in(client, referent)
    listing = html.links(client.get("/departments"))
    assert "/departments/SCI" in listing and "/departments/ECO" in listing
    assert "/departments/LET" not in listing
    members = html.text(client.get("/departments/SCI"), "main table tbody")
    assert "Anne Membre" in members
    assert teacher.email in members
    assert client.get("/departments/LET").status_code == 403
    assert client.get("/admin/people").status_code == 403


def test_elearning_team_sees_every_department(
    client: TestClient, db: Session, departments: None
) -> None:
    team = make_user(db, Role.elearning)
    sign_in(client, team)
    for code in ("SCI", "LET", "ECO"):
        assert client.get(f"/departments/{code}").status_code == 200
    assert client.get("/admin/people").status_code == 200


def test_department_isolation_is_enforced_in_the_service(db: Session, departments: None) -> None:
    referent = make_user(db, Role.referent, departments=["LET"])
    student = make_user(db, Role.student, departments=["LET"])
    with pytest.raises(PermissionDenied):
        open_department(db, actor=referent, code="SCI")
    with pytest.raises(PermissionDenied):
        open_department(db, actor=student, code="LET")
    with pytest.raises(PermissionDenied):
        open_department(db, actor=None, code="LET")
    assert [d.code for d in visible_departments(db, referent)] == ["LET"]


def test_unknown_department_is_a_friendly_404(
    client: TestClient, db: Session, departments: None
) -> None:
    sign_in(client, make_user(db, Role.elearning))
    response = client.get("/departments/NOPE")
    assert response.status_code == 404
    assert "Département inconnu : NOPE" in html.text(response, "main")
    assert html.text(response, "main a[href='/']") == "Retour à l'accueil"
