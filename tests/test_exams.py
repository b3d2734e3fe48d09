"""Public exam pages (no sign-in, cheap to serve), typo-tolerant search, moving and
cancelling, the problem form and the referents' queue, the JSON API, posters and short
links."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hub.errors import InvalidInput, PermissionDenied
from hub.exams.importer import LOCAL_TIME
from hub.exams.timetable import (
    ExamView,
    change_status,
    forget_cache,
    fresh_version,
    get_exam,
    timetable,
)
from hub.models import ExamProblem, ExamSession, ExamStatus, Role, User, id_of
from kb.articles import save_article
from kb.importer import parse_file
from tests import html
from tests.exam_csv import from_now, load, row
from tests.factories import csrf_from, make_department, make_user, sign_in

CONTENT = Path(__file__).resolve().parents[1] / "kb" / "content"
ACCESS_ARTICLE = "examen-acces-etudiant"


@dataclass
class Timetable:
    math: int  # MATH101, today, started a moment ago (SCI)
    stat: int  # STAT210, in 2 days 3 hours, Teams, instructions article (SCI)
    phys: int  # PHYS110, tomorrow (SCI)
    hist: int  # HIST200, in 5 days (LET)


@pytest.fixture
def exams(db: Session) -> Timetable:
    make_department(db, "SCI", "Sciences")
    make_department(db, "LET", "Lettres")
    save_article(db, parse_file(CONTENT / f"{ACCESS_ARTICLE}.md"), actor=None)
    db.commit()
    load(
        db,
        [
            row("MATH101", "Mathématiques générales", starts_at=from_now()),
            row(
                "STAT210",
                "Statistiques appliquées",
                starts_at=from_now(days=2, hours=3, minutes=30),
                platform="teams",
                url="https://teams.college.example/l/meetup-join/stat210",
                slug=ACCESS_ARTICLE,
                email="stat@college.example",
            ),
            row("PHYS110", "Physique", starts_at=from_now(days=1)),
            row("HIST200", "Histoire contemporaine", department="LET", starts_at=from_now(days=5)),
        ],
    )
    ids = {e.course_code: id_of(e) for e in db.exec(select(ExamSession)).all()}
    db.commit()  # ends the read transaction (on SQLite, a snapshot hiding the app's writes)
    return Timetable(ids["MATH101"], ids["STAT210"], ids["PHYS110"], ids["HIST200"])


def _exam(db: Session, exam_id: int) -> ExamView:
    """The exam as the database holds it now (not as this session or the cache last saw)."""
    db.rollback()
    forget_cache()
    return get_exam(db, exam_id)


def _codes(page: html.Source) -> list[str]:
    """Course codes of the exam list, in page order."""
    return html.texts(page, "li.exam-item > a > strong")


def _anonymous(client: TestClient) -> TestClient:
    return TestClient(client.app, follow_redirects=False)


def _change(client: TestClient, exam_id: int, **form: str) -> Response:
    token = csrf_from(client.get(f"/exams/{exam_id}").text)
    return client.post(f"/exams/{exam_id}/status", data={**form, "csrf_token": token})


# --- the list and the search --------------------------------------------------------------


def test_exams_page_lists_today_and_tomorrow_without_sign_in(
    client: TestClient, exams: Timetable
) -> None:
    response = client.get("/exams")

    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    sections = {
        html.text(s, "h2"): _codes(s) for s in html.select(response, "#exam-results section")
    }
    assert sections == {"Aujourd'hui": ["MATH101"], "Demain": ["PHYS110"]}


SEARCHES = [
    ("MATH101", "MATH101"),
    ("math 101", "MATH101"),
    ("  Math-101 ", "MATH101"),
    ("mat101", "MATH101"),  # one letter missing
    ("MATH1O1", "MATH101"),  # the letter O for a zero
    ("stat", "STAT210"),  # a prefix
    ("statistiques", "STAT210"),
    ("statistque", "STAT210"),  # a typo in the course name
    ("mathematiqes generales", "MATH101"),  # accents forgotten and a typo
    ("histoire contemporaine", "HIST200"),
]


def test_search_by_code_or_name_forgives_spaces_case_and_typos(
    client: TestClient, exams: Timetable
) -> None:
    for query, expected in SEARCHES:
        response = client.get("/exams", params={"q": query})
        assert response.status_code == 200
        codes = _codes(response)
        assert codes[:1] == [expected], (query, codes)

    nothing = html.text(client.get("/exams", params={"q": "ZZZ999"}), "#exam-results")
    assert "Aucun examen ne correspond à « ZZZ999 »" in nothing


# --- the exam page ------------------------------------------------------------------------


def test_exam_page_shows_access_contact_countdown_and_instructions(
    client: TestClient, exams: Timetable
) -> None:
    response = client.get(f"/exams/{exams.stat}")

    assert response.status_code == 200
    access = html.one(response, "a.access-button")
    assert access["href"] == "https://teams.college.example/l/meetup-join/stat210"
    assert access.get_text() == "Accéder à l'examen (Teams)"
    assert "mailto:stat@college.example" in html.links(response, ".exam-card a")
    countdown = html.text(response, ".countdown")
    assert re.fullmatch(r"Commence dans 2 j [23] h", countdown), countdown
    assert "Consignes" in html.texts(response, "main h2")
    # from the starter-pack article
    assert "Où trouver le lien de l'examen" in html.text(response, ".article-body")
    assert not html.select(response, ".banner")

    running_page = client.get(f"/exams/{exams.math}")
    assert "L'examen est en cours." in html.text(running_page, ".countdown")
    running = html.text(running_page)
    assert "Commence dans" not in running and "Consignes" not in running


def test_times_are_shown_in_brussels_time_summer_and_winter(
    client: TestClient, db: Session
) -> None:
    make_department(db, "SCI")
    load(
        db,
        [
            row("SUMMER1", starts_at="2026-06-15 09:00"),
            row("WINTER1", starts_at="2026-12-15 09:00"),
        ],
    )
    ids = {e.course_code: e.id for e in db.exec(select(ExamSession)).all()}

    summer = html.text(client.get(f"/exams/{ids['SUMMER1']}"), ".exam-when")
    winter = html.text(client.get(f"/exams/{ids['WINTER1']}"), ".exam-when")

    assert "15/06/2026 · 09:00 – 11:00 (120 min, heure de Bruxelles)" in summer
    assert "15/12/2026 · 09:00 – 11:00 (120 min, heure de Bruxelles)" in winter
    api = client.get("/api/exams", params={"q": "summer1"}).json()
    assert api[0]["starts_at"] == "2026-06-15T09:00:00+02:00"
    assert client.get(f"/api/exams/{ids['WINTER1']}").json()["starts_at"] == (
        "2026-12-15T09:00:00+01:00"
    )


# --- moving and cancelling ----------------------------------------------------------------


def test_moved_exam_shows_banner_with_previous_date_and_note_at_once(
    client: TestClient, db: Session, exams: Timetable
) -> None:
    student = _anonymous(client)
    before = student.get(f"/exams/{exams.stat}")  # the timetable is cached now
    old_local = _exam(db, exams.stat).local_start
    old_start = old_local.strftime("%d/%m/%Y %H:%M")
    sign_in(client, make_user(db, Role.elearning))

    response = _change(
        client,
        exams.stat,
        status="moved",
        new_start="2031-01-20 14:00",
        note="Panne de la plateforme : examen reporté.",
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/exams/{exams.stat}"
    assert "Examen mis à jour" in html.text(client.get(f"/exams/{exams.stat}"), ".flash")
    after = student.get(f"/exams/{exams.stat}", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert html.text(after, ".banner-moved") == (
        f"Examen déplacé (prévu d'abord le {old_start}). Panne de la plateforme : examen reporté."
    )
    assert "20/01/2031 · 14:00 – 16:00" in html.text(after, ".exam-when")
    assert "Accéder à l'examen" in html.text(after, "a.access-button")
    api = student.get(f"/api/exams/{exams.stat}").json()
    assert api["status"] == "moved" and api["status_note"].startswith("Panne")
    assert api["starts_at"] == "2031-01-20T14:00:00+01:00"
    assert api["previous_starts_at"] == old_local.isoformat()  # Brussels time, as starts_at


def test_cancelled_exam_shows_banner_and_no_access_button_until_restored(
    client: TestClient, db: Session, exams: Timetable
) -> None:
    sign_in(client, make_user(db, Role.elearning))
    response = _change(client, exams.math, status="cancelled", note="Remplacé par un travail.")
    assert response.status_code == 303

    page = _anonymous(client).get(f"/exams/{exams.math}")
    assert "Examen annulé. Remplacé par un travail." in html.text(page, ".banner-cancelled")
    assert "Accéder à l'examen" not in html.text(page)
    assert "moodle.college.example/mod/quiz" not in page.text  # raw: the link is nowhere
    listing = _anonymous(client).get("/exams", params={"q": "MATH101"})
    first = html.texts(listing, "li.exam-item")[0]
    assert "MATH101 · Mathématiques générales" in first and "annulé" in first

    assert _change(client, exams.math, status="scheduled", note="").status_code == 303
    restored = _anonymous(client).get(f"/exams/{exams.math}")
    assert "Examen annulé." not in html.text(restored)
    assert "Accéder à l'examen" in html.text(restored, "a.access-button")


def test_only_the_elearning_team_moves_or_cancels(
    client: TestClient, db: Session, exams: Timetable
) -> None:
    teacher = make_user(db, Role.teacher)
    referent = make_user(db, Role.referent, departments=["SCI"])
    for actor in (teacher, referent):
        with pytest.raises(PermissionDenied):
            change_status(
                db, exam_id=exams.math, status=ExamStatus.cancelled, note="Non.", actor=actor
            )
    db.rollback()

    sign_in(client, referent)
    token = csrf_from(client.get("/account").text)
    refused = client.post(
        f"/exams/{exams.math}/status",
        data={"status": "cancelled", "note": "Non.", "csrf_token": token},
    )
    assert refused.status_code == 403
    assert _exam(db, exams.math).status == "scheduled"


def test_a_change_needs_a_note_and_a_move_a_valid_new_date(db: Session, exams: Timetable) -> None:
    actor = make_user(db, Role.elearning)
    current = _exam(db, exams.stat).local_start.strftime("%Y-%m-%d %H:%M")
    cases = [
        (ExamStatus.cancelled, "", "  ", "note"),
        (ExamStatus.moved, "2031-01-20 14:00", "", "note"),
        (ExamStatus.moved, "", "Reporté.", "new_start"),
        (ExamStatus.moved, "20/01/2031 14h", "Reporté.", "new_start"),
        (ExamStatus.moved, "2027-03-28 02:30", "Reporté.", "new_start"),  # spring forward
        (ExamStatus.moved, current, "Reporté.", "new_start"),  # the same date
        (ExamStatus.cancelled, "", "x" * 501, "note"),
    ]
    for status, new_start, note, field in cases:
        with pytest.raises(InvalidInput) as raised:
            change_status(
                db, exam_id=exams.stat, status=status, note=note, actor=actor, new_start=new_start
            )
        assert field in raised.value.fields, (status, new_start, note)
        db.rollback()
    exam = db.get(ExamSession, exams.stat)
    assert exam is not None and exam.status is ExamStatus.scheduled
    assert exam.previous_starts_at is None and exam.status_note == ""


def test_moving_onto_another_sitting_of_the_course_is_refused(db: Session) -> None:
    make_department(db, "SCI")
    load(
        db,
        [
            row("MATH101", starts_at="2031-01-20 09:00"),
            row("MATH101", starts_at="2031-01-21 09:00"),
        ],
    )
    first, _second = db.exec(select(ExamSession).order_by(col(ExamSession.starts_at))).all()
    db.commit()
    actor = make_user(db, Role.elearning)

    with pytest.raises(InvalidInput) as raised:
        change_status(
            db,
            exam_id=id_of(first),
            status=ExamStatus.moved,
            note="Reporté d'un jour.",
            actor=actor,
            new_start="2031-01-21 09:00",
        )

    assert "new_start" in raised.value.fields
    db.rollback()
    assert len(db.exec(select(ExamSession)).all()) == 2


def test_invalid_change_through_the_page_is_a_clear_error(
    client: TestClient, db: Session, exams: Timetable
) -> None:
    sign_in(client, make_user(db, Role.elearning))
    response = _change(client, exams.math, status="cancelled", note="")
    assert response.status_code == 422
    assert "Expliquez le changement aux étudiants." in html.text(response, "main")
    assert _change(client, exams.math, status="postponed", note="x").status_code == 422
    assert _exam(db, exams.math).status == "scheduled"


# --- "I have a problem during my exam" ----------------------------------------------------


def _report(client: TestClient, exam_id: int, **fields: str) -> Response:
    form = client.get(f"/exams/{exam_id}/problem")
    assert form.status_code == 200
    data = {
        "name": "Léa Martin",
        "email": "Lea.Martin@etu.college.example",
        "student_number": "20231234",
        "message": "Moodle affiche « accès refusé » depuis 9 h 05.",
        **fields,
    }
    return client.post(
        f"/exams/{exam_id}/problem", data={**data, "csrf_token": csrf_from(form.text)}
    )


def _problems(db: Session) -> list[ExamProblem]:
    db.rollback()  # a new transaction, which sees what the app committed
    problems = list(db.exec(select(ExamProblem)).all())
    db.rollback()
    return problems


def test_anonymous_student_reports_a_problem(
    client: TestClient, db: Session, exams: Timetable
) -> None:
    response = _report(client, exams.math)

    assert response.status_code == 200
    assert "Signalement enregistré" in html.text(response, "[role=status].sent h2")
    [problem] = _problems(db)
    assert problem.exam_id == exams.math
    assert (problem.name, problem.email, problem.student_number) == (
        "Léa Martin",
        "lea.martin@etu.college.example",
        "20231234",
    )
    assert problem.message == "Moodle affiche « accès refusé » depuis 9 h 05."
    assert problem.handled_at is None


def test_problem_form_shows_errors_in_place(
    client: TestClient, db: Session, exams: Timetable
) -> None:
    response = _report(client, exams.math, name=" ", email="lea.martin", message="")

    assert response.status_code == 422
    kept = html.form_values(response, f"form[action='/exams/{exams.math}/problem']")
    assert "message" in kept  # the form is there again
    assert kept["email"] == "lea.martin"
    assert kept["student_number"] == "20231234"
    for field, message in (
        ("name", "Votre nom est obligatoire."),
        ("email", "Adresse e-mail invalide."),
        ("message", "Décrivez le problème (2000 caractères au plus)."),
    ):
        assert message in html.text(response, f"#{field}-error")
    assert "Signalement enregistré" not in html.text(response)
    assert _problems(db) == []


def test_fourth_report_within_ten_minutes_is_refused(
    client: TestClient, db: Session, exams: Timetable
) -> None:
    for _ in range(3):
        assert _report(client, exams.math).status_code == 200

    fourth = _report(client, exams.stat, email="LEA.MARTIN@etu.college.example")

    assert fourth.status_code == 429
    assert fourth.headers["retry-after"] == "600"
    assert "attendez quelques minutes" in html.text(fourth, "main")
    assert len(_problems(db)) == 3
    other = _report(client, exams.math, email="sam@etu.college.example")
    assert other.status_code == 200  # the limit is per student, not per classroom
    assert len(_problems(db)) == 4


def _queue(client: TestClient, user: User) -> Response:
    sign_in(client, user)
    return client.get("/exams/problems")


def test_report_reaches_the_referents_of_the_exams_department_only(
    client: TestClient, db: Session, exams: Timetable
) -> None:
    _report(_anonymous(client), exams.math, message="Écran noir après la question 3.")
    _report(_anonymous(client), exams.hist, message="Teams ne démarre pas.", email="x@y.example")

    science_page = _queue(client, make_user(db, Role.referent, departments=["SCI"]))
    science = html.text(science_page, "main tbody")
    assert "MATH101" in science and "Écran noir après la question 3." in science
    assert "lea.martin@etu.college.example" in science
    assert "Teams ne démarre pas." not in html.text(science_page)
    received = next(p for p in _problems(db) if p.exam_id == exams.math).created_at
    assert received.astimezone(LOCAL_TIME).strftime("%d/%m %H:%M") in science  # Brussels time

    letters = _queue(_anonymous(client), make_user(db, Role.referent, departments=["LET"]))
    assert "Teams ne démarre pas." in html.text(letters, "main tbody")
    assert "Écran noir" not in html.text(letters)

    elearning = html.text(_queue(_anonymous(client), make_user(db, Role.elearning)), "main tbody")
    assert "Écran noir" in elearning and "Teams ne démarre pas." in elearning

    make_department(db, "ART")
    other = _queue(_anonymous(client), make_user(db, Role.referent, departments=["ART"]))
    assert "Aucun problème en attente." in html.text(other, "main")

    assert _queue(_anonymous(client), make_user(db, Role.teacher)).status_code == 403
    anonymous = _anonymous(client).get("/exams/problems")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_a_referent_marks_a_report_handled_and_it_leaves_the_list(
    client: TestClient, db: Session, exams: Timetable
) -> None:
    _report(_anonymous(client), exams.math, message="Écran noir après la question 3.")
    _report(_anonymous(client), exams.hist, message="Teams ne démarre pas.", email="x@y.example")
    math, hist = (
        next(p for p in _problems(db) if p.exam_id == e) for e in (exams.math, exams.hist)
    )
    referent = make_user(db, Role.referent, departments=["SCI"])
    page = _queue(client, referent)
    assert html.one(page, f"form[action='/exams/problems/{math.id}/handled']")
    # the urgent question it opened, one click away
    assert any(link.startswith("/questions/") for link in html.links(page, "main tbody a"))

    other = client.post(
        f"/exams/problems/{hist.id}/handled", data={"csrf_token": csrf_from(page.text)}
    )
    assert other.status_code == 404  # another department's report
    done = client.post(
        f"/exams/problems/{math.id}/handled", data={"csrf_token": csrf_from(page.text)}
    )
    assert done.status_code == 303
    after = client.get("/exams/problems")
    assert "Signalement marqué comme traité." in html.text(after, ".flash")
    assert "Écran noir" not in html.text(after)
    assert "Aucun problème en attente." in html.text(after, "main")
    db.rollback()
    assert {p.id for p in _problems(db) if p.handled_at is not None} == {math.id}


# --- JSON API -----------------------------------------------------------------------------

API_FIELDS = {
    "id",
    "course_code",
    "course_name",
    "department",
    "starts_at",
    "ends_at",
    "duration_minutes",
    "platform",
    "access_url",
    "instructions_slug",
    "contact_email",
    "status",
    "status_note",
    "previous_starts_at",
    "url",
}


def test_api_search_detail_and_unknown_exam(client: TestClient, exams: Timetable) -> None:
    found = client.get("/api/exams", params={"q": "stat 210"})
    assert found.status_code == 200
    assert found.headers["content-type"] == "application/json"
    body: list[dict[str, Any]] = found.json()
    assert body[0]["course_code"] == "STAT210"
    exam = body[0]
    assert set(exam) == API_FIELDS
    assert exam["id"] == exams.stat
    assert exam["department"] == "SCI"
    assert exam["platform"] == "teams"
    assert exam["duration_minutes"] == 120
    assert exam["instructions_slug"] == ACCESS_ARTICLE
    assert exam["status"] == "scheduled" and exam["previous_starts_at"] is None
    assert exam["url"] == f"http://testserver/exams/{exams.stat}"

    detail = client.get(f"/api/exams/{exams.stat}")
    assert detail.status_code == 200
    assert detail.json() == exam

    today = client.get("/api/exams").json()
    assert [e["course_code"] for e in today] == ["MATH101"]
    assert client.get("/api/exams", params={"q": "nothing-like-it"}).json() == []

    response = client.get("/api/exams/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "Examen introuvable."}
    assert client.get("/exams/999999").status_code == 404
    assert client.get("/exams/999999/problem").status_code == 404


# --- cheap answers ------------------------------------------------------------------------


def test_public_answers_are_cacheable_and_conditional(client: TestClient, exams: Timetable) -> None:
    for url in (
        f"/exams/{exams.stat}",
        "/exams",
        "/exams?q=math101",
        f"/api/exams/{exams.stat}",
        "/api/exams?q=math101",
    ):
        first = client.get(url)
        assert first.status_code == 200, url
        assert "set-cookie" not in first.headers, url
        assert first.headers["cache-control"] == "public, max-age=30", url
        etag = first.headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', etag), url

        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304, url
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "public, max-age=30"
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200

    page = client.get(f"/exams/{exams.stat}")
    assert page.headers["last-modified"].endswith(" GMT")
    assert not client.cookies  # an anonymous reader of the exam pages never gets a cookie


def test_signed_in_answers_are_private(client: TestClient, db: Session, exams: Timetable) -> None:
    sign_in(client, make_user(db, Role.student, departments=["SCI"]))
    response = client.get(f"/exams/{exams.stat}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-cache"
    not_modified = client.get(
        f"/exams/{exams.stat}", headers={"If-None-Match": response.headers["etag"]}
    )
    assert not_modified.status_code == 304
    assert not_modified.headers["cache-control"] == "private, no-cache"


# --- posters and short links --------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _poster(client: TestClient, target: str) -> tuple[str, str]:
    """The poster's short code and the short address it prints."""
    response = client.get("/poster", params={"target": target})
    assert response.status_code == 200, response.text
    short_url = html.text(response, ".poster-url strong")
    match = re.fullmatch(r"http://testserver/s/([a-z2-9]{5})", short_url)
    assert match, short_url
    return match.group(1), short_url


def test_poster_short_link_and_qr_codes(client: TestClient, db: Session, exams: Timetable) -> None:
    sign_in(client, make_user(db, Role.elearning))
    code, url = _poster(client, "/exams")
    assert url == f"http://testserver/s/{code}"
    assert _poster(client, "/exams")[0] == code  # the same target, the same code

    visitor = _anonymous(client)
    redirect = visitor.get(f"/s/{code}")
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "/exams"
    assert visitor.get(f"/s/{code.upper()}").headers["location"] == "/exams"

    png = visitor.get(f"/s/{code}.png")
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(PNG_SIGNATURE)
    svg = visitor.get(f"/s/{code}.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert ElementTree.fromstring(svg.content).tag == "{http://www.w3.org/2000/svg}svg"

    assert visitor.get("/s/zzzzz").status_code == 404
    assert visitor.get("/s/zzzzz.png").status_code == 404
    assert visitor.get(f"/s/{code}.gif").status_code == 404


def test_poster_for_a_knowledge_base_article(client: TestClient, exams: Timetable) -> None:
    response = client.get("/poster", params={"target": f"/kb/{ACCESS_ARTICLE}"})
    assert response.status_code == 200
    assert html.text(response, "h1") == "Accéder à son examen à distance"
    code, _url = _poster(client, f"/kb/{ACCESS_ARTICLE}")
    assert code != _poster(client, "/exams")[0]
    assert client.get(f"/s/{code}").headers["location"] == f"/kb/{ACCESS_ARTICLE}"

    assert client.get("/poster", params={"target": "/admin/people"}).status_code == 404
    assert client.get("/poster", params={"target": "/kb/pas-un-article"}).status_code == 404


# --- the timetable cache in the rush: a due check is made once, not by everyone ---------


def test_a_due_check_is_handed_to_one_request_the_others_keep_the_version(
    db: Session, exams: Timetable
) -> None:
    url = str(db.get_bind().engine.url)
    first = timetable(db, now=100.0)
    assert fresh_version(url, now=101.0) == first.version  # checked less than 2 s ago
    assert fresh_version(url, now=103.0) is None  # due: this request goes and checks
    assert fresh_version(url, now=103.1) == first.version  # the others keep answering
    assert fresh_version(url, now=103.2) == first.version
    timetable(db, now=103.3)  # the check, done by the first one
    assert fresh_version(url, now=103.4) == first.version
    assert fresh_version(url, now=106.0) is None
    # A request that took the check and never made it (it failed) does not block it long.
    assert fresh_version(url, now=106.5) == first.version
    assert fresh_version(url, now=107.5) is None


def test_threads_finding_the_check_due_query_the_database_once(
    engine: Engine, exams: Timetable
) -> None:
    with Session(engine) as session:
        timetable(session, now=100.0)
    checks: list[str] = []

    def slow_version_query(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "exam_session" in statement and "count(" in statement.lower():
            checks.append(statement)
            time.sleep(0.2)  # a database busy with the rush

    readers = 8
    start = threading.Barrier(readers)

    def read() -> object:
        with Session(engine) as session:
            start.wait()
            return timetable(session, now=103.0).version

    event.listen(engine, "before_cursor_execute", slow_version_query)
    try:
        with ThreadPoolExecutor(readers) as pool:
            versions = set(pool.map(lambda _: read(), range(readers)))
    finally:
        event.remove(engine, "before_cursor_execute", slow_version_query)
    assert len(checks) == 1 and len(versions) == 1


def test_a_change_made_during_a_check_is_not_hidden_by_it(engine: Engine, exams: Timetable) -> None:
    url = str(engine.url)
    with Session(engine) as session:
        timetable(session, now=100.0)

    def change_meanwhile(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "exam_session" in statement and "count(" in statement.lower():
            forget_cache()  # another thread of this process changed an exam right now

    event.listen(engine, "before_cursor_execute", change_meanwhile)
    try:
        with Session(engine) as session:
            timetable(session, now=103.0)  # read before the change: must not be kept
    finally:
        event.remove(engine, "before_cursor_execute", change_meanwhile)
    assert fresh_version(url, now=103.1) is None
