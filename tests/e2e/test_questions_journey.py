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


def test_a_suggestion_solves_the_problem_without_asking(
    new_context: NewContext, hub_server: HubServer, teacher_storage_state: StorageState
) -> None:
    """The suggestions sit inside the question form: their "solved" button must mark the
    draft solved (not send the question), the Enter key must still mean "send the question",
    and a keyboard user on a suggestion keeps their place when the list refreshes."""
    title = "Comment enregistrer une capsule vidéo ?"
    teacher = new_context(storage_state=teacher_storage_state).new_page()
    teacher.goto("/questions/new")
    teacher.get_by_label("Titre").press_sequentially(title, delay=20)
    suggestions = teacher.locator("#suggestions").get_by_role(
        "link", name=re.compile(r"capsule vidéo", re.IGNORECASE)
    )
    expect(suggestions.first).to_be_visible()

    # Focus on a suggestion, then the list refreshes (a late answer to the last keystroke):
    # focus stays on it.
    first = suggestions.first
    first.focus()
    focused_id = first.get_attribute("id")
    assert focused_id
    with teacher.expect_response(re.compile(r"/questions/suggest\?")):
        teacher.evaluate(
            """() => {
                const title = document.querySelector('[name=title]');
                title.value += ' Sur Mac';
                htmx.trigger(title, 'input');
            }"""
        )
    expect(teacher.locator(f"#{focused_id}")).to_be_focused()

    # When the focused suggestion is gone from the new list, focus goes to the list (focus.js),
    # not back to the top of the page.
    with teacher.expect_response(re.compile(r"/questions/suggest\?")):
        teacher.evaluate(
            """() => {
                const title = document.querySelector('[name=title]');
                title.value = 'Mot de passe oublié';
                htmx.trigger(title, 'input');
            }"""
        )
    expect(teacher.locator(f"#{focused_id}")).to_have_count(0)
    expect(teacher.locator("#suggestions")).to_be_focused()

    # Enter in the title sends the question form (refused: no details), not "solved".
    teacher.get_by_label("Titre").fill(title)
    teacher.get_by_label("Titre").press("Enter")
    expect(
        teacher.get_by_text("Corrigez les champs signalés : votre texte est conservé.")
    ).to_be_visible()
    expect(teacher.get_by_label("Titre")).to_have_value(title)

    # This page came from the server with the suggestions in it (no htmx swap).
    teacher.get_by_role("button", name="Ça a résolu mon problème").first.click()
    expect(teacher).to_have_url(re.compile(r"/questions$"))
    expect(
        teacher.get_by_text("Tant mieux ! Votre problème est résolu sans attendre.")
    ).to_be_visible()
    expect(teacher.get_by_text(title)).to_have_count(0)
