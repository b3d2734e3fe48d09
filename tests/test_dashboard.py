"""Dashboard numbers computed from known fixtures on both databases, charts, CSV exports,
and visits counted without personal trails."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hub.business_hours import local_day
from hub.models import Role
from hub.questions.sla import profile
from hub.reporting import dashboard
from hub.reporting.visits import VisitCounter, VisitRecorder, add_views
from hub.settings import Settings
from kb.articles import ArticleInput, save_article
from kb.feedback import normalize_query
from kb.models import ArticleFeedback, SearchLog
from tests import html
from tests.factories import make_department, make_user, sign_in

DAY = date(2026, 3, 10)


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_visits_are_counted_by_role_and_area_without_trails(
    db: Session, client: TestClient
) -> None:
    make_department(db)
    teacher = make_user(db, Role.teacher)
    for path in ("/", "/kb", "/kb", "/exams", "/start"):
        assert client.get(path).status_code == 200
    client.get("/kb", headers={"HX-Request": "true"})  # a partial is not a page view
    client.get("/api/exams")  # neither is the API
    client.get("/page-qui-n-existe-pas")  # nor an error
    sign_in(client, teacher)
    client.get("/kb")
    client.app.state.visits.flush()  # type: ignore[attr-defined]
    rows = db.exec(select(VisitCounter)).all()
    counts = {(r.role, r.area): r.views for r in rows}
    today = local_day()
    assert {r.day for r in rows} == {today}
    # login page (anonymous, "account") and the redirect after sign-in count as they are
    assert counts[("anonymous", "home")] == 2  # "/" and "/start"
    assert counts[("anonymous", "kb")] == 2
    assert counts[("anonymous", "exams")] == 1
    assert counts[("teacher", "kb")] == 1
    assert "user_id" not in VisitCounter.model_fields  # nothing identifies a person


def test_counters_from_several_processes_add_up(engine: Engine, db: Session) -> None:
    first, second = VisitRecorder(engine), VisitRecorder(engine)
    for _ in range(3):
        first.count("student", "/exams/42", DAY)
    second.count("student", "/exams", DAY)
    second.count("teacher", "/kb/x", DAY)
    assert first.flush() == 3 and second.flush() == 2
    add_views(engine, Counter({(DAY, "student", "exams"): 10}))
    rows = {(r.role, r.area): r.views for r in db.exec(select(VisitCounter)).all()}
    assert rows == {("student", "exams"): 14, ("teacher", "kb"): 1}


def fixtures(db: Session) -> None:
    """Known data over three days: visits, searches, feedback."""
    make_department(db, "SCI")
    make_department(db, "LET")
    team = make_user(db, Role.elearning)
    article, _ = save_article(
        db,
        ArticleInput(
            slug="capsule-video",
            title="Enregistrer une capsule",
            kind="tutorial",
            audience="teacher",
            body="Texte",
            status="published",
        ),
        actor=team,
    )
    db.commit()
    add_views(
        db.get_bind(),  # type: ignore[arg-type]
        Counter(
            {
                (DAY, "student", "exams"): 120,
                (DAY, "teacher", "kb"): 30,
                (DAY + timedelta(days=1), "student", "exams"): 80,
                (DAY + timedelta(days=5), "teacher", "kb"): 999,  # outside the period
            }
        ),
    )
    logs = [
        ("capsule vidéo", 3, "capsule-video", DAY),
        ("capsule video", 3, None, DAY),
        ("Capsule vidéo", 3, None, DAY + timedelta(days=1)),
        ("wooclap", 0, None, DAY),
        ("wooclap", 0, None, DAY + timedelta(days=2)),
        ("=cmd|' /C calc'!A0", 0, None, DAY),
        ("ancienne", 0, None, DAY - timedelta(days=1)),  # before the period
    ]
    for query, count, clicked, day in logs:
        db.add(
            SearchLog(
                query=query,
                normalized=normalize_query(query),
                result_count=count,
                role="teacher",
                clicked_slug=clicked,
                created_at=at(day),
            )
        )
    for helpful in (False, False, True):
        db.add(ArticleFeedback(article_id=article.id, helpful=helpful, created_at=at(DAY)))
    db.commit()


def test_numbers_from_known_fixtures(db: Session, settings: Settings) -> None:
    fixtures(db)
    period = dashboard.Period(DAY, DAY + timedelta(days=2), sla=profile(db, settings))
    visits = dashboard.visits_per_day(db, period)
    assert visits.columns == [
        "date",
        "anonymous",
        "student",
        "teacher",
        "referent",
        "elearning",
        "total",
    ]
    assert visits.rows == [
        ["2026-03-10", 0, 120, 30, 0, 0, 150],
        ["2026-03-11", 0, 80, 0, 0, 0, 80],
        ["2026-03-12", 0, 0, 0, 0, 0, 0],
    ]
    assert dashboard.visits_per_area(db, period).rows == [["exams", 200], ["kb", 30]]
    searches = dashboard.top_searches(db, period)
    assert searches.rows[0] == ["capsule video", 3, 0, 1]
    assert ["wooclap", 2, 2, 0] in searches.rows
    assert dashboard.zero_result_searches(db, period).rows[0] == ["wooclap", 2]
    assert dashboard.unhelpful_articles(db, period).rows == [
        ["capsule-video", "Enregistrer une capsule", 2, 1]
    ]


def test_dashboard_page_and_csv_exports(db: Session, client: TestClient) -> None:
    fixtures(db)
    team = make_user(db, Role.elearning)
    sign_in(client, team)
    page = client.get("/dashboard?start=2026-03-10&end=2026-03-12")
    assert page.status_code == 200
    assert len(html.select(page, "svg.chart")) >= 4  # charts drawn on the server
    assert "Pages vues par jour et par rôle" in html.texts(page, "section h2")
    assert "150" in html.texts(page, "section table td")  # the numbers are there as a table too

    export = client.get("/dashboard/visits.csv?start=2026-03-10&end=2026-03-12")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert 'filename="visits_2026-03-10_2026-03-12.csv"' in export.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][0] == "date" and rows[1] == ["2026-03-10", "0", "120", "30", "0", "0", "150"]

    zero = client.get("/dashboard/no-result.csv?start=2026-03-10&end=2026-03-12")
    cells = [row[0] for row in csv.reader(io.StringIO(zero.content.decode("utf-8-sig")))]
    formula = normalize_query("=cmd|' /C calc'!A0")
    assert formula.startswith("=") and "'" + formula in cells  # neutralised for spreadsheets

    assert client.get("/dashboard/nope.csv").status_code == 404
    bad = client.get("/dashboard?start=2026-03-12&end=2026-03-10")
    assert bad.status_code == 422 and "le début doit précéder la fin" in html.text(
        bad, "#start-error"
    )


def test_columns_are_named_for_people_and_kept_technical_in_csv(
    db: Session, client: TestClient, settings: Settings
) -> None:
    from hub.reporting.dashboard import COLUMN_LABELS, METRICS, Period

    fixtures(db)
    team = make_user(db, Role.elearning)
    day = date(2026, 3, 10)
    for key, metric in METRICS.items():
        table = metric(db, Period(day, day, None, sla=profile(db, settings)))
        assert set(table.columns) <= set(COLUMN_LABELS), f"{key}: a column without a label"
    sign_in(client, team)
    french = html.text(client.get("/dashboard?start=2026-03-10&end=2026-03-12"), "main")
    assert "Pages vues" in french and "Taux évité (%)" in french
    assert "deflection_percent" not in french and "not_helpful" not in french
    client.get("/lang/en")
    english_page = client.get("/dashboard?start=2026-03-10&end=2026-03-12")
    english = html.text(english_page, "main")
    assert "Deflection rate (%)" in english and "Teachers" in english
    summaries = html.text(english_page, "svg.chart desc")  # the charts' summaries
    assert "230 page views from 2026-03-10 to 2026-03-12" in summaries
    export = client.get("/dashboard/deflection.csv?start=2026-03-10&end=2026-03-12")
    assert export.content.decode("utf-8-sig").startswith("solved_by_suggestion,")


def test_department_filter(db: Session, client: TestClient) -> None:
    fixtures(db)
    team = make_user(db, Role.elearning)
    sign_in(client, team)
    page = client.get("/dashboard?start=2026-03-10&end=2026-03-12&department=LET")
    assert page.status_code == 200
    assert "Département LET" in html.text(page, "main form + p")
    unknown = client.get("/dashboard?department=XYZ")
    assert unknown.status_code == 422
    assert "département inconnu" in html.text(unknown, "#department-error")


def test_dashboard_is_for_the_elearning_team(db: Session, client: TestClient) -> None:
    make_department(db)
    sign_in(client, make_user(db, Role.referent))
    assert client.get("/dashboard").status_code == 403
    assert client.get("/dashboard/visits.csv").status_code == 403


def test_question_and_webinar_numbers(db: Session, settings: Settings) -> None:
    from hub.questions.models import Escalation, Question, QuestionSuggestion
    from webinars.models import WebinarRegistration, WebinarSession

    sci = make_department(db, "SCI")
    let = make_department(db, "LET")
    people = [make_user(db, Role.teacher, departments=["SCI"]) for _ in range(3)]
    article, _ = save_article(
        db,
        ArticleInput(
            slug="quiz",
            title="Quiz",
            kind="tutorial",
            audience="teacher",
            body="Texte",
            status="published",
        ),
        actor=make_user(db, Role.elearning),
    )
    monday = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # 10:00 in Brussels, business hours

    def question(department: object, created: datetime, **values: object) -> Question:
        item = Question(
            department_id=department.id,  # type: ignore[attr-defined]
            asker_name="Prof",
            asker_email="prof@college.example",
            title="Question",
            body="Détails",
            created_at=created,
            clock_started_at=created,
            last_activity_at=created,
            **values,
        )
        db.add(item)
        db.flush()
        return item

    question(sci, monday, status="answered", first_response_at=monday + timedelta(hours=2))
    question(sci, monday, status="answered", first_response_at=monday + timedelta(hours=30))
    escalated = question(sci, monday, status="open", priority="urgent", level=1)
    question(let, monday + timedelta(days=1), status="open", source="exam")
    db.add(
        Escalation(
            question_id=escalated.id,
            level=1,
            reason="délai",
            automatic=True,
            created_at=monday + timedelta(hours=9),
        )
    )
    for key in ("a", "b"):
        db.add(
            QuestionSuggestion(
                draft_key=key,
                article_id=article.id,
                department_id=sci.id,
                shown_at=monday,
                solved_at=monday,
            )
        )  # type: ignore[arg-type]
    webinar = WebinarSession(
        uid="w1@hub",
        title="Moodle : quiz",
        starts_at=monday,
        duration_minutes=60,
        capacity=2,
        registered_count=2,
    )
    db.add(webinar)
    db.flush()
    for person, status, attended in zip(
        people, ("registered", "registered", "waitlisted"), (True, False, None), strict=True
    ):
        db.add(
            WebinarRegistration(
                session_id=webinar.id, user_id=person.id, status=status, attended=attended
            )
        )
    db.commit()

    period = dashboard.Period(date(2026, 3, 9), date(2026, 3, 10), sla=profile(db, settings))
    opened = dashboard.open_questions(db, period)
    assert [row[:4] for row in opened.rows] == [["LET", 1, 0, 0], ["SCI", 1, 1, 1]] or [
        row[:4] for row in opened.rows
    ] == [["SCI", 1, 1, 1], ["LET", 1, 0, 0]]
    first = {row[0]: row for row in dashboard.first_responses(db, period).rows}
    # SCI: 3 asked, 2 answered: 2 business hours, and 30 h later = Tuesday 16:00, i.e.
    # 7.5 h on Monday (10:00-17:30) + 7.5 h on Tuesday (08:30-16:00) = 15 h.
    assert first["SCI"][:3] == ["SCI", 3, 2]
    assert first["SCI"][3] == 15.0 and first["SCI"][4] == 1  # median, within the 8 h target
    escalations = dashboard.escalations_per_day(db, period)
    assert escalations.rows == [["2026-03-09", 0, 1], ["2026-03-10", 0, 0]]
    assert dashboard.deflection(db, period).rows == [[2, 3, 40.0]]  # exam reports excluded
    assert dashboard.webinar_attendance(db, period).rows == [
        ["2026-03-09 10:00", "Moodle : quiz", "scheduled", 2, 2, 1, 1]
    ]
    only_let = dashboard.Period(date(2026, 3, 9), date(2026, 3, 10), let, sla=profile(db, settings))
    assert [row[0] for row in dashboard.open_questions(db, only_let).rows] == ["LET"]
    assert dashboard.deflection(db, only_let).rows == [[0, 0, 0.0]]
