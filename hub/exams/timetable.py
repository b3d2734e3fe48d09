"""Remote exams: finding one fast (typo-tolerant), moving or cancelling it, and the
"I have a problem during my exam" reports.

Exam pages are read by thousands of students in the same minutes, so reads go through an
in-process cache of the timetable, refreshed when the table changes (checked at most every
CACHE_CHECK_SECONDS per process): the hot path makes at most one tiny query per process per
interval and never writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz.distance import Levenshtein
from sqlmodel import Session, col, func, select

from hub.cache import BANNER, ProcessCache
from hub.crisis.mode import current_banner
from hub.errors import InvalidInput, NotFound, TooManyAttempts
from hub.exams.importer import LOCAL_TIME, parse_local
from hub.i18n import N_
from hub.models import (
    SUPPORT,
    TEAM,
    Department,
    ExamProblem,
    ExamSession,
    ExamStatus,
    User,
    utcnow,
)
from hub.people import EMAIL, require_role, served_department_ids
from kb.analyzer import STOPWORDS, analyze, analyzed, fold, words

CACHE_CHECK_SECONDS = 2.0  # staleness a student may see after the timetable changes
PROBLEMS_PER_STUDENT = 3  # reports per e-mail in PROBLEM_WINDOW: enough to add details
PROBLEMS_PER_ADDRESS = 60  # a lab or residence shares one address; this only stops floods
PROBLEM_WINDOW = timedelta(minutes=10)
MAX_PROBLEM_MESSAGE = 2000


@dataclass(frozen=True)
class ExamView:
    """What the public pages show of an exam (a detached, read-only copy)."""

    id: int
    course_code: str
    course_name: str
    department_code: str
    department_name: str
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    platform: str
    access_url: str
    instructions_slug: str | None
    instructions: str
    contact_email: str
    status: str
    status_note: str
    previous_starts_at: datetime | None
    updated_at: datetime
    code_key: str  # course code folded to letters and digits only
    terms: tuple[str, ...]  # analyzed course code and name
    name_words: tuple[str, ...]  # folded, unstemmed: a typo can change a word's stem

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(LOCAL_TIME)

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(LOCAL_TIME)


@dataclass(frozen=True)
class Timetable:
    version: tuple[object, ...]
    exams: dict[int, ExamView]


def _code_key(code: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(code))


def _version(session: Session) -> tuple[object, ...]:
    count, latest = session.exec(
        select(func.count(), func.max(ExamSession.updated_at)).select_from(ExamSession)
    ).one()
    # Every page shows the crisis banner: a cached exam page must not outlive a switch.
    return (count, str(latest), current_banner(session))


def _build(session: Session, version: object, _previous: object) -> Timetable:
    return Timetable(version=version, exams=_load(session))  # type: ignore[arg-type]


# Re-checked at most every CACHE_CHECK_SECONDS by one caller, the others keeping the copy
# they have (hub/cache.py); rebuilt only when the exam table (or the banner) changed.
_timetables = ProcessCache[Timetable](
    "exam timetable",
    version=_version,
    load=_build,
    check_seconds=CACHE_CHECK_SECONDS,
    depends_on=[BANNER],
)


def timetable(session: Session, *, now: float | None = None) -> Timetable:
    """The cached timetable, refreshed when the exam table changed. A due check is made by
    one thread; the others get the copy they already have meanwhile (hub/cache.py)."""
    return _timetables.get(session, now=now)


def _load(session: Session) -> dict[int, ExamView]:
    rows = session.exec(
        select(ExamSession, Department).join(
            Department, col(Department.id) == col(ExamSession.department_id)
        )
    ).all()
    return {
        exam.id: ExamView(
            id=exam.id,
            course_code=exam.course_code,
            course_name=exam.course_name,
            department_code=department.code,
            department_name=department.name,
            starts_at=exam.starts_at,
            ends_at=exam.starts_at + timedelta(minutes=exam.duration_minutes),
            duration_minutes=exam.duration_minutes,
            platform=exam.platform.value,
            access_url=exam.access_url,
            instructions_slug=exam.instructions_slug,
            instructions=exam.instructions,
            contact_email=exam.contact_email,
            status=exam.status.value,
            status_note=exam.status_note,
            previous_starts_at=exam.previous_starts_at,
            updated_at=exam.updated_at,
            code_key=_code_key(exam.course_code),
            terms=tuple(exam.search_text.split()),
            name_words=tuple(words(f"{exam.course_code} {exam.course_name}")),
        )
        for exam, department in rows
        if exam.id is not None
    }


def fresh_version(engine_url: str, *, now: float | None = None) -> object | None:
    """The version of the cached timetable, for answering from cached pages; None when the
    caller must go through `timetable()`: a due check is handed to one caller, the others
    keep the last known version meanwhile (`ProcessCache.fresh`)."""
    entry = _timetables.fresh(engine_url, now=now)
    return entry.version if entry is not None else None


def forget_cache() -> None:
    """Drop cached timetables (after a change in this process, for immediate effect)."""
    _timetables.forget()


def get_exam(session: Session, exam_id: int) -> ExamView:
    exam = timetable(session).exams.get(exam_id)
    if exam is None:
        raise NotFound(N_("Examen introuvable."))
    return exam


def _sort_key(exam: ExamView, now: datetime) -> tuple[int, float]:
    # Exams still to come (or running) first, soonest first; past ones after, latest first.
    if exam.ends_at >= now:
        return (0, (exam.starts_at - now).total_seconds())
    return (1, (now - exam.starts_at).total_seconds())


def search_exams(
    session: Session, query: str, *, limit: int = 20, now: datetime | None = None
) -> list[ExamView]:
    """By course code (spaces, case and one or two typos forgiven) or by course name."""
    now = now or utcnow()
    query = query.strip()[:100]
    if not query:
        return []
    exams = timetable(session).exams.values()
    key = _code_key(query)
    typed = [word for word in words(query) if word not in STOPWORDS]
    stems = analyze(query)  # one stem per typed word, in the same order
    scored: list[tuple[float, ExamView]] = []
    for exam in exams:
        score = 0.0
        if key and exam.code_key == key:
            score = 100
        elif len(key) >= 3 and exam.code_key.startswith(key):
            score = 80
        elif len(key) >= 4 and Levenshtein.distance(key, exam.code_key, score_cutoff=2) <= (
            1 if len(key) < 7 else 2
        ):
            score = 60
        if stems:
            matched = 0.0
            for word, stem in zip(typed, stems, strict=True):
                typos = 1 if len(word) < 9 else 2  # as the knowledge-base search
                if stem in exam.terms:
                    matched += 1
                elif len(stem) >= 3 and any(t.startswith(stem) for t in exam.terms):
                    matched += 0.8
                elif len(stem) >= 5 and any(
                    Levenshtein.distance(stem, t, score_cutoff=1) <= 1 for t in exam.terms
                ):
                    matched += 0.7
                elif len(word) >= 5 and any(
                    Levenshtein.distance(word, w, score_cutoff=typos) <= typos
                    for w in exam.name_words
                ):
                    matched += 0.7
            if matched:
                score = max(score, 50 * matched / len(stems))
        if score >= 25:
            scored.append((score, exam))
    scored.sort(key=lambda item: (-item[0], *_sort_key(item[1], now), item[1].course_code))
    return [exam for _, exam in scored[:limit]]


def exams_on(session: Session, day: datetime) -> list[ExamView]:
    """Exams starting on the local calendar day of `day`, in start order."""
    local_day = day.astimezone(LOCAL_TIME).date()
    found = [e for e in timetable(session).exams.values() if e.local_start.date() == local_day]
    return sorted(found, key=lambda e: (e.starts_at, e.course_code))


# --- changes by the e-learning team -----------------------------------------------------


def change_status(
    session: Session,
    *,
    exam_id: int,
    status: ExamStatus,
    note: str,
    actor: User,
    new_start: str | None = None,
) -> ExamSession:
    """Move (with a new local start), cancel or restore an exam; students see a banner."""
    require_role(actor, *TEAM)
    exam = session.get(ExamSession, exam_id)
    if exam is None:
        raise NotFound(N_("Examen introuvable."))
    note = note.strip()
    if len(note) > 500:
        raise InvalidInput(N_("Note trop longue."), {"note": N_("500 caractères au plus.")})
    if status is ExamStatus.moved:
        try:
            start = parse_local((new_start or "").strip()).astimezone(LOCAL_TIME)
        except ValueError as exc:
            raise InvalidInput(N_("Nouvelle date invalide."), {"new_start": str(exc)}) from None
        if start == exam.starts_at:
            raise InvalidInput(
                N_("La nouvelle date est la même que l'actuelle."),
                {"new_start": N_("Choisissez une autre date.")},
            )
        taken = session.exec(
            select(ExamSession.id).where(
                ExamSession.course_code == exam.course_code, ExamSession.starts_at == start
            )
        ).first()
        if taken is not None:  # (course code, start) is unique: a 500 otherwise
            raise InvalidInput(
                N_("Une autre session de ce cours commence déjà à cette heure."),
                {"new_start": N_("Choisissez une autre date.")},
            )
        exam.previous_starts_at = exam.starts_at
        exam.starts_at = start
    if status is not ExamStatus.scheduled and not note:
        raise InvalidInput(
            N_("Expliquez le changement aux étudiants."), {"note": N_("Une note est obligatoire.")}
        )
    exam.status = status
    exam.status_note = note
    exam.updated_at = utcnow()
    exam.search_text = analyzed(f"{exam.course_code} {exam.course_name}")
    session.add(exam)
    session.flush()
    return exam


# --- "I have a problem during my exam" --------------------------------------------------


def report_problem(
    session: Session,
    *,
    exam_id: int,
    name: str,
    email: str,
    student_number: str,
    message: str,
    address: str,
    base_url: str,
) -> ExamProblem:
    """Keep a student's report (nothing is lost) for the department's referents."""
    exam = session.get(ExamSession, exam_id)
    if exam is None:
        raise NotFound(N_("Examen introuvable."))
    name, email, message = name.strip(), email.strip().lower(), message.strip()
    student_number = student_number.strip()
    errors: dict[str, str] = {}
    if not name or len(name) > 200:
        errors["name"] = N_("Votre nom est obligatoire.")
    if not EMAIL.match(email) or len(email) > 320:
        errors["email"] = N_("Adresse e-mail invalide.")
    if len(student_number) > 40:
        errors["student_number"] = N_("Matricule trop long.")
    if not message or len(message) > MAX_PROBLEM_MESSAGE:
        errors["message"] = N_("Décrivez le problème (2000 caractères au plus).")
    if errors:
        raise InvalidInput(N_("Formulaire incomplet."), errors)
    since = utcnow() - PROBLEM_WINDOW
    for column, value, limit in (
        (ExamProblem.email, email, PROBLEMS_PER_STUDENT),
        (ExamProblem.address, address[:64], PROBLEMS_PER_ADDRESS),
    ):
        count = session.exec(
            select(func.count())
            .select_from(ExamProblem)
            .where(column == value, col(ExamProblem.created_at) >= since)
        ).one()
        if count >= limit:
            raise TooManyAttempts(
                N_(
                    "Votre signalement est bien enregistré ; attendez quelques minutes avant "
                    "d'en envoyer un autre, ou écrivez à l'adresse de contact de l'examen."
                ),
                retry_after=int(PROBLEM_WINDOW.total_seconds()),
            )
    problem = ExamProblem(
        exam_id=exam_id,
        name=name,
        email=email,
        student_number=student_number,
        message=message,
        address=address[:64],
    )
    session.add(problem)
    session.flush()
    from hub.questions.asking import question_from_exam_problem  # the referents' queue

    question_from_exam_problem(session, problem, base_url=base_url)
    return problem


@dataclass(frozen=True)
class OpenProblem:
    problem: ExamProblem
    exam: ExamSession
    question_id: int | None  # the urgent question it opened in the department's queue


def open_problems(session: Session, *, actor: User) -> list[OpenProblem]:
    """Unhandled reports for the departments this person serves, newest first."""
    from hub.questions.models import Question

    require_role(actor, *SUPPORT)
    departments = served_department_ids(session, actor)
    rows = session.exec(
        select(ExamProblem, ExamSession, Question.id)
        .join(ExamSession, col(ExamSession.id) == col(ExamProblem.exam_id))
        .outerjoin(Question, col(Question.exam_problem_id) == col(ExamProblem.id))
        .where(
            col(ExamProblem.handled_at).is_(None), col(ExamSession.department_id).in_(departments)
        )
        .order_by(col(ExamProblem.created_at).desc())
    ).all()
    return [OpenProblem(problem, exam, question_id) for problem, exam, question_id in rows]


def mark_problem_handled(session: Session, *, actor: User, problem_id: int) -> ExamProblem:
    """A referent of the exam's department (or the e-learning team) has dealt with a report:
    it leaves the list of problems waiting. Its question stays in the queue as it is."""
    require_role(actor, *SUPPORT)
    problem = session.get(ExamProblem, problem_id)
    exam = session.get(ExamSession, problem.exam_id) if problem else None
    if (
        problem is None
        or exam is None
        or exam.department_id not in served_department_ids(session, actor)
    ):
        raise NotFound(N_("Signalement introuvable."))
    if problem.handled_at is None:
        problem.handled_at = utcnow()
        session.add(problem)
        session.flush()
    return problem
