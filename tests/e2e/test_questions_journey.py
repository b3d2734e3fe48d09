"""A teacher asks a question in Chromium, sees a tutorial suggested while typing, submits
anyway; the department's referent answers from the queue; the teacher reads the answer."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import StorageState, expect

from tests.e2e.conftest import HubServer, NewContext

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TITLE = "Enregistrer une capsule vidéo pour mon cours"
ANSWER = "Utilisez l'enregistreur d'écran de Teams puis déposez la vidéo dans Moodle."


def test_teacher_asks_referent_answers(
    new_context: NewContext, hub_server: HubServer, teacher_storage_state: StorageState
) -> None:
    teacher = new_context(storage_state=teacher_storage_state).new_page()
    teacher.goto("/questions/new")
    expect(teacher.get_by_role("heading", level=1)).to_have_text("Poser une question")
    teacher.get_by_label("Titre").press_sequentially(TITLE, delay=20)
    suggestion = teacher.locator("#suggestions").get_by_role(
        "link", name=re.compile(r"capsule vidéo", re.IGNORECASE)
    )
    expect(suggestion.first).to_be_visible()
    expect(teacher.get_by_role("button", name="Ça a résolu mon problème").first).to_be_visible()
    teacher.get_by_label("Détails").fill(
        "Je voudrais enregistrer ma voix sur mes diapositives ; le tutoriel ne parle pas de Mac."
    )
    teacher.get_by_role("button", name="Envoyer la question").click()
    expect(teacher).to_have_url(re.compile(r"/questions/\d+$"))
    question_url = teacher.url
    expect(teacher.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(teacher.get_by_text("Pas encore de réponse.")).to_be_visible()

    referent = new_context().new_page()
    referent.goto("/login")
    referent.get_by_role("button", name=re.compile(r"^Sophie Référente")).click()
    referent.goto("/queues")
    referent.get_by_role("link", name=re.compile(re.escape(TITLE))).click()
    expect(referent).to_have_url(question_url)
    referent.get_by_label("Votre message").fill(ANSWER)
    expect(referent.get_by_label("Réponse publique (envoyée au demandeur)")).to_be_checked()
    referent.get_by_role("button", name="Envoyer", exact=True).click()
    expect(referent.get_by_text("Réponse envoyée.")).to_be_visible()

    teacher.reload()
    expect(teacher.get_by_text(ANSWER)).to_be_visible()
    expect(teacher.get_by_role("button", name="C'est résolu")).to_be_visible()
    teacher.get_by_role("button", name="C'est résolu").click()
    expect(teacher.get_by_text("Question marquée comme résolue. Merci !")).to_be_visible()
    teacher.goto("/questions")
    expect(teacher.get_by_role("row", name=re.compile(re.escape(TITLE)))).to_contain_text("Résolu")
