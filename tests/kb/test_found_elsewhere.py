"""A search whose answer is not an article the reader can open: a course code typed in the
header search leads to its exam; an anonymous search matching only staff articles says so
and invites to sign in. Neither is a content gap."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from hub.models import Role, id_of
from kb.articles import ArticleInput, save_article
from kb.feedback import content_gaps
from kb.models import SearchLog
from tests import html
from tests.exam_csv import from_now, load, row
from tests.factories import make_department, make_user, sign_in


def _flush_search_logs(client: TestClient) -> None:
    client.app.state.search_logs.flush()  # type: ignore[attr-defined]


def test_a_course_code_in_the_header_search_offers_its_exam_first(
    client: TestClient, db: Session
) -> None:
    make_department(db, "SCI", "Sciences")
    load(db, [row("MATH101", "Mathématiques générales", starts_at=from_now(hours=2))])
    db.commit()
    from hub.models import ExamSession

    exam_id = id_of(db.exec(select(ExamSession)).one())
    db.commit()

    for typed in ("math101", "MATH 101", "math-101"):
        suggestions = client.get("/kb/suggest", params={"q": typed}, headers={"HX-Request": "true"})
        assert html.links(suggestions)[0] == f"/exams/{exam_id}", typed
        assert "Mathématiques générales" in html.text(suggestions, "li.suggestion-exam")

    page = client.get("/kb", params={"q": "math101"})
    assert html.links(page, "section.exam-hits a") == [f"/exams/{exam_id}"]
    # Words are not course codes: no exam offered for an ordinary search.
    assert html.select(client.get("/kb", params={"q": "mathématiques"}), "section.exam-hits") == []

    # Signed in, the same (the route answers: a course code's list is not remembered).
    sign_in(client, make_user(db, Role.student, departments=["SCI"]))
    for _ in range(2):
        again = client.get("/kb/suggest", params={"q": "math101"}, headers={"HX-Request": "true"})
        assert html.links(again)[0] == f"/exams/{exam_id}"

    _flush_search_logs(client)
    team = make_user(db, Role.elearning)
    gaps, _ = content_gaps(db, actor=team)
    assert "math101" not in {gap.query for gap in gaps}


def test_an_anonymous_search_matching_only_staff_articles_invites_to_sign_in(
    client: TestClient, db: Session
) -> None:
    make_department(db, "SCI", "Sciences")
    save_article(
        db,
        ArticleInput(
            slug="bareme-correction",
            title="Barème de correction partagé",
            kind="guide",
            audience="teacher",
            body="Le barème commun des correcteurs.",
            status="published",
        ),
        actor=None,
    )
    db.commit()

    page = client.get("/kb", params={"q": "barème correcteurs"})
    assert "1 article réservé au personnel" in html.text(page, "#kb-results")
    [sign_in_link] = html.links(page, "#kb-results a")
    assert sign_in_link.startswith("/login?next=")
    suggestions = client.get("/kb/suggest", params={"q": "barème"}, headers={"HX-Request": "true"})
    assert "personnel" in html.text(suggestions)

    # Nothing at all: the usual message, no invitation.
    nothing = client.get("/kb", params={"q": "hippopotame"})
    assert html.links(nothing, "#kb-results a") == []

    _flush_search_logs(client)
    team = make_user(db, Role.elearning)
    gaps = {gap.query for gap in content_gaps(db, actor=team)[0]}
    assert "hippopotame" in gaps and "bareme correcteurs" not in gaps
    logged = db.exec(select(SearchLog).order_by(col(SearchLog.id))).all()
    assert [(log.result_count, log.found_elsewhere) for log in logged][0] == (0, 1)

    teacher = make_user(db, Role.teacher)
    sign_in(client, teacher)
    signed_in = client.get("/kb", params={"q": "barème correcteurs"})
    assert html.links(signed_in, "ol.results a")[0].startswith("/kb/bareme-correction")
