"""The knowledge-base JSON API: search results and one article, what a token may read,
and errors as JSON `{"detail"}`."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.models import Role
from hub.tokens import create_token
from kb.articles import ArticleInput, save_article
from tests.factories import make_department, make_user

RESULT_KEYS = {"slug", "title", "kind", "audience", "snippet", "score"}


def _publish(
    db: Session, slug: str, title: str, body: str, *, audience: str = "everyone", **extra: str
) -> None:
    values = {"kind": "tutorial", "status": "published", **extra}
    save_article(
        db,
        ArticleInput(slug=slug, title=title, audience=audience, body=body, **values),  # type: ignore[arg-type]
        actor=None,
    )
    db.commit()


@pytest.fixture
def articles(db: Session) -> None:
    make_department(db)
    _publish(
        db,
        "capsule-video",
        "Enregistrer une capsule vidéo",
        "Ouvrez OBS. N'écrivez jamais <script>alert(1)</script> dans le titre de la capsule.",
        audience="teacher",
    )
    _publish(
        db,
        "capsule-regarder",
        "Regarder une capsule",
        "La capsule se lit sur Moodle.",
        audience="student",
    )
    _publish(db, "capsule-son", "Le son d'une capsule", "Le micro fait la capsule.")
    _publish(db, "capsule-poids", "Le poids d'une capsule", "Une capsule de 10 minutes.")
    _publish(db, "capsule-sous-titres", "Sous-titrer une capsule", "Sous-titres de capsule.")
    _publish(
        db,
        "capsule-checklist",
        "Avant de tourner une capsule",
        "Vérifiez :\n\n- [ ] Micro **testé**\n- [ ] Lumière de face\n",
        kind="checklist",
    )
    _publish(db, "capsule-brouillon", "Capsule en préparation", "Capsule.", status="draft")


def _bearer(db: Session, role: Role) -> dict[str, str]:
    user = make_user(db, role)
    _token, secret = create_token(db, user=user)
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def _slugs(response_json: dict[str, object]) -> set[str]:
    results = response_json["results"]
    assert isinstance(results, list)
    return {result["slug"] for result in results}


def test_search_answers_the_documented_shape(client: TestClient, articles: None) -> None:
    response = client.get("/api/kb/search", params={"q": "capsule", "limit": 3})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"query", "results"}
    assert body["query"] == "capsule"
    assert len(body["results"]) == 3  # of the five public matches
    for result in body["results"]:
        assert set(result) == RESULT_KEYS
        assert result["kind"] in {"tutorial", "checklist"}
        assert isinstance(result["score"], float) and result["score"] > 0
        assert "<mark>capsule" in result["snippet"].lower()
    scores = [result["score"] for result in body["results"]]
    assert scores == sorted(scores, reverse=True)
    everything = client.get("/api/kb/search", params={"q": "capsule"}).json()
    assert len(everything["results"]) == 5
    assert client.get("/api/kb/search", params={"q": ""}).json() == {"query": "", "results": []}


def test_search_shows_a_token_what_its_owner_may_read(
    client: TestClient, db: Session, articles: None
) -> None:
    public = {
        "capsule-regarder",
        "capsule-son",
        "capsule-poids",
        "capsule-sous-titres",
        "capsule-checklist",
    }
    anonymous = client.get("/api/kb/search", params={"q": "capsule"}).json()
    assert _slugs(anonymous) == public
    assert {r["audience"] for r in anonymous["results"]} <= {"everyone", "student"}
    student = client.get(
        "/api/kb/search", params={"q": "capsule"}, headers=_bearer(db, Role.student)
    ).json()
    assert _slugs(student) == public
    teacher = client.get(
        "/api/kb/search", params={"q": "capsule"}, headers=_bearer(db, Role.teacher)
    ).json()
    assert _slugs(teacher) == public | {"capsule-video"}  # never the draft


def test_search_snippet_is_highlighted_and_escaped(
    client: TestClient, db: Session, articles: None
) -> None:
    response = client.get(
        "/api/kb/search", params={"q": "titre capsule"}, headers=_bearer(db, Role.teacher)
    )
    result = next(r for r in response.json()["results"] if r["slug"] == "capsule-video")
    assert "<mark>titre</mark>" in result["snippet"]
    assert "<script>" not in result["snippet"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in result["snippet"]


def test_search_limit_out_of_range_is_422_json(client: TestClient, articles: None) -> None:
    for limit in ("0", "51", "500", "dix"):
        response = client.get("/api/kb/search", params={"q": "capsule", "limit": limit})
        assert response.status_code == 422, limit
        [error] = response.json()["detail"]
        assert error["loc"] == ["query", "limit"]
    assert client.get("/api/kb/search", params={"q": "capsule", "limit": 50}).status_code == 200


def test_article_answers_markdown_html_and_checklist_items(
    client: TestClient, articles: None
) -> None:
    response = client.get("/api/kb/articles/capsule-checklist")
    assert response.status_code == 200
    article = response.json()
    assert article["slug"] == "capsule-checklist" and article["kind"] == "checklist"
    assert article["body_markdown"].startswith("Vérifiez :\n\n- [ ] Micro **testé**")
    assert "<strong>testé</strong>" in article["body_html"]
    assert article["checklist"] == ["Micro **testé**", "Lumière de face"]
    assert article["url"].endswith("/kb/capsule-checklist")
    tutorial = client.get("/api/kb/articles/capsule-son").json()
    assert (
        tutorial["checklist"] == []
        and tutorial["body_html"] == "<p>Le micro fait la capsule.</p>\n"
    )


def test_unknown_article_is_404_json(client: TestClient, articles: None) -> None:
    response = client.get("/api/kb/articles/pas-de-tel-article")
    assert response.status_code == 404
    assert response.json() == {"detail": "Article introuvable."}


def test_teacher_article_needs_a_token(client: TestClient, db: Session, articles: None) -> None:
    anonymous = client.get("/api/kb/articles/capsule-video")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Connectez-vous pour lire cet article."}
    assert anonymous.headers["www-authenticate"] == "Bearer"

    teacher = client.get("/api/kb/articles/capsule-video", headers=_bearer(db, Role.teacher))
    assert teacher.status_code == 200
    body_html = teacher.json()["body_html"]
    assert "<script>" not in body_html and "&lt;script&gt;" in body_html
    student = client.get("/api/kb/articles/capsule-video", headers=_bearer(db, Role.student))
    assert student.status_code == 404 and student.json() == {"detail": "Article introuvable."}
    draft = client.get("/api/kb/articles/capsule-brouillon", headers=_bearer(db, Role.teacher))
    assert draft.status_code == 404
