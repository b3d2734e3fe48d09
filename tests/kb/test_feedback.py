"""Reader feedback and content gaps: helpful votes and comments, searches without results,
search-as-you-type logged once, clicks on results, and the e-learning team's gaps page."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub.models import Role
from kb.articles import ArticleInput, save_article
from kb.feedback import record_feedback
from kb.models import Article, ArticleFeedback, SearchLog
from tests import html
from tests.factories import csrf_from, make_department, make_user, sign_in

URL = "/kb/capsule-video"


def _article(
    db: Session, slug: str = "capsule-video", title: str = "Enregistrer une capsule vidéo"
) -> Article:
    article, _ = save_article(
        db,
        ArticleInput(
            slug=slug,
            title=title,
            kind="tutorial",
            audience="everyone",
            status="published",
            body=f"{title} : PowerPoint ou OBS Studio, puis exportez en MP4.\n",
        ),
        actor=None,
    )
    db.commit()
    return article


def _refresh(db: Session) -> None:
    db.rollback()
    db.expire_all()


def _feedback(db: Session) -> list[ArticleFeedback]:
    _refresh(db)
    return list(db.exec(select(ArticleFeedback).order_by(col(ArticleFeedback.id))).all())


def _logs(client: TestClient, db: Session) -> list[SearchLog]:
    """The search logs once this process's buffer is written (hub/byproducts.py)."""
    client.app.state.byproducts.flush()  # type: ignore[attr-defined]
    _refresh(db)
    return list(db.exec(select(SearchLog).order_by(col(SearchLog.id))).all())


def _table(page: html.Source, heading: str) -> list[list[str]]:
    """The rows of the table under a section heading, as the cells' visible text."""
    section = next(s for s in html.select(page, "section") if s.h2 and s.h2.text == heading)
    return [html.texts(row, "td") for row in section.select("tbody tr")]


def test_send_feedback_with_plain_form_stores_vote_and_comment(
    client: TestClient, app: FastAPI, db: Session
) -> None:
    make_department(db)
    _article(db)
    teacher = make_user(db, Role.teacher)
    sign_in(client, teacher)
    token = csrf_from(client.get(URL).text)
    response = client.post(
        f"{URL}/feedback",
        data={"helpful": "0", "comment": "  Il manque la partie Mac.  ", "csrf_token": token},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{URL}?merci=1#feedback"
    thanks = client.get(response.headers["location"])
    assert "Merci ! Votre avis aide l'équipe e-learning" in html.text(thanks, "#feedback")
    assert "Cet article vous a-t-il aidé ?" not in html.text(thanks)

    with TestClient(app, follow_redirects=False) as anonymous:  # anyone who reads may vote
        # The shared (cached) article page links to the form, which comes on its own.
        article_page = anonymous.get(URL)
        assert "set-cookie" not in article_page.headers
        assert f"{URL}/feedback" in html.links(article_page, "#feedback a")
        token = csrf_from(anonymous.get(f"{URL}/feedback").text)
        anonymous.post(f"{URL}/feedback", data={"helpful": "1", "csrf_token": token})

    stored = [(f.helpful, f.comment, f.user_id) for f in _feedback(db)]
    assert stored == [(False, "Il manque la partie Mac.", teacher.id), (True, "", None)]


def test_send_feedback_with_htmx_returns_thanks_in_place(client: TestClient, db: Session) -> None:
    make_department(db)
    _article(db)
    sign_in(client, make_user(db, Role.teacher))
    token = csrf_from(client.get(URL).text)
    response = client.post(
        f"{URL}/feedback",
        data={"helpful": "1", "comment": "Clair et court."},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert response.status_code == 200
    assert html.top_level(response) == ["section#feedback"]  # the block alone, no <html>
    assert "Merci !" in html.text(response, "#feedback [role=status]")
    [feedback] = _feedback(db)
    assert feedback.helpful is True and feedback.comment == "Clair et court."


def test_feedback_with_too_long_comment_is_refused(client: TestClient, db: Session) -> None:
    _article(db)
    token = csrf_from(client.get(f"{URL}/feedback").text)
    response = client.post(
        f"{URL}/feedback", data={"helpful": "0", "comment": "x" * 1001, "csrf_token": token}
    )
    assert response.status_code == 422
    assert "Commentaire trop long (1000 caractères au plus)." in html.text(response, "main")
    assert _feedback(db) == []


def test_zero_result_searches_are_grouped_on_gaps_page(
    client: TestClient, app: FastAPI, db: Session
) -> None:
    _article(db)
    searches = [
        "imprimante 3D",
        "Imprimante 3d",
        "imprimante 3D",
        "<b>badge</b> parking",
        "capsule",
    ]
    pages = {}
    for number, query in enumerate(searches):
        client.cookies.clear()  # each search by another reader
        headers = {"HX-Request": "true"} if number == 0 else {}  # the page's active search
        pages[query] = client.get("/kb", params={"q": query}, headers=headers)
        assert pages[query].status_code == 200
    assert "Aucun article ne correspond à « <b>badge</b> parking »." in html.text(
        pages["<b>badge</b> parking"], "#kb-results .empty"
    )
    assert "1 résultat" in html.text(pages["capsule"], "#kb-results p.muted")
    app.state.byproducts.flush()  # search logs are written in batches (hub/byproducts.py)

    with TestClient(app, follow_redirects=False) as team:
        sign_in(team, make_user(db, Role.elearning))
        page = team.get("/kb/gaps")
        assert page.status_code == 200
        rows = _table(page, "Recherches sans résultat")
    # Grouped by the folded query, most frequent first; markup typed is shown as text.
    assert [row[:2] for row in rows] == [["imprimante 3d", "3"], ["<b>badge</b> parking", "1"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", row[2]) for row in rows)  # last time


def test_gaps_page_is_for_the_elearning_team_only(
    client: TestClient, app: FastAPI, db: Session
) -> None:
    make_department(db)
    assert client.get("/kb/gaps").headers["location"] == "/login?next=/kb/gaps"
    for role in (Role.teacher, Role.referent):
        with TestClient(app, follow_redirects=False) as other:
            sign_in(other, make_user(db, role))
            assert other.get("/kb/gaps").status_code == 403, role
            assert "/kb/gaps" not in html.links(other.get("/"))  # not offered either


def test_unhelpful_votes_with_comments_appear_on_gaps_page(client: TestClient, db: Session) -> None:
    capsule = _article(db)
    charte = _article(db, "charte-usage", "Charte d'usage du numérique")
    for helpful, comment in [
        (False, "Il manque la partie Mac."),
        (False, "<script>alert('gaps')</script>"),
        (False, ""),
        (True, "Merci"),
    ]:
        record_feedback(db, article=capsule, user=None, helpful=helpful, comment=comment)
    record_feedback(db, article=charte, user=None, helpful=True)
    db.commit()

    sign_in(client, make_user(db, Role.elearning))
    page = client.get("/kb/gaps")
    rows = _table(page, "Articles jugés inutiles")
    assert len(rows) == 1  # an article nobody found unhelpful is not listed
    title, unhelpful, helpful, comments = rows[0]
    assert (title, unhelpful, helpful) == ("Enregistrer une capsule vidéo", "3", "1")
    assert "« Il manque la partie Mac. »" in comments
    assert "« <script>alert('gaps')</script> »" in comments  # shown as text, not run
    assert not any("gaps" in script.text for script in html.select(page, "script"))


def test_search_as_you_type_is_logged_once(client: TestClient, db: Session) -> None:
    _article(db)
    for typed in ("cap", "capsu", "capsule"):
        response = client.get("/kb/suggest", params={"q": typed}, headers={"HX-Request": "true"})
        assert response.status_code == 200
        assert "Enregistrer une capsule vidéo" in html.text(response, ".suggestions")
    [log] = _logs(client, db)
    assert (log.query, log.result_count, log.role) == ("capsule", 1, "anonymous")

    client.get("/kb/suggest", params={"q": "badge"}, headers={"HX-Request": "true"})
    assert [log.query for log in _logs(client, db)] == ["capsule", "badge"]  # a new search


def test_click_on_a_result_records_the_slug(client: TestClient, db: Session) -> None:
    make_department(db)
    _article(db)
    sign_in(client, make_user(db, Role.teacher))
    suggestions = client.get("/kb/suggest", params={"q": "capsule"})
    link = next(href for href in html.links(suggestions, ".suggestions a") if href.startswith(URL))
    assert "?from_search=" in link
    assert client.get(link).status_code == 200
    [log] = _logs(client, db)
    assert (log.query, log.role, log.clicked_slug) == ("capsule", "teacher", "capsule-video")

    # Typing on after opening a result is a new search, not a refinement of the old one.
    client.get("/kb/suggest", params={"q": "capsule mp4"})
    logs = _logs(client, db)
    assert [(log.query, log.clicked_slug) for log in logs] == [
        ("capsule", "capsule-video"),
        ("capsule mp4", None),
    ]


def test_the_feedback_form_is_one_template_for_htmx_and_for_a_plain_page(
    client: TestClient, db: Session
) -> None:
    """htmx names its target (`HX-Target: feedback`): the renderer answers that block of the
    page; a browser without JavaScript gets the whole page (hub/web/rendering.py)."""
    _article(db)
    swapped = client.get(f"{URL}/feedback", headers={"HX-Request": "true", "HX-Target": "feedback"})
    assert html.top_level(swapped) == ["section#feedback"]  # the block alone, no <html>
    assert "← " not in html.text(swapped)
    page = client.get(f"{URL}/feedback")
    assert html.select(page, "html") and html.one(page, "section#feedback")
    assert "HX-Target" in page.headers["vary"]
