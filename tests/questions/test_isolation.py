"""Department isolation, as a matrix: every role x every question endpoint (pages, htmx
partials, attachments and the JSON API). A referent of LET never reaches a SCI question."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.models import Role, User
from hub.questions import answers, asking
from hub.questions.attachments import Upload
from hub.settings import Settings
from hub.tokens import create_token
from tests.factories import make_department, make_user
from tests.questions.conftest import PNG, College

ROLES = (
    "asker",
    "colleague",
    "other_teacher",
    "student",
    "referent",
    "outside_referent",
    "backup",
    "elearning",
)
# Who may read the SCI question (its asker, SCI's referents incl. the backup, the central team).
READERS = {"asker", "referent", "backup", "elearning"}
STAFF = {"referent", "backup", "elearning"}


@pytest.fixture
def world(db: Session, settings: Settings, college: College) -> dict[str, object]:
    make_department(db, "ECO", "Économie")
    outside = make_user(db, Role.referent, departments=["ECO"], name="Olga Référente ECO")
    question = asking.ask(
        db,
        actor=college.teacher,
        title="Quiz Moodle en panne",
        body="Rien ne s'affiche.",
        uploads=[Upload("a.png", PNG)],
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    note = answers.answer(
        db,
        actor=college.referent,
        question_id=question.id,
        body="note interne",
        internal=True,
        uploads=[Upload("n.png", PNG)],
        data_dir=settings.data_dir,
        base_url=settings.base_url,
    )
    db.commit()
    view = answers.view_question(db, actor=college.referent, question_id=question.id)
    public = next(a for a in view.attachments if a.message_id is None)
    internal = next(a for a in view.attachments if a.message_id == note.id)
    users: dict[str, User] = {
        "asker": college.teacher,
        "colleague": college.colleague,
        "other_teacher": college.other_teacher,
        "student": college.student,
        "referent": college.referent,
        "outside_referent": outside,
        "backup": college.other_referent,
        "elearning": college.elearning,
    }
    tokens = {}
    for name, user in users.items():
        _, secret = create_token(db, user=user, name="tests")
        tokens[name] = secret
    db.commit()
    return {"question": question.id, "public": public.id, "internal": internal.id, "tokens": tokens}


Call = Callable[[TestClient, dict[str, object]], int]


def api(method: str, path: str, json: dict[str, object] | None = None) -> Call:
    def call(client: TestClient, w: dict[str, object]) -> int:
        return client.request(
            method, path.format(**w), json=json, headers={"Authorization": f"Bearer {w['token']}"}
        ).status_code

    return call


# endpoint -> (call, roles allowed)
ENDPOINTS: dict[str, tuple[Call, set[str]]] = {
    "page": (api("GET", "/questions/{question}"), READERS),
    "page (htmx)": (
        lambda c, w: (
            c.get(
                f"/questions/{w['question']}",
                headers={"HX-Request": "true", "Authorization": f"Bearer {w['token']}"},
            ).status_code
        ),
        READERS,
    ),
    "attachment": (api("GET", "/attachments/{public}"), READERS),
    "note attachment": (api("GET", "/attachments/{internal}"), STAFF),
    "api question": (api("GET", "/api/questions/{question}"), READERS),
    "api queue SCI": (api("GET", "/api/queues/SCI"), STAFF),
    "queue page SCI": (api("GET", "/queues/SCI"), STAFF),
    "queue rows SCI (htmx)": (
        lambda c, w: (
            c.get(
                "/queues/SCI",
                headers={
                    "HX-Request": "true",
                    "HX-Target": "queue-rows",
                    "Authorization": f"Bearer {w['token']}",
                },
            ).status_code
        ),
        STAFF,
    ),
    "api queue elearning": (api("GET", "/api/queues/elearning"), {"elearning"}),
    "api internal note": (
        api("POST", "/api/questions/{question}/answers", {"body": "x", "internal": True}),
        STAFF,
    ),
    "api escalate": (
        api("POST", "/api/questions/{question}/escalate", {"reason": "test"}),
        {"referent", "backup"},
    ),
    "claim": (api("POST", "/questions/{question}/claim"), STAFF),
    "tags": (
        lambda c, w: (
            c.post(
                f"/questions/{w['question']}/tags",
                data={"tags": "x"},
                headers={"Authorization": f"Bearer {w['token']}"},
            ).status_code
        ),
        STAFF,
    ),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_isolation_matrix(client: TestClient, world: dict[str, object], endpoint: str) -> None:
    call, allowed = ENDPOINTS[endpoint]
    outcomes = {}
    for role in ROLES:
        status = call(client, {**world, "token": world["tokens"][role]})  # type: ignore[index]
        outcomes[role] = status
    for role, status in outcomes.items():
        if role in allowed:
            assert status in (200, 201, 303, 409), (endpoint, role, status)  # 409: done already
        else:
            assert status in (403, 404), (endpoint, role, status)


def test_outside_referent_finds_nothing_by_search_or_listing(
    client: TestClient, db: Session, world: dict[str, object]
) -> None:
    token = world["tokens"]["outside_referent"]  # type: ignore[index]
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        "Quiz Moodle"
        not in client.get(
            "/queues", params={"q": "quiz moodle", "status": "all"}, headers=headers
        ).text
    )
    assert client.get("/api/queues/ECO", headers=headers).json() == []
    assert client.get("/api/queues/SCI", headers=headers).json() == {
        "detail": "Vous ne servez pas ce département."
    }


def test_attachment_paths_are_not_guessable(settings: Settings, world: dict[str, object]) -> None:
    files = list(Path(settings.data_dir, "attachments").rglob("*.png"))
    assert len(files) == 2 and all(len(f.stem) == 32 for f in files)
