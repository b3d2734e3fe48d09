"""The header's links per role (hub/web/navigation.py), as the pages show them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.app import create_app
from hub.models import Role
from hub.web.deps import Viewer
from hub.web.navigation import ANONYMOUS_LINKS, SIGNED_IN_LINKS, links_for, main_navigation
from tests import html
from tests.factories import make_department, make_user, sign_in

# What each role sees in the header, in order (the brand, the search, the sign-out button and
# the language switch aside): the links base.html showed when it compared role strings.
EXPECTED = {
    None: [("/exams", "Examens"), ("/kb", "Tutoriels"), ("/login", "Se connecter")],
    Role.student: [("/kb", "Tutoriels"), ("/exams", "Examens"), ("/account", "Mon compte")],
    Role.teacher: [
        ("/kb", "Tutoriels"),
        ("/webinars", "Webinaires"),
        ("/questions", "Mes questions"),
        ("/departments", "Départements"),
        ("/account", "Mon compte"),
    ],
    Role.referent: [
        ("/kb", "Tutoriels"),
        ("/webinars", "Webinaires"),
        ("/exams/problems", "Problèmes d'examen"),
        ("/queues", "File des questions"),
        ("/departments", "Départements"),
        ("/account", "Mon compte"),
    ],
    Role.elearning: [
        ("/kb", "Tutoriels"),
        ("/webinars", "Webinaires"),
        ("/exams", "Examens"),
        ("/exams/problems", "Problèmes d'examen"),
        ("/queues", "File des questions"),
        ("/departments", "Départements"),
        ("/admin", "Pilotage"),
        ("/account", "Mon compte"),
    ],
}
HEADER_LINKS = "header nav ul:nth-of-type(2) > li > a:not([hreflang])"


def header(response: Any) -> list[tuple[str, str]]:
    return [(str(link["href"]), html.text(link)) for link in html.select(response, HEADER_LINKS)]


def _signed_in(client: TestClient, db: Session, role: Role | None) -> None:
    make_department(db)
    if role is not None:
        sign_in(client, make_user(db, role))


@pytest.mark.parametrize("role", list(EXPECTED), ids=lambda role: str(role or "anonymous"))
def test_each_role_sees_its_links(client: TestClient, db: Session, role: Role | None) -> None:
    _signed_in(client, db, role)
    assert header(client.get("/")) == EXPECTED[role]
    assert header(client.get("/kb")) == EXPECTED[role]  # the same on every page
    buttons = html.texts(client.get("/"), "header nav form button")
    assert buttons == ([] if role is None else ["Se déconnecter"])


@pytest.mark.parametrize("role", [None, Role.elearning], ids=["anonymous", "elearning"])
def test_error_pages_show_the_links_too(client: TestClient, db: Session, role: Role | None) -> None:
    """Error pages go through the same renderer, from the person's snapshot (no database)."""
    _signed_in(client, db, role)
    unknown_exam = client.get("/exams/999999")  # a route's 404: the person was found
    assert unknown_exam.status_code == 404
    assert header(unknown_exam) == EXPECTED[role]
    # No route matched: nobody was looked up, so the page is the anonymous one (as before).
    no_route = client.get("/no/such/page")
    assert no_route.status_code == 404
    assert header(no_route) == EXPECTED[None]


def test_links_are_translated(client: TestClient, db: Session) -> None:
    _signed_in(client, db, Role.referent)
    client.get("/lang/en")
    assert header(client.get("/")) == [
        ("/kb", "Tutorials"),
        ("/webinars", "Webinars"),
        ("/exams/problems", "Exam problems"),
        ("/queues", "Question queue"),
        ("/departments", "Departments"),
        ("/account", "My account"),
    ]


def test_the_rules_are_the_role_sets() -> None:
    assert [link.route for link in links_for(None)] == ["exams", "kb_index", "login"]
    for role in Role:
        assert [link.label for link in links_for(role)] == [
            label for _href, label in EXPECTED[role]
        ]


def test_the_current_page_is_marked() -> None:
    paths = {"kb_index": "/kb", "webinars_index": "/webinars", "exams": "/exams"}
    paths |= {"exam_problems": "/exams/problems", "account": "/account", "login": "/login"}
    items = main_navigation(Viewer(1, Role.student), path="/exams", url=paths.__getitem__)
    assert [(item.href, item.current) for item in items] == [
        ("/kb", False),
        ("/exams", True),
        ("/account", False),
    ]
    anonymous = main_navigation(None, path="/exams/problems", url=paths.__getitem__)
    assert not any(item.current for item in anonymous)


def test_every_link_names_a_route(make_settings: Any) -> None:
    app = create_app(make_settings())
    for link in SIGNED_IN_LINKS + ANONYMOUS_LINKS:
        assert app.url_path_for(link.route)


def test_the_page_shown_is_marked_for_assistive_technology(client: TestClient, db: Session) -> None:
    """The header says which link is the page being shown (`aria-current="page"`, which Pico
    underlines), and only that one."""
    _signed_in(client, db, Role.teacher)
    current = html.select(client.get("/kb"), "header nav a[aria-current=page]")
    assert [str(link["href"]) for link in current] == ["/kb"]
    assert html.select(client.get("/"), "header nav a[aria-current]") == []
