"""Authoring and reading articles: the editor form, revisions, statuses, who reads what."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub.models import Department, Role
from kb.articles import ArticleInput, save_article
from kb.feedback import record_feedback
from kb.models import Article, ArticleFeedback, ArticleRevision, Status
from tests import html
from tests.factories import csrf_from, make_department, make_user, sign_in

BODY = "## Étapes\n\n1. Ouvrez PowerPoint.\n2. Cliquez sur **Enregistrer**.\n"


def _article(
    db: Session,
    slug: str = "capsule-video",
    *,
    title: str = "Enregistrer une capsule vidéo",
    kind: str = "tutorial",
    audience: str = "teacher",
    body: str = BODY,
    status: str = "published",
    department: str | None = None,
    tags: Sequence[str] = ("vidéo", "capsule"),
) -> Article:
    """An article as `hub kb import` would create it (revision 1, no editor)."""
    article, _ = save_article(
        db,
        ArticleInput(
            slug=slug,
            title=title,
            kind=kind,
            audience=audience,
            body=body,
            status=status,
            department=department,
            tags=list(tags),
        ),
        actor=None,
    )
    db.commit()
    return article


def _refresh(db: Session) -> None:
    """See what the app committed since: end the test's read transaction, forget loaded rows."""
    db.rollback()
    db.expire_all()


def _stored(db: Session, slug: str) -> Article:
    _refresh(db)
    return db.exec(select(Article).where(Article.slug == slug)).one()


def _exists(db: Session, slug: str) -> bool:
    _refresh(db)
    return db.exec(select(Article).where(Article.slug == slug)).first() is not None


def _revisions(db: Session, article: Article) -> list[int]:
    return list(
        db.exec(
            select(ArticleRevision.number)
            .where(ArticleRevision.article_id == article.id)
            .order_by(col(ArticleRevision.number))
        ).all()
    )


def _new_article_form(client: TestClient, **fields: str) -> dict[str, str]:
    page = client.get("/kb/new")
    assert page.status_code == 200
    data = html.form_values(page, "form[action='/kb/new']")
    data.update(fields)
    return data


def test_create_article_through_the_form(client: TestClient, db: Session) -> None:
    make_department(db)
    sign_in(client, make_user(db, Role.elearning))
    data = _new_article_form(
        client,
        title="Partager son écran dans Teams",
        slug="teams-partager-ecran",
        audience="teacher",
        status="published",
        tags="Teams, écran",
        body="Cliquez sur **Partager** en haut de la réunion.",
    )
    response = client.post("/kb/new", data=data)
    assert response.status_code == 303
    assert response.headers["location"] == "/kb/teams-partager-ecran"

    page = client.get("/kb/teams-partager-ecran")
    assert page.status_code == 200
    assert "Article enregistré." in html.text(page, ".flash")
    assert "Partager son écran dans Teams" in html.text(page, "h1")
    assert "Partager" in html.texts(page, ".article-body strong")
    tags = html.texts(page, ".kb-article header a.tag")
    assert "#Teams" in tags and "#écran" in tags
    article = _stored(db, "teams-partager-ecran")
    assert article.status is Status.published
    assert _revisions(db, article) == [1]


def test_the_questions_field_keeps_what_was_typed_and_says_what_is_wrong(
    client: TestClient, db: Session
) -> None:
    """One question per line; too many come back with the field's error under it, every value
    kept; the editor shows the saved ones again."""
    make_department(db)
    sign_in(client, make_user(db, Role.elearning))
    too_many = "\n".join(f"question numéro {n}" for n in range(31))
    data = _new_article_form(
        client, title="Rendre un travail", slug="rendre-travail", questions=too_many
    )
    refused = client.post("/kb/new", data=data)
    assert refused.status_code == 422
    assert "30 questions au plus" in html.text(refused, "#questions-error")
    field = html.one(refused, "textarea[name=questions]")
    assert field["aria-invalid"] == "true" and "questions-error" in field["aria-describedby"]
    assert html.form_values(refused, "form[action='/kb/new']")["questions"].count("\n") == 30

    data["questions"] = "rendre mon TP\r\n\r\nmon fichier ne part pas\r\nrendre mon TP"
    assert client.post("/kb/new", data=data).status_code == 303
    assert _stored(db, "rendre-travail").questions == "rendre mon TP\nmon fichier ne part pas"
    editor = client.get("/kb/rendre-travail/edit")
    assert html.one(editor, "textarea[name=questions]").text.strip().splitlines() == [
        "rendre mon TP",
        "mon fichier ne part pas",
    ]


def test_edit_article_makes_revision_with_editor_and_diff(client: TestClient, db: Session) -> None:
    make_department(db)
    article = _article(db, title="Ancien titre")
    sign_in(client, make_user(db, Role.elearning, name="Claire Martin"))
    data = html.form_values(
        client.get("/kb/capsule-video/edit"), "form[action='/kb/capsule-video/edit']"
    )
    assert data["title"] == "Ancien titre"  # the form opens with the current content
    data["title"] = "Nouveau titre"
    data["body"] = data["body"].replace("PowerPoint", "OBS Studio")
    data["note"] = "OBS plutôt que PowerPoint"
    assert client.post("/kb/capsule-video/edit", data=data).status_code == 303

    assert "Nouveau titre" in html.text(client.get("/kb/capsule-video"), "h1")
    assert _stored(db, "capsule-video").revision == 2
    assert _revisions(db, article) == [1, 2]
    history = client.get("/kb/capsule-video/revisions")
    rows = html.texts(history, "tbody tr")
    assert rows[0].startswith("2 (actuelle)")
    assert "Claire Martin" in rows[0] and "OBS plutôt que PowerPoint" in rows[0]
    assert "import" in next(row for row in rows if row.startswith("1 "))
    diff = html.one(history, "pre.diff").get_text()
    assert "-Ancien titre" in diff and "+Nouveau titre" in diff
    assert "-1. Ouvrez PowerPoint." in diff and "+1. Ouvrez OBS Studio." in diff


def test_save_unchanged_article_makes_no_revision(client: TestClient, db: Session) -> None:
    make_department(db)
    article = _article(db)
    sign_in(client, make_user(db, Role.elearning))
    data = html.form_values(
        client.get("/kb/capsule-video/edit"), "form[action='/kb/capsule-video/edit']"
    )
    data["body"] = data["body"].replace("\n", "\r\n")  # browsers send textareas with CRLF
    assert client.post("/kb/capsule-video/edit", data=data).status_code == 303
    assert "Aucun changement." in html.text(client.get("/kb/capsule-video"), ".flash")
    assert _stored(db, "capsule-video").revision == 1
    assert _revisions(db, article) == [1]


def test_restore_revision_brings_back_old_title_as_new_revision(
    client: TestClient, db: Session
) -> None:
    make_department(db)
    article = _article(db, title="Titre d'origine")
    sign_in(client, make_user(db, Role.elearning))
    data = html.form_values(
        client.get("/kb/capsule-video/edit"), "form[action='/kb/capsule-video/edit']"
    )
    client.post("/kb/capsule-video/edit", data={**data, "title": "Titre raté"})
    history = client.get("/kb/capsule-video/revisions").text
    restore = client.post(
        "/kb/capsule-video/revisions/1/restore", data={"csrf_token": csrf_from(history)}
    )
    assert restore.status_code == 303
    page = client.get("/kb/capsule-video")
    assert "Révision restaurée." in html.text(page, ".flash")
    assert "Titre d'origine" in html.text(page, "h1")
    assert "Titre raté" not in html.text(page)
    assert _stored(db, "capsule-video").revision == 3
    assert _revisions(db, article) == [1, 2, 3]
    notes = html.text(client.get("/kb/capsule-video/revisions"), "tbody")
    assert "restored revision 1" in notes


def test_draft_is_hidden_from_teachers_but_shown_to_authors(
    client: TestClient, app: FastAPI, db: Session
) -> None:
    make_department(db)
    _article(db, status="draft", title="Brouillon de capsule")
    sign_in(client, make_user(db, Role.teacher))
    assert client.get("/kb/capsule-video").status_code == 404
    assert "Brouillon de capsule" not in html.text(client.get("/kb"))
    with TestClient(app, follow_redirects=False) as author:
        sign_in(author, make_user(db, Role.referent, departments=["SCI"]))
        page = author.get("/kb/capsule-video")
        assert page.status_code == 200
        assert "Brouillon de capsule" in html.text(page, "h1")
        assert "Brouillon" in html.text(page, ".kb-article header mark")


def test_archive_article_removes_it_from_listing(client: TestClient, db: Session) -> None:
    make_department(db)
    _article(db, title="Capsule à archiver")
    sign_in(client, make_user(db, Role.elearning))
    assert "Capsule à archiver" in html.text(client.get("/kb"), ".article-list")
    token = csrf_from(client.get("/kb/capsule-video").text)
    archived = client.post(
        "/kb/capsule-video/status", data={"status": "archived", "csrf_token": token}
    )
    assert archived.status_code == 303
    assert "Article archivé." in html.text(client.get("/kb/capsule-video"), ".flash")
    assert "Capsule à archiver" not in html.text(client.get("/kb"))
    assert _stored(db, "capsule-video").status is Status.archived


def test_teacher_cannot_write_articles(client: TestClient, db: Session) -> None:
    make_department(db)
    _article(db)
    sign_in(client, make_user(db, Role.teacher))
    assert client.get("/kb/new").status_code == 403
    token = csrf_from(client.get("/kb/capsule-video").text)
    created = client.post(
        "/kb/new",
        data={
            "slug": "pirate",
            "title": "Pirate",
            "kind": "tutorial",
            "audience": "everyone",
            "body": "x",
            "csrf_token": token,
        },
    )
    assert created.status_code == 403
    assert client.get("/kb/capsule-video/edit").status_code == 403
    assert not _exists(db, "pirate")


def test_referent_cannot_edit_another_department_article(client: TestClient, db: Session) -> None:
    make_department(db, "SCI")
    make_department(db, "LET")
    _article(db, department="SCI", title="Labo de sciences à distance")
    sign_in(client, make_user(db, Role.referent, departments=["LET"]))
    # The article is not even visible to a referent of another department, so editing it
    # answers "not found" rather than revealing that it exists.
    assert client.get("/kb/capsule-video/edit").status_code == 404
    token = csrf_from(client.get("/kb").text)
    refused = client.post(
        "/kb/capsule-video/edit",
        data={
            "title": "Détourné",
            "kind": "tutorial",
            "audience": "teacher",
            "body": "x",
            "department": "LET",
            "status": "published",
            "csrf_token": token,
        },
    )
    assert refused.status_code == 404
    assert _stored(db, "capsule-video").title == "Labo de sciences à distance"


def test_referent_creates_article_for_own_department_only(client: TestClient, db: Session) -> None:
    make_department(db, "SCI")
    let = make_department(db, "LET")
    sign_in(client, make_user(db, Role.referent, departments=["LET"]))
    fields = {"kind": "tutorial", "audience": "teacher", "status": "published", "body": "Texte."}
    other = client.post(
        "/kb/new",
        data=_new_article_form(
            client, **fields, slug="labo-sciences", title="Labo", department="SCI"
        ),
    )
    assert other.status_code == 422
    assert "Vous ne servez pas ce département." in html.text(other, "#department-error")
    assert not _exists(db, "labo-sciences")

    own = client.post(
        "/kb/new",
        data=_new_article_form(
            client, **fields, slug="commentaire-texte", title="Commentaire", department="LET"
        ),
    )
    assert own.status_code == 303
    assert _stored(db, "commentaire-texte").department_id == let.id


def test_department_article_is_visible_only_to_its_department(
    client: TestClient, app: FastAPI, db: Session
) -> None:
    make_department(db, "SCI")
    make_department(db, "LET")
    _article(db, department="SCI", title="Labo de sciences à distance")
    sign_in(client, make_user(db, Role.teacher, departments=["SCI"]))
    assert client.get("/kb/capsule-video").status_code == 200
    assert "Labo de sciences à distance" in html.text(client.get("/kb"), ".article-list")
    with TestClient(app, follow_redirects=False) as other:
        sign_in(other, make_user(db, Role.teacher, departments=["LET"]))
        assert other.get("/kb/capsule-video").status_code == 404
        assert "Labo de sciences à distance" not in html.text(other.get("/kb"))


def test_anonymous_reader_sees_public_articles_and_signs_in_for_others(
    client: TestClient, app: FastAPI, db: Session
) -> None:
    make_department(db)
    _article(db, "charte-usage", audience="everyone", title="Charte d'usage")
    _article(db, "moodle-etudiant", audience="student", title="Moodle pour les étudiants")
    _article(db, "capsule-video", audience="teacher", title="Capsule pour enseignants")
    assert client.get("/kb/charte-usage").status_code == 200
    assert client.get("/kb/moodle-etudiant").status_code == 200
    teacher_only = client.get("/kb/capsule-video")
    assert teacher_only.status_code == 303
    assert teacher_only.headers["location"] == "/login?next=/kb/capsule-video"
    listing = client.get("/kb")
    assert "Charte d'usage" in html.text(listing, ".article-list")
    assert "Capsule pour enseignants" not in html.text(listing)
    with TestClient(app, follow_redirects=False) as student:
        sign_in(student, make_user(db, Role.student, departments=["SCI"]))
        assert student.get("/kb/moodle-etudiant").status_code == 200
        assert student.get("/kb/capsule-video").status_code == 404
        # The audience filter offers only what a student may read.
        options = html.select(student.get("/kb"), "select[name=audience] option")
        audiences = {option.get("value") for option in options}
        assert "student" in audiences and "everyone" in audiences
        assert "teacher" not in audiences and "elearning" not in audiences


def test_form_errors_are_shown_in_place_with_input_kept(client: TestClient, db: Session) -> None:
    make_department(db)
    sign_in(client, make_user(db, Role.elearning))
    bad_slug = client.post(
        "/kb/new",
        data=_new_article_form(
            client, slug="Mon Article!", title="Mon titre gardé", body="Du texte gardé."
        ),
    )
    assert bad_slug.status_code == 422
    assert "Corrigez les champs signalés." in html.text(bad_slug, "main [role=alert]")
    assert "Minuscules, chiffres et tirets" in html.text(bad_slug, "#slug-error")
    assert html.one(bad_slug, "input[name=slug]").get("aria-invalid") == "true"
    kept = html.form_values(bad_slug, "form[action='/kb/new']")
    assert kept["title"] == "Mon titre gardé"
    assert kept["body"] == "Du texte gardé."

    no_items = client.post(
        "/kb/new",
        data=_new_article_form(
            client,
            slug="rentree",
            title="Check-list de rentrée",
            kind="checklist",
            body="Pensez à tout vérifier.",
        ),
    )
    assert no_items.status_code == 422
    assert "- [ ]" in html.text(no_items, "#body-error")
    kept = html.form_values(no_items, "form[action='/kb/new']")
    assert kept["kind"] == "checklist"
    assert kept["title"] == "Check-list de rentrée"
    _refresh(db)
    assert db.exec(select(Article)).first() is None


DANGEROUS_BODY = (
    "Bonjour <script>alert('body')</script>\n\n"
    "[Cliquez ici](javascript:alert('link')) [ou là](JaVaScRiPt:alert('case'))\n\n"
    "[encodé](&#106;avascript:alert('entity'))\n\n"
    '<img src="x.png" onerror="alert(\'img\')">\n\n'
    "![photo](javascript:alert('image')) ![pixel](data:image/png;base64,iVBORw0KGgo=)\n\n"
    "**gras** et [lien sûr](https://moodle.example/aide)\n"
)


def _assert_inert(markup: str) -> None:
    """No inline script, event handler, javascript: or data: address in this HTML."""
    soup = html.page(markup)
    assert all(script.get("src") and not script.text for script in soup.find_all("script"))
    for element in soup.find_all(True):
        assert not any(name.lower().startswith("on") for name in element.attrs), element
        for name in ("href", "src"):
            url = str(element.get(name, "")).strip().lower()
            assert not url.startswith(("javascript:", "data:")), element


def _article_body(markup: str) -> str:
    return html.one(markup, "div.article-body").decode_contents()


def test_markdown_is_sanitised_in_the_article(client: TestClient, db: Session) -> None:
    make_department(db)
    _article(db, audience="everyone", body=DANGEROUS_BODY)
    page = client.get("/kb/capsule-video")
    assert page.status_code == 200
    _assert_inert(_article_body(page.text))
    scripts = html.select(page, "script")
    assert all(str(script.get("src", "")).startswith("/static/") for script in scripts)
    # shown as typed, not run
    assert "Bonjour <script>alert('body')</script>" in html.text(page, ".article-body")
    assert "gras" in html.texts(page, ".article-body strong")
    assert "https://moodle.example/aide" in html.links(page, ".article-body a")


def test_preview_renders_the_same_sanitised_html_for_authors(
    client: TestClient, app: FastAPI, db: Session
) -> None:
    make_department(db)
    _article(db, audience="everyone", body=DANGEROUS_BODY)
    sign_in(client, make_user(db, Role.referent, departments=["SCI"]))
    token = csrf_from(client.get("/kb/new").text)
    preview = client.post("/kb/preview", data={"body": DANGEROUS_BODY, "csrf_token": token})
    assert preview.status_code == 200
    _assert_inert(preview.text)
    assert _article_body(preview.text) == _article_body(client.get("/kb/capsule-video").text)
    # The editor's live preview is an htmx request carrying the token in a header.
    live = client.post(
        "/kb/preview",
        data={"body": "## Étape\n\n**gras**"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert live.status_code == 200
    assert html.one(live, "div#preview") and html.select(live, "html") == []
    assert (
        html.text(live, "#preview h2") == "Étape" and html.text(live, "#preview strong") == "gras"
    )

    with TestClient(app, follow_redirects=False) as teacher:
        sign_in(teacher, make_user(db, Role.teacher))
        token = csrf_from(teacher.get("/kb").text)
        refused = teacher.post("/kb/preview", data={"body": "x", "csrf_token": token})
        assert refused.status_code == 403


def test_delete_article_is_for_the_elearning_team_only(
    client: TestClient, app: FastAPI, db: Session
) -> None:
    make_department(db)
    article = _article(db, audience="everyone")
    record_feedback(db, article=article, user=None, helpful=False, comment="Trop court")
    db.commit()
    sign_in(client, make_user(db, Role.referent, departments=["SCI"]))
    token = csrf_from(client.get("/kb/capsule-video").text)
    assert client.post("/kb/capsule-video/delete", data={"csrf_token": token}).status_code == 403
    assert _exists(db, "capsule-video")

    with TestClient(app, follow_redirects=False) as team:
        sign_in(team, make_user(db, Role.elearning))
        token = csrf_from(team.get("/kb/capsule-video/edit").text)
        deleted = team.post("/kb/capsule-video/delete", data={"csrf_token": token})
        assert deleted.status_code == 303 and deleted.headers["location"] == "/kb"
        assert "Article supprimé." in html.text(team.get("/kb"), ".flash")
        assert team.get("/kb/capsule-video").status_code == 404
    _refresh(db)
    assert db.exec(select(Article)).first() is None
    assert db.exec(select(ArticleRevision)).first() is None
    assert db.exec(select(ArticleFeedback)).first() is None
    assert db.exec(select(Department)).first() is not None
