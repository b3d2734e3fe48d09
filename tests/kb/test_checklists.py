"""Checklists: ticking items (plain form and htmx), progress per person, untick, reset, the
printable view, and refusals (anonymous, unknown item, not a checklist)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.models import Role
from kb.articles import ArticleInput, save_article
from kb.importer import import_directory
from kb.markdown import checklist_items
from kb.models import Article, ChecklistTick
from tests import html
from tests.factories import csrf_from, make_department, make_user, sign_in

CONTENT = Path(__file__).resolve().parents[2] / "kb" / "content"
TEACHER_CHECKLIST = "basculer-cours-distanciel-checklist"  # 12 items
STUDENT_CHECKLIST = "examen-jour-j-checklist-etudiant"  # 15 items
TUTORIAL = "capsule-video-enregistrer"
URL = f"/kb/{TEACHER_CHECKLIST}"


@pytest.fixture
def articles(db: Session, tmp_path: Path) -> None:
    """Two checklists and a tutorial of the starter pack (only these matter here)."""
    folder = tmp_path / "content"
    folder.mkdir()
    for slug in (TEACHER_CHECKLIST, STUDENT_CHECKLIST, TUTORIAL):
        shutil.copy(CONTENT / f"{slug}.md", folder)
    report = import_directory(db, folder)
    assert len(report.created) == 3, report
    make_department(db)


def _items(page: html.Source) -> list[tuple[str, str]]:
    """(key, text) of each item the page offers to tick, in order."""
    return [
        (str(form["action"]).rsplit("/", 1)[1], html.text(form, "span"))
        for form in html.select(page, "form.tick-form")
    ]


def _progress(page: html.Source) -> str:
    match = re.search(r"Cochés : \d+ sur \d+", html.text(page, "#checklist p.muted"))
    assert match, "no progress shown"
    return match.group(0)


def _tick(client: TestClient, key: str, *, ticked: bool = True, slug: str = TEACHER_CHECKLIST):
    token = csrf_from(client.get(f"/kb/{slug}").text)
    return client.post(
        f"/kb/{slug}/checklist/{key}", data={"ticked": "1" if ticked else "0", "csrf_token": token}
    )


def _ticks(db: Session) -> int:
    db.rollback()
    return len(db.exec(select(ChecklistTick)).all())


def test_tick_item_with_plain_form(client: TestClient, db: Session, articles: None) -> None:
    sign_in(client, make_user(db, Role.teacher))
    page = client.get(URL)
    assert _progress(page) == "Cochés : 0 sur 12"
    key, text = _items(page)[0]
    assert text.startswith("Publier un message dans le forum Annonces")

    response = _tick(client, key)
    assert response.status_code == 303
    assert response.headers["location"] == f"{URL}#item-{key}"
    page = client.get(URL)
    assert _progress(page) == "Cochés : 1 sur 12"
    item = html.one(page, f"#item-{key}")
    assert "done" in item["class"]
    assert item.button["aria-pressed"] == "true" and item.button.text == "☑"
    assert _ticks(db) == 1


def test_tick_item_with_htmx_returns_updated_checklist(
    client: TestClient, db: Session, articles: None
) -> None:
    sign_in(client, make_user(db, Role.teacher))
    page = client.get(URL)
    token = csrf_from(page.text)
    first, second = (key for key, _text in _items(page)[:2])
    htmx = {"HX-Request": "true", "X-CSRF-Token": token}
    response = client.post(f"{URL}/checklist/{first}", data={"ticked": "1"}, headers=htmx)
    assert response.status_code == 200
    assert html.top_level(response) == ["section#checklist"]  # the block alone, no <html>
    assert _progress(response) == "Cochés : 1 sur 12"
    # The partial carries the next form: ticking the second item from it.
    assert [key for key, _text in _items(response)][:2] == [first, second]
    again = client.post(f"{URL}/checklist/{second}", data={"ticked": "1"}, headers=htmx)
    assert _progress(again) == "Cochés : 2 sur 12"
    assert _ticks(db) == 2


def test_progress_is_kept_per_person(
    client: TestClient, app: FastAPI, db: Session, articles: None
) -> None:
    sign_in(client, make_user(db, Role.teacher))
    key, _text = _items(client.get(URL))[0]
    _tick(client, key)
    with TestClient(app, follow_redirects=False) as colleague:
        sign_in(colleague, make_user(db, Role.teacher))
        assert _progress(colleague.get(URL)) == "Cochés : 0 sur 12"
    assert _progress(client.get(URL)) == "Cochés : 1 sur 12"


def test_untick_and_reset_checklist(client: TestClient, db: Session, articles: None) -> None:
    sign_in(client, make_user(db, Role.teacher))
    keys = [key for key, _text in _items(client.get(URL))]
    for key in keys[:3]:
        _tick(client, key)
    assert _progress(client.get(URL)) == "Cochés : 3 sur 12"
    _tick(client, keys[0], ticked=False)
    _tick(client, keys[0], ticked=False)  # a double click changes nothing
    assert _progress(client.get(URL)) == "Cochés : 2 sur 12"

    token = csrf_from(client.get(URL).text)
    reset = client.post(f"{URL}/checklist-reset", data={"csrf_token": token})
    assert reset.status_code == 303 and reset.headers["location"] == URL
    page = client.get(URL)
    assert "Check-list remise à zéro." in html.text(page, ".flash")
    assert _progress(page) == "Cochés : 0 sur 12"
    assert _ticks(db) == 0


def test_print_view_shows_ticked_items(client: TestClient, db: Session, articles: None) -> None:
    sign_in(client, make_user(db, Role.teacher))
    items = _items(client.get(URL))
    _tick(client, items[1][0])
    response = client.get(f"{URL}/print")
    assert response.status_code == 200
    lines = html.texts(response, "li")
    ticked = [line for line in lines if line.startswith("☑")]
    assert ticked == [f"☑ {items[1][1]}"]
    assert sum(line.startswith("☐") for line in lines) == 11
    assert "Aujourd'hui : informer et rassurer" in lines  # section headings are kept


def test_anonymous_tick_is_sent_to_sign_in(client: TestClient, db: Session, articles: None) -> None:
    url = f"/kb/{STUDENT_CHECKLIST}"
    page = client.get(url)
    assert page.status_code == 200
    assert "connectez-vous pour garder votre progression" in html.text(page, "#checklist p.muted")
    assert _items(page) == []  # nothing to tick without an account
    db.rollback()
    article = db.exec(select(Article).where(Article.slug == STUDENT_CHECKLIST)).one()
    key = checklist_items(article.body)[0].key
    token = csrf_from(client.get(f"{url}/feedback").text)  # the page itself has no form
    response = client.post(f"{url}/checklist/{key}", data={"ticked": "1", "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert _ticks(db) == 0


def test_tick_unknown_item_is_refused_with_a_message(
    client: TestClient, db: Session, articles: None
) -> None:
    sign_in(client, make_user(db, Role.teacher))
    response = _tick(client, "0123456789abcdef")
    assert response.status_code == 422
    assert "Cet élément ne fait plus partie de la check-list." in html.text(response, "main")
    assert _ticks(db) == 0


def test_tick_on_an_article_that_is_not_a_checklist_is_404(
    client: TestClient, db: Session, articles: None
) -> None:
    sign_in(client, make_user(db, Role.teacher))
    key, _text = _items(client.get(URL))[0]
    response = _tick(client, key, slug=TUTORIAL)
    assert response.status_code == 404
    assert "Cet article n'est pas une check-list." in html.text(response, "main")
    token = csrf_from(client.get(f"/kb/{TUTORIAL}").text)
    reset = client.post(f"/kb/{TUTORIAL}/checklist-reset", data={"csrf_token": token})
    assert reset.status_code == 404


def test_editing_one_item_keeps_the_other_ticks(
    client: TestClient, db: Session, articles: None
) -> None:
    sign_in(client, make_user(db, Role.teacher))
    items = _items(client.get(URL))
    for key, _text in items[:2]:
        _tick(client, key)
    db.rollback()
    article = db.exec(select(Article).where(Article.slug == TEACHER_CHECKLIST)).one()
    data = ArticleInput(
        slug=article.slug,
        title=article.title,
        kind=article.kind.value,
        audience=article.audience.value,
        summary=article.summary,
        tags=[tag.strip() for tag in article.tags.split(",")],
        body=article.body.replace("Vérifier que tous vos étudiants", "Vérifier que vos étudiants"),
        status=article.status.value,
        verified_on=article.verified_on,
    )
    assert save_article(db, data, actor=None)[1] == "updated"
    db.commit()
    page = client.get(URL)
    assert _progress(page) == "Cochés : 1 sur 12"  # the edited item is new; the first stays
    assert _items(page)[0][0] == items[0][0]
