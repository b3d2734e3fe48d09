"""The exam timetable import (`hub exams import`, /exams/import): the spreadsheets schools
really have, every bad row listed by line and nothing imported, idempotent re-imports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, select

from hub.cli import main
from hub.exams.importer import LOCAL_TIME, count_exams, import_csv
from hub.exams.timetable import change_status
from hub.models import ExamSession, ExamStatus, Platform, Role, id_of
from hub.settings import Settings
from kb.articles import save_article
from kb.importer import parse_file
from tests import html
from tests.exam_csv import HEADER, csv_bytes, row
from tests.factories import csrf_from, make_department, make_user, sign_in

CONTENT = Path(__file__).resolve().parents[1] / "kb" / "content"


@pytest.fixture
def departments(db: Session) -> None:
    make_department(db, "SCI", "Sciences")
    make_department(db, "LET", "Lettres")


def _exams(db: Session) -> list[ExamSession]:
    db.expire_all()
    return list(db.exec(select(ExamSession).order_by(ExamSession.course_code)).all())


def _cli(settings: Settings, *args: str) -> Result:
    env = {"HUB_DATABASE_URL": settings.effective_database_url, "HUB_ENV": "test"}
    return CliRunner().invoke(main, list(args), env=env)


# --- formats ------------------------------------------------------------------------------


def test_french_excel_file_bom_semicolons_and_mixed_case_headers(
    db: Session, departments: None
) -> None:
    header = [
        "Course_Code",
        "COURSE_NAME",
        " Department ",
        "Starts_At",
        "Duration_Minutes",
        "Platform",
        "ACCESS_URL",
        "Instructions_Slug",
        "Contact_Email",
    ]
    data = csv_bytes(
        [
            row("math101", "Analyse, partie 1", department="sci", platform="Moodle"),
            row("HIST200", "Histoire « moderne »", department="Lettres", platform="TEAMS"),
        ],
        header=header,
        delimiter=";",
        bom=True,
    )
    assert data.startswith(b"\xef\xbb\xbfCourse_Code;")

    result = import_csv(db, data)
    db.commit()

    assert result.errors == []
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    hist, math = _exams(db)
    assert (math.course_code, math.course_name, math.platform) == (
        "MATH101",
        "Analyse, partie 1",
        Platform.moodle,
    )
    assert hist.course_name == "Histoire « moderne »" and hist.platform is Platform.teams
    assert hist.department_id != math.department_id
    assert math.instructions_slug is None


def test_comma_separated_file_without_optional_column(db: Session, departments: None) -> None:
    header = [name for name in HEADER if name != "instructions_slug"]
    rows = [[cell for i, cell in enumerate(row(code)) if i != 7] for code in ("A1", "B2")]
    rows[0][1] = 'Chimie "organique", TP'
    result = import_csv(db, csv_bytes(rows, header=header))
    db.commit()

    assert result.ok and result.created == 2
    assert [exam.course_name for exam in _exams(db)] == [
        'Chimie "organique", TP',
        "Mathématiques générales",
    ]


def test_start_is_stored_in_utc_and_read_back_in_brussels_time(
    db: Session, departments: None
) -> None:
    result = import_csv(
        db,
        csv_bytes(
            [
                row("SUMMER1", starts_at="2026-06-15 09:00"),
                row("WINTER1", starts_at="2026-12-15 9:00"),
            ]
        ),
    )
    db.commit()
    assert result.ok, result.errors

    summer, winter = _exams(db)
    assert summer.starts_at == datetime(2026, 6, 15, 7, 0, tzinfo=UTC)  # CEST, UTC+2
    assert winter.starts_at == datetime(2026, 12, 15, 8, 0, tzinfo=UTC)  # CET, UTC+1
    assert summer.starts_at.utcoffset() == winter.starts_at.utcoffset() == UTC.utcoffset(None)
    for exam in (summer, winter):
        assert exam.starts_at.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M").endswith("09:00")


def test_time_skipped_by_spring_forward_is_an_error(db: Session, departments: None) -> None:
    # 2026-03-29: Brussels clocks jump from 02:00 to 03:00.
    result = import_csv(db, csv_bytes([row(starts_at="2026-03-29 02:30")]))

    assert not result.ok
    [(line, reason)] = result.errors
    assert line == 2
    assert "2026-03-29 02:30" in reason and "n'existe pas" in reason
    assert count_exams(db) == 0


# --- errors -------------------------------------------------------------------------------


def test_every_bad_row_is_listed_by_line_and_nothing_is_imported(
    db: Session, departments: None
) -> None:
    make_department(db, "ART", "Arts")
    rows = [
        row("GOOD1"),  # line 2
        row("MULTI", "Cours sur\ndeux lignes"),  # lines 3-4: a quoted cell with a line break
        row("BAD1", department="MED"),  # 5
        row("BAD2", starts_at="15/06/2026 09:00"),  # 6
        row("BAD3", platform="zoom"),  # 7
        row("BAD4", url="moodle.college.example/quiz"),  # 8
        row("BAD5", email="examens-at-college"),  # 9
        row("BAD6")[:-1],  # 10: a cell missing
        row("GOOD2", department="Arts"),  # 11
        row("good1"),  # 12: same course and start as line 2
        row("BAD7", slug="article-qui-n-existe-pas"),  # 13
        row("BAD8", "Cours\nsur deux lignes", department="MED"),  # 14-15
        row("BAD9", duration="deux heures"),  # 16
    ]
    result = import_csv(db, csv_bytes(rows))

    assert not result.ok
    reasons = dict(result.errors)
    assert sorted(reasons) == [5, 6, 7, 8, 9, 10, 12, 13, 14, 16], result.errors
    assert "département inconnu « MED »" in reasons[5]
    assert "starts_at « 15/06/2026 09:00 »" in reasons[6]
    assert "platform « zoom »" in reasons[7]
    assert "access_url « moodle.college.example/quiz »" in reasons[8]
    assert "contact_email « examens-at-college »" in reasons[9]
    assert reasons[10] == "8 cellules au lieu de 9"
    assert reasons[12] == "même cours et même début qu'à la ligne 2"
    assert "instructions_slug « article-qui-n-existe-pas » : article introuvable" in reasons[13]
    assert "département inconnu « MED »" in reasons[14]  # where the row starts
    assert "duration_minutes « deux heures »" in reasons[16]
    db.rollback()
    assert count_exams(db) == 0  # not even GOOD1, GOOD2 or MULTI


def test_a_row_with_several_problems_lists_them_all(db: Session, departments: None) -> None:
    result = import_csv(db, csv_bytes([row(department="?", duration="0", platform="zoom")]))
    [(line, reason)] = result.errors
    assert line == 2
    assert "département inconnu" in reason
    assert "duration_minutes « 0 »" in reason
    assert "platform « zoom »" in reason


def test_file_that_is_not_utf8_is_a_clear_error(db: Session, departments: None) -> None:
    data = csv_bytes([row("OK1", "Chimie"), row("LAT1", "Économie")], encoding="cp1252")
    result = import_csv(db, data)

    [(line, reason)] = result.errors
    assert line == 3
    assert "pas en UTF-8" in reason and "CSV UTF-8" in reason
    assert count_exams(db) == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            [name for name in HEADER if name not in ("starts_at", "contact_email")],
            "colonne(s) manquante(s) : starts_at, contact_email",
        ),
        ([*HEADER, "salle"], "colonne(s) inconnue(s) : salle"),
    ],
    ids=["missing", "unknown"],
)
def test_header_must_name_the_expected_columns(
    db: Session, departments: None, header: list[str], expected: str
) -> None:
    result = import_csv(db, csv_bytes([row()[: len(header)]], header=header))
    assert result.errors == [(1, expected)]


def test_empty_files_are_refused(db: Session, departments: None) -> None:
    assert import_csv(db, b"").errors[0][0] == 1
    assert import_csv(db, csv_bytes([])).errors == [(1, "aucun examen dans le fichier")]


# --- re-imports ---------------------------------------------------------------------------


def test_reimport_updates_in_place_instead_of_duplicating(db: Session, departments: None) -> None:
    rows = [row("MATH101"), row("PHYS110", "Physique"), row("HIST200", department="LET")]
    first = import_csv(db, csv_bytes(rows))
    db.commit()
    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)

    again = import_csv(db, csv_bytes(rows, delimiter=";", bom=True))
    db.commit()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)

    rows[1] = row("phys110", "Physique", duration="90")  # same course (any case) and start
    changed = import_csv(db, csv_bytes(rows))
    db.commit()
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)

    exams = _exams(db)
    assert [exam.course_code for exam in exams] == ["HIST200", "MATH101", "PHYS110"]
    assert exams[2].duration_minutes == 90


def test_reimport_after_a_move_does_not_bring_the_old_sitting_back(
    db: Session, departments: None
) -> None:
    rows = [row("MATH101", starts_at="2031-01-20 09:00")]
    import_csv(db, csv_bytes(rows))
    db.commit()
    [exam] = _exams(db)
    change_status(
        db,
        exam_id=id_of(exam),
        status=ExamStatus.moved,
        note="Reporté.",
        actor=make_user(db, Role.elearning),
        new_start="2031-01-27 09:00",
    )
    db.commit()

    again = import_csv(db, csv_bytes(rows))
    db.commit()

    assert again.created == 0 and again.unchanged == 1
    [kept] = _exams(db)
    assert kept.status is ExamStatus.moved  # the move made in the hub stands


def test_instructions_slug_names_a_knowledge_base_article(db: Session, departments: None) -> None:
    save_article(db, parse_file(CONTENT / "examen-acces-etudiant.md"), actor=None)
    db.commit()

    result = import_csv(db, csv_bytes([row(slug="examen-acces-etudiant")]))
    db.commit()

    assert result.ok, result.errors
    assert _exams(db)[0].instructions_slug == "examen-acces-etudiant"


# --- the command line ---------------------------------------------------------------------


def test_cli_lists_bad_lines_on_stderr_and_exits_1(
    settings: Settings, db: Session, departments: None, tmp_path: Path
) -> None:
    path = tmp_path / "session-juin.csv"
    path.write_bytes(
        csv_bytes([row("OK1"), row("BAD1", department="MED"), row("BAD2", platform="zoom")])
    )

    result = _cli(settings, "exams", "import", str(path))

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "session-juin.csv:3: département inconnu « MED » (code ou nom)"
    assert lines[1].startswith("session-juin.csv:4: platform « zoom »")
    assert "nothing imported: 2 line(s) to fix in session-juin.csv" in lines[2]
    assert result.stdout == ""
    assert count_exams(db) == 0


def test_cli_imports_and_reports_counts(
    settings: Settings, db: Session, departments: None, tmp_path: Path
) -> None:
    path = tmp_path / "horaire.csv"
    path.write_bytes(csv_bytes([row("MATH101"), row("HIST200", department="LET")], delimiter=";"))

    first = _cli(settings, "exams", "import", str(path))
    assert first.exit_code == 0, first.output
    assert first.stdout == "2 created, 0 updated, 0 unchanged\n"

    second = _cli(settings, "exams", "import", str(path))
    assert second.stdout == "0 created, 0 updated, 2 unchanged\n"
    assert count_exams(db) == 2


# --- the upload page ----------------------------------------------------------------------


def _upload(client: TestClient, data: bytes, name: str = "horaire.csv") -> Response:
    token = csrf_from(client.get("/exams/import").text)
    return client.post(
        "/exams/import",
        data={"csrf_token": token},
        files={"file": (name, data, "text/csv")},
    )


def test_upload_page_shows_every_error_and_imports_nothing(
    client: TestClient, db: Session, departments: None
) -> None:
    sign_in(client, make_user(db, Role.elearning))
    data = csv_bytes([row("OK1"), row("BAD1", department="MED"), row("BAD2", url="ftp://x")])

    response = _upload(client, data, "juin.csv")

    assert response.status_code == 422
    alert = html.text(response, "main [role=alert]")
    assert "Rien n'a été importé. 2 lignes à corriger dans juin.csv" in alert
    errors = html.text(response, ".import-errors tbody")
    assert "3 département inconnu « MED » (code ou nom)" in errors
    assert "4 access_url « ftp://x »" in errors
    assert count_exams(db) == 0


def test_upload_page_imports_and_shows_counts(
    client: TestClient, db: Session, departments: None
) -> None:
    sign_in(client, make_user(db, Role.elearning))
    data = csv_bytes([row("MATH101"), row("HIST200", department="LET")], bom=True, delimiter=";")

    first = _upload(client, data)
    assert first.status_code == 200
    assert "Import réussi. Créés : 2, mis à jour : 0, inchangés : 0." in html.text(first, ".flash")
    second = _upload(client, data)
    assert "Créés : 0, mis à jour : 0, inchangés : 2" in html.text(second, ".flash")
    assert count_exams(db) == 2


def test_only_the_elearning_team_imports(
    client: TestClient, db: Session, departments: None
) -> None:
    anonymous = client.get("/exams/import")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/exams/import"

    teacher = make_user(db, Role.teacher)
    sign_in(client, teacher)
    assert client.get("/exams/import").status_code == 403
    token = csrf_from(client.get("/account").text)
    refused = client.post(
        "/exams/import",
        data={"csrf_token": token},
        files={"file": ("x.csv", csv_bytes([row()]), "text/csv")},
    )
    assert refused.status_code == 403
    assert count_exams(db) == 0
