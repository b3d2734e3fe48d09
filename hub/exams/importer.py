"""The exam timetable from the spreadsheets schools really have (`hub exams import`).

UTF-8 with or without BOM, `,` or `;` (French Excel), header names in any case. A file with
any bad row imports nothing and lists every bad row by line number and reason. Re-importing
updates sessions with the same course code and start instead of duplicating them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from hub.i18n import N_
from hub.models import Department, ExamSession, ExamStatus, Platform, utcnow
from hub.people import EMAIL
from kb.analyzer import analyzed
from kb.models import Article

LOCAL_TIME = ZoneInfo("Europe/Brussels")
REQUIRED_COLUMNS = (
    "course_code",
    "course_name",
    "department",
    "starts_at",
    "duration_minutes",
    "platform",
    "access_url",
    "contact_email",
)
OPTIONAL_COLUMNS = ("instructions_slug",)
MAX_ROWS = 20_000  # a whole college's session is a few thousand rows
MAX_DURATION_MINUTES = 24 * 60
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}$")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    @property
    def ok(self) -> bool:
        return not self.errors


def to_local(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL_TIME)


def parse_local(text: str) -> datetime:
    """`YYYY-MM-DD HH:MM` in Brussels time -> an aware datetime. Refuses times that do not
    exist (the spring-forward hour) instead of guessing."""
    if not DATE_TIME.match(text):
        raise ValueError(N_("date et heure attendues au format AAAA-MM-JJ HH:MM"))
    naive = datetime.strptime(text, "%Y-%m-%d %H:%M")
    local = naive.replace(tzinfo=LOCAL_TIME)
    if local.astimezone(ZoneInfo("UTC")).astimezone(LOCAL_TIME).replace(tzinfo=None) != naive:
        raise ValueError(N_("cette heure n'existe pas (passage à l'heure d'été)"))
    return local


class NotUtf8(ValueError):
    def __init__(self, line: int) -> None:
        super().__init__("le fichier n'est pas en UTF-8 : enregistrez-le en « CSV UTF-8 »")
        self.line = line  # the first line with a byte that is not UTF-8


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotUtf8(data[: exc.start].count(b"\n") + 1) from None


def _delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def import_csv(session: Session, data: bytes) -> ImportResult:
    """Validate the whole file, then apply it in the caller's transaction (or nothing)."""
    result = ImportResult()
    try:
        text = decode(data)
    except NotUtf8 as exc:
        result.errors.append((exc.line, str(exc)))
        return result
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        result.errors.append((1, "fichier vide : la première ligne doit nommer les colonnes"))
        return result
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(lines[0]))
    header = [name.strip().lower().lstrip("\ufeff") for name in next(reader)]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        result.errors.append((1, "colonne(s) manquante(s) : " + ", ".join(missing)))
        return result
    unknown = [n for n in header if n and n not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        result.errors.append((1, "colonne(s) inconnue(s) : " + ", ".join(unknown)))
        return result
    index = {name: header.index(name) for name in header if name}

    departments: dict[str, Department] = {}
    for department in session.exec(select(Department)).all():
        departments[department.code.lower()] = department
        departments[department.name.strip().lower()] = department
    articles = set(session.exec(select(Article.slug)).all())

    rows: dict[tuple[str, datetime], tuple[int, dict[str, object]]] = {}
    end = reader.line_num
    for row in reader:
        line, end = end + 1, reader.line_num  # a quoted cell may hold line breaks
        if not any(cell.strip() for cell in row):
            continue  # blank lines (Excel leaves some at the end)
        if len(rows) >= MAX_ROWS:
            result.errors.append((line, f"trop de lignes ({MAX_ROWS} au plus)"))
            break
        if len(row) != len(header):
            result.errors.append((line, f"{len(row)} cellules au lieu de {len(header)}"))
            continue
        value = {name: row[i].strip() for name, i in index.items()}
        problems, parsed = _check_row(value, departments, articles)
        if problems:
            result.errors.append((line, "; ".join(problems)))
            continue
        starts_at = parsed["starts_at"]
        assert isinstance(starts_at, datetime)
        key = (str(parsed["course_code"]), starts_at)
        if key in rows:
            first = rows[key][0]
            result.errors.append((line, f"même cours et même début qu'à la ligne {first}"))
            continue
        rows[key] = (line, parsed)
    if not rows and not result.errors:
        result.errors.append((1, "aucun examen dans le fichier"))
    if result.errors:
        return result

    existing: dict[tuple[str, datetime], ExamSession] = {}
    moved_from: dict[tuple[str, datetime], ExamSession] = {}
    for found in session.exec(
        select(ExamSession).where(col(ExamSession.course_code).in_([code for code, _ in rows]))
    ).all():
        existing[(found.course_code, found.starts_at)] = found
        if found.status is ExamStatus.moved and found.previous_starts_at is not None:
            moved_from[(found.course_code, found.previous_starts_at)] = found
    for key, (_line, values) in rows.items():
        exam: ExamSession | None = existing.get(key)
        if exam is None and key in moved_from:
            # The timetable still has the original sitting of an exam moved in the hub:
            # the move stands; the row's other details still apply.
            exam = moved_from[key]
            values = {name: v for name, v in values.items() if name != "starts_at"}
        if exam is None:
            exam = ExamSession.model_validate(values)
            exam.search_text = analyzed(f"{exam.course_code} {exam.course_name}")
            session.add(exam)
            result.created += 1
            continue
        changed = {name: v for name, v in values.items() if getattr(exam, name) != v}
        if not changed:
            result.unchanged += 1
            continue
        for name, v in changed.items():
            setattr(exam, name, v)
        exam.search_text = analyzed(f"{exam.course_code} {exam.course_name}")
        exam.updated_at = utcnow()
        session.add(exam)
        result.updated += 1
    session.flush()
    return result


def _check_row(
    value: dict[str, str], departments: dict[str, Department], articles: set[str]
) -> tuple[list[str], dict[str, object]]:
    problems: list[str] = []
    parsed: dict[str, object] = {}
    code = value["course_code"].upper()
    if not code or len(code) > 40:
        problems.append("course_code obligatoire (40 caractères au plus)")
    parsed["course_code"] = code
    if not value["course_name"] or len(value["course_name"]) > 200:
        problems.append("course_name obligatoire (200 caractères au plus)")
    parsed["course_name"] = value["course_name"]
    department = departments.get(value["department"].lower())
    if department is None:
        problems.append(f"département inconnu « {value['department']} » (code ou nom)")
    else:
        parsed["department_id"] = department.id
    try:
        parsed["starts_at"] = parse_local(value["starts_at"]).astimezone(ZoneInfo("UTC"))
    except ValueError as exc:
        problems.append(f"starts_at « {value['starts_at']} » : {exc}")
    duration = value["duration_minutes"]
    if not duration.isdigit() or not 1 <= int(duration) <= MAX_DURATION_MINUTES:
        problems.append(
            f"duration_minutes « {duration} » : un nombre entier de 1 à {MAX_DURATION_MINUTES}"
        )
    else:
        parsed["duration_minutes"] = int(duration)
    platform = value["platform"].lower()
    if platform not in Platform.__members__:
        problems.append(f"platform « {value['platform']} » : moodle, teams ou other")
    else:
        parsed["platform"] = Platform(platform)
    url = value["access_url"]
    if not re.match(r"^https?://[^\s]+$", url) or len(url) > 500:
        problems.append(f"access_url « {url} » : un lien commençant par https://")
    parsed["access_url"] = url
    slug = value.get("instructions_slug", "")
    if slug and slug not in articles:
        problems.append(f"instructions_slug « {slug} » : article introuvable")
    parsed["instructions_slug"] = slug or None
    email = value["contact_email"].lower()
    if not EMAIL.match(email) or len(email) > 320:
        problems.append(f"contact_email « {value['contact_email']} » : adresse e-mail invalide")
    parsed["contact_email"] = email
    return problems, parsed


def count_exams(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(ExamSession)).one())
