"""The pages as a browser without JavaScript uses them, and the htmx partials."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from hub.models import Role
from hub.questions.models import Question, QuestionAttachment
from kb.articles import ArticleInput, save_article
from tests import html
from tests.factories import csrf_from, sign_in
from tests.questions.conftest import EXE, HTML, PDF, PNG, College, mails


def publish_article(db: Session) -> None:
    save_article(
        db,
        ArticleInput(
            slug="moodle-depot-devoir",
            title="Déposer un devoir sur Moodle",
            kind="tutorial",
            audience="teacher",
            body="Étapes pour déposer un devoir.",
            status="published",
        ),
        actor=None,
    )
    db.commit()


def ask_form(client: TestClient, files: list[tuple[str, bytes, str]] | None = None, **fields: str):  # type: ignore[no-untyped-def]
    page = client.get("/questions/new")
    assert page.status_code == 200
    draft = html.one(page, "#question-draft")["value"]
    assert draft
    data = {
        "csrf_token": csrf_from(page.text),
        "draft": draft,
        "title": "Dépôt de devoir Moodle impossible",
        "body": "Le bouton déposer ne fait rien.",
        **fields,
    }
    upload = [("attachments", (name, content, kind)) for name, content, kind in (files or [])]
    return client.post("/questions/new", data=data, files=upload or None)


def test_teacher_asks_referent_answers_teacher_reads(
    client: TestClient, db: Session, college: College
) -> None:
    publish_article(db)
    sign_in(client, college.teacher)
    # No-JS "search first": the form comes back filled, with the tutorial under it.
    search_first = client.get(
        "/questions/new", params={"title": "depot devoir moodle", "body": "bouton"}
    )
    assert "Déposer un devoir sur Moodle" in html.text(search_first, "#suggestions")
    assert html.one(search_first, "input[name=title]")["value"] == "depot devoir moodle"
    # htmx partial while typing.
    partial = client.get(
        "/questions/suggest",
        params={"title": "devoir moodle", "draft": "d" * 20},
        headers={"HX-Request": "true"},
    )
    assert partial.status_code == 200 and html.select(partial, "html") == []
    assert "Ça a résolu mon problème" in html.text(partial, ".question-suggestions button")

    response = ask_form(client, files=[("capture.png", PNG, "image/png")])
    assert response.status_code == 303
    question = db.exec(select(Question)).one()
    assert response.headers["location"] == f"/questions/{question.id}"
    mine = client.get("/questions")
    assert "Dépôt de devoir Moodle impossible" in html.text(mine, "main tbody")

    referent = TestClient(client.app, follow_redirects=False)
    sign_in(referent, college.referent)
    queue = referent.get("/queues")
    assert f"/questions/{question.id}" in html.links(queue, "#queue-rows a")
    waited = re.search(r"(\d+[.,]\d) h\b", html.text(queue, "#queue-rows tbody"))
    assert waited and "," in waited.group(1)  # a French decimal comma: "0,0 h"
    referent.get("/lang/en")
    waited = re.search(r"(\d+[.,]\d) h\b", html.text(referent.get("/queues"), "#queue-rows tbody"))
    assert waited and "." in waited.group(1)
    referent.get("/lang/fr")
    filtered = referent.get(
        "/queues/SCI",
        params={"priority": "urgent"},
        headers={"HX-Request": "true", "HX-Target": "queue-rows"},
    )
    assert filtered.status_code == 200 and f"/questions/{question.id}" not in html.links(filtered)
    assert html.one(filtered, "#queue-rows") and html.select(filtered, "html") == []
    detail = referent.get(f"/questions/{question.id}")
    token = csrf_from(detail.text)
    note = referent.post(
        f"/questions/{question.id}/answer",
        data={"csrf_token": token, "body": "Secret : serveur en panne", "visibility": "internal"},
    )
    assert note.status_code == 303
    answer = referent.post(
        f"/questions/{question.id}/answer",
        data={"csrf_token": token, "body": "Essayez avec Firefox.", "visibility": "public"},
    )
    assert answer.status_code == 303

    asker_page = client.get(f"/questions/{question.id}")
    seen = html.text(asker_page, "main")
    assert "Essayez avec Firefox." in seen
    assert "Secret" not in asker_page.text  # raw: the internal note is nowhere in the page
    assert "C'est résolu" in seen and "Toujours bloqué" in seen
    token = csrf_from(client.get(f"/questions/{question.id}").text)
    assert (
        client.post(f"/questions/{question.id}/reopen", data={"csrf_token": token}).status_code
        == 303
    )
    db.expire_all()
    assert db.get(Question, question.id).status == "open"  # type: ignore[union-attr]
    assert (
        client.post(f"/questions/{question.id}/resolved", data={"csrf_token": token}).status_code
        == 303
    )
    assert "Résolu" in html.text(client.get("/questions"), "main tbody .question-status")

    # The screenshot: served with its type, nosniff and a disposition, to allowed people only.
    attachment = db.exec(select(QuestionAttachment)).one()
    got = client.get(f"/attachments/{attachment.id}")
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("inline")


def test_refused_attachment_keeps_the_text(
    client: TestClient, db: Session, college: College
) -> None:
    sign_in(client, college.teacher)
    for name, content in (("capture.png", HTML), ("capture.png", EXE), ("doc.pdf", b"")):
        response = ask_form(
            client, files=[(name, content, "image/png")], body="Mon long texte à garder."
        )
        assert response.status_code == 422
        kept = html.form_values(response, "form[method=post][action='/questions/new']")
        assert kept["body"] == "Mon long texte à garder."
        assert kept["title"] == "Dépôt de devoir Moodle impossible"
    assert db.exec(select(Question)).first() is None
    assert ask_form(client, files=[("x.pdf", PDF, "application/pdf")]).status_code == 303
    db.commit()
    attachment = db.exec(select(QuestionAttachment)).one()
    download = client.get(f"/attachments/{attachment.id}")
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["content-type"] == "application/pdf"


def test_solved_by_suggestion_creates_no_question(
    client: TestClient, db: Session, college: College
) -> None:
    publish_article(db)
    sign_in(client, college.teacher)
    page = client.get("/questions/new", params={"title": "depot devoir moodle"})
    draft = html.one(page, "#question-draft")["value"]
    opened = client.get(f"/questions/suggestion/moodle-depot-devoir?draft={draft}")
    assert opened.status_code == 303 and opened.headers["location"].startswith(
        "/kb/moodle-depot-devoir"
    )
    solved = client.post(
        "/questions/solved",
        data={"csrf_token": csrf_from(page.text), "draft": draft, "slug": "moodle-depot-devoir"},
    )
    assert solved.status_code == 303
    db.commit()
    assert db.exec(select(Question)).first() is None
    staff = TestClient(client.app, follow_redirects=False)
    sign_in(staff, college.elearning)
    deflection = html.text(staff.get("/queues/elearning"), "[aria-labelledby=deflection-title]")
    assert "1 résolues par une suggestion" in deflection


def test_staff_tools_on_the_page(client: TestClient, db: Session, college: College) -> None:
    sign_in(client, college.teacher)
    ask_form(client)
    ask_form(client, title="Dépôt Moodle : bouton inactif")
    db.commit()
    first, second = db.exec(select(Question).order_by(Question.id)).all()
    referent = TestClient(client.app, follow_redirects=False)
    sign_in(referent, college.referent)
    page = referent.get(f"/questions/{second.id}")
    assert "Questions semblables" in html.text(page, ".question-tools h3")
    assert f"/questions/{first.id}" in html.links(page, ".question-tools h3 + ul a")
    token = csrf_from(page.text)
    for url, data in (
        ("claim", {}),
        ("tags", {"tags": "moodle, dépôt"}),
        ("priority", {"priority": "high"}),
        ("merge", {"into": str(first.id)}),
    ):
        assert (
            referent.post(
                f"/questions/{second.id}/{url}", data={"csrf_token": token, **data}
            ).status_code
            == 303
        ), url
    missing = referent.post(
        f"/questions/{first.id}/escalate", data={"csrf_token": token, "reason": ""}
    )
    assert missing.status_code == 422
    assert (
        referent.post(
            f"/questions/{first.id}/escalate",
            data={"csrf_token": token, "reason": "Bug plateforme"},
        ).status_code
        == 303
    )
    history = html.text(referent.get(f"/questions/{second.id}"), ".audit-trail")
    for action in ("prise en charge", "mots-clés", "priorité", "fusionnée dans"):
        assert action in history
    assert len(mails(db, "question.escalated.1")) == 1
    # Canned answers, then KB draft from the central queue.
    assert (
        referent.post(
            "/queues/canned",
            data={
                "csrf_token": token,
                "title": "Vider le cache",
                "body": "Videz le cache du navigateur.",
            },
        ).status_code
        == 303
    )
    canned = html.one(referent.get(f"/questions/{first.id}"), ".question-tools a[href*='canned=']")
    prefilled = html.form_values(
        referent.get(str(canned["href"])), f"form[action='/questions/{first.id}/answer']"
    )
    assert "Videz le cache du navigateur." in prefilled["body"]
    team = TestClient(client.app, follow_redirects=False)
    sign_in(team, college.elearning)
    assert f"/questions/{first.id}" in html.links(team.get("/queues/elearning"), "#queue-rows a")
    token = csrf_from(team.get(f"/questions/{first.id}").text)
    team.post(
        f"/questions/{first.id}/answer",
        data={"csrf_token": token, "body": "Corrigé.", "visibility": "public"},
    )
    drafted = team.post(f"/questions/{first.id}/article", data={"csrf_token": token})
    assert drafted.status_code == 303 and drafted.headers["location"].endswith("/edit")
    assert team.get(drafted.headers["location"]).status_code == 200
    assert college.teacher.role is Role.teacher


def test_elearning_team_marks_a_referent_absent_on_the_department_page(
    client: TestClient, db: Session, college: College
) -> None:
    from datetime import date, timedelta

    from hub.questions.queues import responders_by_department

    until = date.today() + timedelta(days=20)
    sign_in(client, college.elearning)
    page = client.get("/departments/SCI")
    url = f"/departments/SCI/referents/{college.referent.id}/absence"
    assert html.one(page, f"form[action='{url}']")
    csrf = csrf_from(page.text)
    error = f"#absence-{college.referent.id}-error"

    refused = client.post(url, data={"csrf_token": csrf, "until": "24/12/2030"})
    assert refused.status_code == 422
    assert "Date invalide (AAAA-MM-JJ)." in html.text(refused, error)
    # what was typed stays in the field
    assert html.form_values(refused, f"form[action='{url}']")["until"] == "24/12/2030"

    done = client.post(url, data={"csrf_token": csrf, "until": until.isoformat()})
    assert done.status_code == 303
    shown = client.get("/departments/SCI")
    assert "Absence enregistrée : les suppléants du département reçoivent ses questions." in (
        html.text(shown, ".flash")
    )
    assert f"Absent jusqu'au {until:%d/%m/%Y}" in html.text(shown, ".referents")
    db.rollback()
    sci = college.teacher.department_id
    responders = responders_by_department(db)
    assert [u.id for u in responders[sci]] == [college.other_referent.id]  # the backup

    back = client.post(url, data={"csrf_token": csrf, "until": until.isoformat(), "back": "1"})
    assert back.status_code == 303
    assert f"Absent jusqu'au {until:%d/%m/%Y}" not in html.text(client.get("/departments/SCI"))
    db.rollback()
    assert [u.id for u in responders_by_department(db)[sci]] == [college.referent.id]

    # Someone who is not a referent of this department: not found.
    stranger = client.post(
        f"/departments/LET/referents/{college.referent.id}/absence",
        data={"csrf_token": csrf, "until": until.isoformat()},
    )
    assert stranger.status_code == 404
    far = client.post(url, data={"csrf_token": csrf, "until": f"{until.year + 2}-01-01"})
    assert far.status_code == 422 and "Date trop loin." in html.text(far, error)


def test_a_referents_absence_is_shown_to_the_department_and_set_by_the_team_only(
    client: TestClient, db: Session, college: College
) -> None:
    from datetime import date, timedelta

    until = date.today() + timedelta(days=3)
    sign_in(client, college.referent)
    page = client.get("/queues")
    data = {"csrf_token": csrf_from(page.text), "until": until.isoformat()}
    assert client.post("/queues/absence", data=data).status_code == 303
    teacher = TestClient(client.app, follow_redirects=False)
    sign_in(teacher, college.teacher)
    department = teacher.get("/departments/SCI")
    assert f"Absent jusqu'au {until:%d/%m/%Y}" in html.text(department, ".referents")
    assert html.select(department, "form[action*='/absence']") == []  # no form for teachers
    forbidden = teacher.post(
        f"/departments/SCI/referents/{college.referent.id}/absence",
        data={"csrf_token": csrf_from(department.text), "back": "1"},
    )
    assert forbidden.status_code == 403


def test_refused_tags_and_merges_come_back_on_the_question_page(
    client: TestClient, db: Session, college: College
) -> None:
    sign_in(client, college.teacher)
    ask_form(client)
    db.commit()
    question = db.exec(select(Question)).one()
    referent = TestClient(client.app, follow_redirects=False)
    sign_in(referent, college.referent)
    token = csrf_from(referent.get(f"/questions/{question.id}").text)

    cases = [
        ("merge", {"into": "abc"}, "Indiquez le numéro de la question principale."),
        ("merge", {"into": str(question.id)}, "Choisissez une autre question."),
        (
            "merge",
            {"into": "99999"},
            "La question n° 99999 n'existe pas ou n'est pas de vos départements.",
        ),
        (
            "tags",
            {"tags": "moodle, <script>x</script>"},
            "10 mots-clés au plus, lettres et chiffres, 40 caractères chacun.",
        ),
    ]
    for tool, data, message in cases:
        refused = referent.post(
            f"/questions/{question.id}/{tool}", data={"csrf_token": token, **data}
        )
        assert refused.status_code == 422, (tool, data)
        [(field, typed)] = data.items()
        # the question page, with why
        assert question.title in html.text(refused, "h1")
        assert message in html.text(refused, f"#{field}-error")
        box = html.one(refused, f"input[name={field}]")
        assert box["value"] == typed  # what was typed is still there
        assert box["aria-invalid"] == "true"
