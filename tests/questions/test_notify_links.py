"""Links in the question mails use the address the app was started with (its Settings), not
whatever the process environment says: a hub created with `create_app(settings)` and no
HUB_BASE_URL in its environment still sends clickable links."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.app import create_app
from tests.factories import post_form, sign_in
from tests.questions.conftest import College, mails

ADDRESS = "https://hub.college.example"


@pytest.fixture
def hub_app(make_settings: Any, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("HUB_BASE_URL", raising=False)
    return create_app(make_settings(database_url=database_url, base_url=ADDRESS))


def browser(app: Any) -> TestClient:
    return TestClient(app, base_url=ADDRESS, follow_redirects=False)  # https: Secure cookie


def test_the_referents_mail_links_to_the_question_at_the_hubs_address(
    db: Session, college: College, hub_app: Any
) -> None:
    with browser(hub_app) as client:
        sign_in(client, college.teacher)
        response = post_form(
            client,
            "/questions/new",
            {"title": "Moodle refuse mon devoir", "body": "Erreur 500 au dépôt."},
            page="/questions/new",
        )
        assert response.status_code == 303
        question_path = response.headers["location"].split("?")[0]

        [mail] = mails(db, "question.new", to=college.referent.email)
        assert f"{ADDRESS}{question_path}" in mail.body_text

    # The answer's mail to the teacher, sent from the referent's page, too.
    with browser(hub_app) as referent:
        sign_in(referent, college.referent)
        answered = post_form(
            referent,
            f"{question_path}/answer",
            {"body": "Videz le cache du navigateur."},
            page=question_path,
        )
        assert answered.status_code == 303
        [answer] = mails(db, "question.answer", to=college.teacher.email)
        assert f"{ADDRESS}{question_path}" in answer.body_text
