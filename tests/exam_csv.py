"""Exam timetables as the CSV bytes schools really send, and a shortcut to load them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from hub.exams.importer import LOCAL_TIME, ImportResult, import_csv
from hub.exams.timetable import forget_cache
from hub.models import utcnow

HEADER = (
    "course_code",
    "course_name",
    "department",
    "starts_at",
    "duration_minutes",
    "platform",
    "access_url",
    "instructions_slug",
    "contact_email",
)


def row(
    code: str = "MATH101",
    name: str = "Mathématiques générales",
    *,
    department: str = "SCI",
    starts_at: str = "2026-06-15 09:00",
    duration: str = "120",
    platform: str = "moodle",
    url: str | None = None,
    slug: str = "",
    email: str = "examens.sci@college.example",
) -> list[str]:
    """One timetable row, in HEADER order."""
    url = url or f"https://moodle.college.example/mod/quiz/view.php?id={code.lower()}"
    return [code, name, department, starts_at, duration, platform, url, slug, email]


def csv_bytes(
    rows: Iterable[Sequence[str]],
    *,
    header: Sequence[str] = HEADER,
    delimiter: str = ",",
    bom: bool = False,
    encoding: str = "utf-8",
) -> bytes:
    """A CSV file as Excel writes it (CRLF line ends; `;` and a BOM for French Excel)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode(encoding)


def local_text(moment: datetime) -> str:
    """`YYYY-MM-DD HH:MM` in Brussels time, as a timetable cell."""
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M")


def from_now(**delta: float) -> str:
    """A timetable cell for a moment relative to now (rounded down to the minute)."""
    return local_text(utcnow() + timedelta(**delta))


def load(db: Session, rows: Iterable[Sequence[str]]) -> ImportResult:
    """Import rows through the real importer, commit, and make the pages see them at once."""
    result = import_csv(db, csv_bytes(rows))
    assert result.ok, result.errors
    db.commit()
    forget_cache()
    return result
