"""Concepts (issue 16): words and phrases the team declares equivalent, searched every way
round, edited on the synonyms page; a change is seen by the next searches."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.models import Role
from kb.articles import ArticleInput, save_article
from kb.models import Concept
from kb.search import search, vocabulary
from kb.synonyms import STARTER_CONCEPTS, load_starter_synonyms
from tests import html
from tests.factories import csrf_from, make_department, make_user, sign_in


def publish(db: Session, slug: str, title: str) -> None:
    save_article(
        db,
        ArticleInput(
            slug=slug,
            title=title,
            kind="guide",
            audience="everyone",
            body="Des conseils concrets.",
            status="published",
        ),
        actor=None,
    )
    db.commit()


def found(db: Session, query: str) -> list[str]:
    db.commit()
    vocabulary(db)  # the refresh after the last change has caught up
    return [r.article.slug for r in search(db, query, viewer=None).results]


def add(client: TestClient, members: str):  # type: ignore[no-untyped-def]
    page = client.get("/kb/synonyms")
    return client.post(
        "/kb/concepts", data={"members": members, "csrf_token": csrf_from(page.text)}
    )


def test_a_concept_is_searched_every_way_round(client: TestClient, db: Session) -> None:
    publish(db, "surcharge", "Vous êtes surchargé ? Alléger la semaine")
    publish(db, "charge", "Répartir sa charge de travail")
    publish(db, "deborde", "Débordé par les courriels")
    assert found(db, "surchargé")[0] == "surcharge"
    assert "deborde" not in found(db, "surchargé")
    assert found(db, "croule") == []

    sign_in(client, make_user(db, Role.elearning))
    added = add(client, "Débordé\nsurchargé, charge de travail\ncroule")
    assert added.status_code == 303
    page = client.get(added.headers["location"])
    assert "Débordé · surchargé · charge de travail · croule" in html.text(page, ".concepts")

    # Each one-word member finds the articles of the others, its own first.
    assert found(db, "surchargé")[:2] == ["surcharge", "deborde"]
    assert found(db, "debordee")[0] == "deborde"  # stems and accents: the same word
    assert "surcharge" in found(db, "débordé")
    # A word only in the concept finds the one-word members; a phrase member typed whole
    # finds them too, after the articles holding the phrase itself.
    assert set(found(db, "je croule")) == {"surcharge", "deborde"}
    assert found(db, "trop de charge de travail") == ["charge", "deborde", "surcharge"]


def test_editing_and_deleting_a_concept_change_what_search_finds(
    client: TestClient, db: Session
) -> None:
    publish(db, "presence", "Suivre la présence des étudiants")
    sign_in(client, make_user(db, Role.elearning))
    add(client, "présence\nassiduité")
    assert found(db, "assiduité") == ["presence"]
    concept = db.exec(select(Concept)).one()
    page = client.get("/kb/synonyms")
    token = csrf_from(page.text)
    saved = client.post(
        f"/kb/concepts/{concept.id}", data={"members": "présence\npointage", "csrf_token": token}
    )
    assert saved.status_code == 303
    assert found(db, "assiduité") == []
    assert found(db, "pointage") == ["presence"]
    deleted = client.post(f"/kb/concepts/{concept.id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert found(db, "pointage") == []


def test_a_bad_concept_is_explained_at_its_field_with_the_text_kept(
    client: TestClient, db: Session
) -> None:
    sign_in(client, make_user(db, Role.elearning))
    for members, message in (
        ("présence", "au moins deux"),
        ("présence\nson\nleur", "« son » ne contient que des mots trop courants"),
        ("a" * 61 + "\nprésence", "60 caractères au plus"),
    ):
        response = add(client, members)
        assert response.status_code == 422
        assert message in html.text(response, "#members-error")
        assert html.one(response, "#concept-new")["aria-invalid"] == "true"
        assert html.one(response, "#concept-new").get_text() == members
    add(client, "présence\nassiduité")
    duplicate = add(client, "Présence\npointage")
    assert duplicate.status_code == 422
    assert "commence déjà par « Présence »" in html.text(duplicate, "#members-error")
    assert len(db.exec(select(Concept)).all()) == 1


def test_only_the_team_edits_concepts(client: TestClient, db: Session) -> None:
    make_department(db, "SCI")
    sign_in(client, make_user(db, Role.referent))
    page = client.get("/kb/new")
    refused = client.post(
        "/kb/concepts", data={"members": "a\nb", "csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 403
    assert client.get("/kb/synonyms").status_code == 403
    assert db.exec(select(Concept)).first() is None


def test_the_starter_concepts_come_with_the_starter_synonyms(db: Session) -> None:
    load_starter_synonyms(db)
    db.commit()
    assert len(db.exec(select(Concept)).all()) == len(STARTER_CONCEPTS)
    assert load_starter_synonyms(db) == 0  # never twice, never over the team's edits
