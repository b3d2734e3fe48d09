"""Exam pages for students (public, built for the rush), the timetable import, the problem
form, posters with short links and QR codes, and the exams JSON API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hub.errors import HubError, InvalidInput, NotFound, TooManyAttempts
from hub.exams.importer import LOCAL_TIME, import_csv
from hub.exams.shortlinks import qr_code, resolve, short_link_for
from hub.exams.timetable import (
    ExamView,
    change_status,
    exams_on,
    forget_cache,
    get_exam,
    mark_problem_handled,
    open_problems,
    report_problem,
    search_exams,
    timetable,
)
from hub.i18n import N_
from hub.models import TEAM, ExamStatus, utcnow
from hub.people import require_role
from hub.web.addresses import client_address
from hub.web.caching import PageCache
from hub.web.deps import CurrentUser, OptionalUser, SessionDep, SettingsDep, flash
from hub.web.rendering import render as render_page
from kb.articles import get_article
from kb.markdown import render

router = APIRouter(tags=["exams"])
pages = PageCache()  # anonymous exam pages, re-rendered when the timetable or the minute changes
api = APIRouter(prefix="/api/exams", tags=["exams API"])

DAY_CHECKLIST = "examen-jour-j-checklist-etudiant"  # starter-pack article shown on every exam
PROBLEM_PROCEDURE = "examen-probleme-technique-procedure"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a timetable of 20,000 rows is ~2 MB


def time_left(start: datetime, now: datetime) -> str:
    """ "2 j 3 h", "2 h 05 min", "12 min": the server's countdown (JS refines it)."""
    minutes = max(0, int((start - now).total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} j {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def exam_phase(exam: ExamView, now: datetime) -> str:
    if exam.status == ExamStatus.cancelled.value:
        return "cancelled"
    if now < exam.starts_at:
        return "upcoming"
    if now < exam.ends_at:
        return "running"
    return "finished"


@router.get("/exams", name="exams")
def exams_page(request: Request, db: SessionDep, user: OptionalUser, q: str = "") -> Response:
    return pages.page(request, lambda: timetable(db).version, lambda: _exams_page(request, db, q))


def _exams_page(request: Request, db: SessionDep, q: str) -> Response:
    now = utcnow()
    results = search_exams(db, q, now=now) if q.strip() else []
    today = exams_on(db, now) if not q.strip() else []
    tomorrow = exams_on(db, now + timedelta(days=1)) if not q.strip() else []
    return render_page(
        request,
        "exams/index.html",
        {
            "q": q,
            "results": results,
            "today": today,
            "tomorrow": tomorrow,
            "now": now,
            "phase": exam_phase,
        },
    )


@router.get("/exams/problems", name="exam_problems")
def exam_problems(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    problems = open_problems(db, actor=user)
    return render_page(request, "exams/problems.html", {"problems": problems, "zone": LOCAL_TIME})


@router.post("/exams/problems/{problem_id:int}/handled", name="exam_problem_handled")
def exam_problem_handled(
    request: Request, db: SessionDep, user: CurrentUser, problem_id: int
) -> Response:
    mark_problem_handled(db, actor=user, problem_id=problem_id)
    db.commit()
    flash(request, N_("Signalement marqué comme traité."))
    return RedirectResponse("/exams/problems", status_code=303)


@router.get("/exams/import", name="exams_import")
def exams_import_form(request: Request, user: CurrentUser) -> Response:
    require_role(user, *TEAM)
    return render_page(request, "exams/import.html", {"result": None})


@router.post("/exams/import", name="exams_import_upload")
async def exams_import_upload(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File()],
) -> Response:
    require_role(user, *TEAM)
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput("Fichier trop volumineux (5 Mo au plus).")

    def apply() -> object:
        result = import_csv(db, data)
        if result.ok:
            db.commit()
            forget_cache()
        else:
            db.rollback()
        return result

    result = await run_in_threadpool(apply)
    status = 200 if getattr(result, "ok", False) else 422
    return render_page(
        request, "exams/import.html", {"result": result, "filename": file.filename}, status=status
    )


@router.get("/exams/{exam_id}", name="exam")
def exam_page(request: Request, db: SessionDep, user: OptionalUser, exam_id: int) -> Response:
    exam = get_exam(db, exam_id)
    return pages.page(
        request,
        lambda: timetable(db).version,
        lambda: _exam_page(request, db, exam),
        last_modified=exam.updated_at,
    )


def _exam_page(request: Request, db: SessionDep, exam: ExamView) -> Response:
    now = utcnow()
    instructions_html = None
    if exam.instructions_slug:
        try:
            instructions_html = render(get_article(db, exam.instructions_slug, viewer=None).body)
        except HubError:  # archived or made private since: the exam page still works
            instructions_html = None
    return render_page(
        request,
        "exams/detail.html",
        {
            "exam": exam,
            "phase": exam_phase(exam, now),
            "starts_in": time_left(exam.starts_at, now),
            "instructions_html": instructions_html,
            "extra_instructions": render(exam.instructions) if exam.instructions else None,
            "day_checklist": DAY_CHECKLIST,
            "problem_procedure": PROBLEM_PROCEDURE,
            "statuses": list(ExamStatus),
        },
    )


@router.post("/exams/{exam_id}/status", name="exam_status")
def exam_status(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    exam_id: int,
    status: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    new_start: Annotated[str, Form()] = "",
) -> Response:
    if status not in ExamStatus.__members__:
        raise InvalidInput("Statut inconnu.")
    change_status(
        db, exam_id=exam_id, status=ExamStatus(status), note=note, actor=user, new_start=new_start
    )
    db.commit()
    forget_cache()
    flash(request, "Examen mis à jour : les étudiants voient le changement.")
    return RedirectResponse(f"/exams/{exam_id}", status_code=303)


@router.get("/exams/{exam_id}/problem", name="exam_problem")
def exam_problem_form(
    request: Request, db: SessionDep, user: OptionalUser, exam_id: int
) -> Response:
    exam = get_exam(db, exam_id)
    form = {"name": user.name, "email": user.email} if user else {}
    return render_page(
        request, "exams/problem.html", {"exam": exam, "form": form, "errors": {}, "sent": False}
    )


@router.post("/exams/{exam_id}/problem", name="exam_problem_send")
def exam_problem_send(
    request: Request,
    db: SessionDep,
    user: OptionalUser,
    settings: SettingsDep,
    exam_id: int,
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    student_number: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
) -> Response:
    exam = get_exam(db, exam_id)
    form = {"name": name, "email": email, "student_number": student_number, "message": message}
    try:
        report_problem(
            db,
            exam_id=exam_id,
            name=name,
            email=email,
            student_number=student_number,
            message=message,
            address=client_address(request),
            base_url=settings.base_url,
        )
    except InvalidInput as exc:
        return render_page(
            request,
            "exams/problem.html",
            {"exam": exam, "form": form, "errors": exc.fields, "sent": False},
            status=422,
        )
    except TooManyAttempts as exc:
        response = render_page(
            request,
            "exams/problem.html",
            {"exam": exam, "form": form, "errors": {"message": exc.message}, "sent": False},
            status=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    db.commit()
    return render_page(
        request, "exams/problem.html", {"exam": exam, "form": {}, "errors": {}, "sent": True}
    )


# --- posters, short links and QR codes ---------------------------------------------------


def _public_url(request: Request, path: str) -> str:
    base = request.app.state.settings.base_url or str(request.base_url).rstrip("/")
    return base + path


@router.get("/poster", name="poster")
def poster(
    request: Request, db: SessionDep, user: OptionalUser, target: str = "/exams"
) -> Response:
    """A printable poster for the exam entry page or a knowledge-base article."""
    title = N_("Vos examens à distance")
    if target.startswith("/kb/"):
        title = get_article(db, target.removeprefix("/kb/"), viewer=user).title
    elif target != "/exams":
        raise NotFound("Affiche disponible pour /exams et les articles /kb/… seulement.")
    link = short_link_for(db, target)
    db.commit()
    return render_page(
        request,
        "exams/poster.html",
        {
            "title": title,
            "code": link.code,
            "short_url": _public_url(request, f"/s/{link.code}"),
            "target": target,
        },
    )


@router.get("/s/{code}.{kind}", name="qr")
def short_link_qr(request: Request, db: SessionDep, code: str, kind: str) -> Response:
    if kind not in ("png", "svg"):
        raise NotFound("Format inconnu : png ou svg.")
    resolve(db, code)
    body = qr_code(_public_url(request, f"/s/{code}"), kind)
    media = "image/svg+xml" if kind == "svg" else "image/png"
    return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/s/{code}", name="short_link")
def short_link(db: SessionDep, code: str) -> Response:
    return RedirectResponse(quote(resolve(db, code)), status_code=302)


# --- JSON API ----------------------------------------------------------------------------


class ExamPublic(BaseModel):
    id: int
    course_code: str
    course_name: str
    department: str
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    platform: str
    access_url: str
    instructions_slug: str | None
    contact_email: str
    status: str
    status_note: str
    previous_starts_at: datetime | None
    url: str


def _public(request: Request, exam: ExamView) -> ExamPublic:
    return ExamPublic(
        id=exam.id,
        course_code=exam.course_code,
        course_name=exam.course_name,
        department=exam.department_code,
        starts_at=exam.local_start,
        ends_at=exam.local_end,
        duration_minutes=exam.duration_minutes,
        platform=exam.platform,
        access_url=exam.access_url,
        instructions_slug=exam.instructions_slug,
        contact_email=exam.contact_email,
        status=exam.status,
        status_note=exam.status_note,
        previous_starts_at=(
            exam.previous_starts_at.astimezone(LOCAL_TIME) if exam.previous_starts_at else None
        ),
        url=_public_url(request, f"/exams/{exam.id}"),
    )


@api.get("", response_model=list[ExamPublic])
def api_exams(
    request: Request,
    db: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """Exams matching a course code or name; without `q`, today's exams."""

    def build() -> Response:
        found = search_exams(db, q, limit=limit) if q.strip() else exams_on(db, utcnow())[:limit]
        body = "[" + ",".join(_public(request, e).model_dump_json() for e in found) + "]"
        return Response(body, media_type="application/json")

    return pages.page(request, lambda: timetable(db).version, build)


@api.get("/{exam_id}", response_model=ExamPublic)
def api_exam(request: Request, db: SessionDep, exam_id: int) -> Response:
    exam = get_exam(db, exam_id)

    def build() -> Response:
        return Response(_public(request, exam).model_dump_json(), media_type="application/json")

    return pages.page(request, lambda: timetable(db).version, build, last_modified=exam.updated_at)
