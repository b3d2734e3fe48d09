"""Search behaviour: typos, prefixes, synonyms, highlighting, permissions, index freshness,
and the same order on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from hub.db import make_engine
from hub.models import Role
from kb.articles import ArticleInput, delete_article, save_article, set_status
from kb.importer import import_directory
from kb.models import Status
from kb.search import search, vocabulary
from kb.synonyms import add_synonym, load_starter_synonyms
from tests import html
from tests.factories import csrf_from, make_department, make_user, sign_in

CONTENT = Path(__file__).resolve().parents[2] / "kb" / "content"


def slugs(session: Session, query: str, viewer=None, **filters) -> list[str]:  # type: ignore[no-untyped-def]
    """What a search finds once the background refresh has caught up with the last change
    (tests/kb/test_vocabulary_refresh.py covers the moment before)."""
    vocabulary(session)
    return [r.article.slug for r in search(session, query, viewer=viewer, **filters).results]


def publish(session: Session, slug: str, title: str, body: str, **extra: object) -> None:
    values: dict[str, object] = {"kind": "tutorial", "audience": "everyone", **extra}
    data = ArticleInput(slug=slug, title=title, body=body, status="published", **values)  # type: ignore[arg-type]
    save_article(session, data, actor=None)
    session.commit()


def test_typos_are_forgiven_by_word_length(db: Session, starter_pack: None) -> None:
    assert slugs(db, "mot de passe oublei")[0] == "connexion-compte-mot-de-passe"
    assert slugs(db, "conexion internet lente")[0] == "connexion-internet-faible"
    # Two typos in a long word are fine; two in a short word are not.
    assert "examen-acces-etudiant" in slugs(db, "acces examne")
    assert slugs(db, "xqmen ") == []


def test_last_word_is_a_prefix_while_typing(db: Session, starter_pack: None) -> None:
    student = make_user(db, Role.student)
    assert slugs(db, "emprunter un ordin", viewer=student)[0] == "pret-materiel-informatique"
    assert slugs(db, "webca", viewer=student)[0] == "materiel-webcam-micro-tester"
    # A trailing space means the word is finished: no prefix expansion any more.
    assert slugs(db, "webca ", viewer=student) == []


def test_synonyms_expand_what_people_type(db: Session, starter_pack: None) -> None:
    assert slugs(db, "mdp")[0] == "connexion-compte-mot-de-passe"
    assert slugs(db, "brossard") == []
    add_synonym(db, term="Brossard", expansion="bien-être isolement", actor=None)
    db.commit()
    assert slugs(db, "brossard")[0] == "bien-etre-isolement"  # the cache saw the new synonym


def test_vocabulary_follows_changes_made_by_another_process(
    db: Session, starter_pack: None
) -> None:
    """The cached vocabulary is checked against a counter that database triggers bump, so a
    change written by anyone (another worker, plain SQL) is seen by the next search."""
    assert slugs(db, "brossard") == []
    with db.get_bind().engine.begin() as connection:
        connection.execute(
            text("INSERT INTO synonym (term, expansion) VALUES ('brossard', 'bien-être isolement')")
        )
    db.rollback()  # a new transaction, as the next request gets
    assert slugs(db, "brossard")[0] == "bien-etre-isolement"
    with db.get_bind().engine.begin() as connection:
        connection.execute(text("DELETE FROM synonym WHERE term = 'brossard'"))
    db.rollback()
    assert slugs(db, "brossard") == []


def test_rarest_word_is_dropped_when_nothing_matches_every_word(
    db: Session, starter_pack: None
) -> None:
    response = search(db, "mot de passe hippopotame", viewer=None)
    assert response.results[0].article.slug == "connexion-compte-mot-de-passe"
    assert "hippopotame" in response.dropped


def test_results_are_highlighted_and_escaped(db: Session) -> None:
    publish(
        db,
        "consignes-webcam",
        "Tester sa webcam <avant> l'examen",
        "Allumez la **webcam** et <script>alert(1)</script> vérifiez le cadrage.",
        summary="Vérifier la webcam & le micro <b>avant</b> de commencer.",
    )
    result = search(db, "webcam", viewer=None).results[0]
    assert "<mark>webcam</mark>" in str(result.snippet)
    assert "<b>" not in str(result.snippet) and "&lt;b&gt;avant&lt;/b&gt;" in str(result.snippet)


def test_audiences_and_departments_limit_results(db: Session) -> None:
    make_department(db, "SCI")
    make_department(db, "LET")
    publish(
        db,
        "labo-distance",
        "Travaux de laboratoire à distance",
        "Simulations de labo.",
        audience="teacher",
    )
    publish(
        db,
        "labo-sci",
        "Laboratoire de chimie en ligne",
        "Simulations de labo chimie.",
        audience="teacher",
        department="SCI",
    )
    sci_teacher = make_user(db, Role.teacher, departments=["SCI"])
    let_teacher = make_user(db, Role.teacher, departments=["LET"])
    student = make_user(db, Role.student, departments=["SCI"])
    assert slugs(db, "laboratoire", viewer=None) == []
    assert slugs(db, "laboratoire", viewer=student) == []
    assert sorted(slugs(db, "laboratoire", viewer=sci_teacher)) == ["labo-distance", "labo-sci"]
    assert slugs(db, "laboratoire", viewer=let_teacher) == ["labo-distance"]


def test_index_follows_edit_archive_and_delete(db: Session) -> None:
    team = make_user(db, Role.elearning)
    publish(db, "salle-attente", "Salle d'attente Teams", "Activer la salle d'attente.")
    assert slugs(db, "attente") == ["salle-attente"]
    publish(db, "salle-attente", "Lobby de réunion", "Configurer le lobby.")
    assert slugs(db, "attente") == []
    assert slugs(db, "lobby") == ["salle-attente"]
    set_status(db, slug="salle-attente", status=Status.archived, actor=team)
    db.commit()
    assert slugs(db, "lobby") == []
    set_status(db, slug="salle-attente", status=Status.published, actor=team)
    db.commit()
    assert slugs(db, "lobby") == ["salle-attente"]
    delete_article(db, slug="salle-attente", actor=team)
    db.commit()
    assert slugs(db, "lobby") == []


def test_filters_by_kind_audience_and_tag(db: Session, starter_pack: None) -> None:
    make_department(db, "SCI")
    teacher = make_user(db, Role.teacher)
    checklists = slugs(db, "examen", viewer=teacher, kind="checklist")
    assert checklists and all(s.endswith("checklist") or "checklist" in s for s in checklists)
    student_only = search(db, "examen", viewer=teacher, audience="student").results
    assert student_only and {r.article.audience.value for r in student_only} == {"student"}


def test_header_search_suggestions_page(
    client: TestClient, db: Session, starter_pack: None
) -> None:
    partial = client.get("/kb/suggest", params={"q": "mot de pase"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert html.select(partial, "html") == []
    suggested = [link.split("?")[0] for link in html.links(partial, ".suggestions a")]
    assert "/kb/connexion-compte-mot-de-passe" in suggested
    full = client.get("/kb", params={"q": "mot de pase"})
    found = [link.split("?")[0] for link in html.links(full, "#kb-results a")]
    assert "/kb/connexion-compte-mot-de-passe" in found and html.select(full, "html")


def test_active_search_returns_only_results_to_htmx(
    client: TestClient, db: Session, starter_pack: None
) -> None:
    response = client.get("/kb", params={"q": "wifi"}, headers={"HX-Request": "true"})
    assert html.one(response, "div#kb-results") and html.select(response, "nav") == []
    assert response.headers["vary"].startswith("HX-Request")


def test_synonyms_page_is_for_the_elearning_team(
    client: TestClient, db: Session, starter_pack: None
) -> None:
    make_department(db, "SCI")
    sign_in(client, make_user(db, Role.teacher))
    assert client.get("/kb/synonyms").status_code == 403
    client.cookies.clear()
    sign_in(client, make_user(db, Role.elearning))
    token = csrf_from(client.get("/kb/synonyms").text)
    added = client.post(
        "/kb/synonyms", data={"term": "Moudle", "expansion": "moodle", "csrf_token": token}
    )
    assert added.status_code == 303
    assert "moudle" in html.texts(client.get("/kb/synonyms"), "main tbody td:first-child")
    duplicate = client.post(
        "/kb/synonyms", data={"term": "moudle", "expansion": "x", "csrf_token": token}
    )
    assert duplicate.status_code == 422


QUERIES = [
    "accès examen",
    "comment enregistrer une capsule vidéo",
    "mot de passe",
    "wifi lent",
    "partager écran son",
    "examen oral",
    "quiz moodle",
    "sous-groupes teams",
    "droit d'auteur",
    "rgpd",
    "webcam",
    "emprunter ordinateur",
    "stress isolement",
    "référent escalade",
    "plan de crise",
    "capsu",
    "examn",
    "devoir",
    "enregistrer réunion",
    "moodle",
]


@pytest.mark.slow
def test_both_backends_return_the_same_order(
    sqlite_template: Path, postgres_url: str, tmp_path: Path
) -> None:
    """The ranking is computed in Python from the same analyzed text, so the database used
    must not change what people see."""
    import shutil

    from sqlalchemy import text
    from sqlmodel import SQLModel

    sqlite_path = tmp_path / "same-order.sqlite3"
    shutil.copyfile(sqlite_template, sqlite_path)
    orders: list[dict[str, list[str]]] = []
    for url in (f"sqlite:///{sqlite_path}", postgres_url):
        engine = make_engine(url)
        if engine.dialect.name == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            with engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        with Session(engine) as session:
            assert not import_directory(session, CONTENT).errors
            load_starter_synonyms(session)
            session.commit()
            make_department(session, "SCI")
            viewer = make_user(session, Role.referent, departments=["SCI"])
            orders.append({q: slugs(session, q, viewer=viewer) for q in QUERIES})
        engine.dispose()
    sqlite_order, postgres_order = orders
    assert all(sqlite_order[q] for q in QUERIES[:10])
    assert sqlite_order == postgres_order


def test_an_article_holding_the_rare_words_is_not_lost_for_one_missing_word(
    db: Session,
) -> None:
    """No article holds every word: the one holding the rare, topical ones still comes first
    (the search used to drop the rarest word, "grésille", and lose it)."""
    publish(db, "micro-gresille", "Mon micro grésille", "Un micro qui grésille : le câble.")
    for n in range(4):
        publish(db, f"cours-{n}", f"Préparer le cours {n}", "Le cours à distance, le micro.")
    assert slugs(db, "micro qui grésille en cours")[0] == "micro-gresille"


def test_the_questions_an_article_answers_find_it(db: Session) -> None:
    """A phrasing in readers' words finds its article, though neither title nor body say it;
    it weighs more than a mention in another article's body."""
    publish(
        db,
        "moodle-remettre-devoir",
        "Remettre un devoir sur Moodle",
        "Cliquez sur Ajouter un travail, puis Envoyer.",
        questions=["rendre mon TP avant minuit", "mon fichier ne s'envoie pas"],
    )
    publish(db, "horaires", "Les horaires", "Le TP de chimie a lieu avant minuit au labo.")
    assert slugs(db, "rendre mon TP")[0] == "moodle-remettre-devoir"
    assert slugs(db, "le fichier ne s'envoie pas") == ["moodle-remettre-devoir"]


def test_words_asking_for_help_do_not_dilute_the_query(db: Session) -> None:
    """ "Je n'arrive pas à", "comment faire pour", "j'ai besoin de" say that help is wanted,
    not about what: an article using those words does not win for them (it did: it was the
    only one holding every word). Alone, such a word is still searched."""
    publish(db, "partager-video", "Partager une vidéo", "Cochez Optimiser pour la vidéo.")
    publish(
        db,
        "ecran-noir",
        "Je n'arrive pas à partager mon écran",
        "Si vous n'arrivez pas à partager l'écran, redémarrez Teams ; la vidéo suivra.",
    )
    for asking in (
        "je n'arrive pas à partager une vidéo",
        "comment faire pour partager une vidéo",
        "j'ai besoin de partager une vidéo svp",
    ):
        assert slugs(db, asking)[0] == "partager-video", asking
    response = search(db, "arriver", viewer=None)
    assert [t.typed for t in response.terms] == ["arriver"]
    assert [r.article.slug for r in response.results] == ["ecran-noir"]


def test_words_side_by_side_in_a_title_come_first(db: Session) -> None:
    """The phrase bonus: both articles hold both words in their title, once each; the one
    that has them together as typed ranks first (by slug, it would be second)."""
    publish(db, "a-salle-et-attente", "Salle équipée : la file d'attente du prêt", "Texte.")
    publish(db, "b-salle-attente", "Ouvrir la salle d'attente", "Texte.")
    db.commit()
    assert slugs(db, "salle d'attente")[:2] == ["b-salle-attente", "a-salle-et-attente"]
