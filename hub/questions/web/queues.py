"""Queues for referents and the central e-learning team: filters, claim/assign, answers and
internal notes, tags, priority, merge, escalate, canned answers, KB drafts; queue API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from hub.business_hours import BRUSSELS
from hub.errors import Conflict, HubError, InvalidInput, NotFound, PermissionDenied
from hub.i18n import N_, Message
from hub.models import SUPPORT, Role, User
from hub.people import require_role, visible_departments
from hub.questions import answers, asking, canned, escalation, knowledge, merging, queues
from hub.questions.attachments import Upload
from hub.questions.models import Priority
from hub.questions.queues import QueueFilters, QueueRow
from hub.questions.sla import profile
from hub.questions.web.views import QuestionOut, question_out, question_page, read_form
from hub.settings import Settings
from hub.web.deps import CurrentUser, SessionDep, SettingsDep, flash
from hub.web.params import optional_id, parse_int
from hub.web.rendering import render as render_page
from kb import phrasings

router = APIRouter(tags=["queues"])


def _filters(request: Request) -> QueueFilters:
    return QueueFilters.parse(dict(request.query_params))


def _queue_page(
    request: Request,
    db: Session,
    user: User,
    settings: Settings,
    *,
    title: str,
    rows: list[QueueRow],
    filters: QueueFilters,
    scope: str,
    extra: dict[str, object] | None = None,
) -> Response:
    context: dict[str, object] = {
        "title": title,
        "rows": rows,
        "filters": filters,
        "scope": scope,
        "priorities": list(Priority),
        "waiting_choices": queues.WAITING_CHOICES,
        "status_choices": queues.STATUS_CHOICES,
        "crisis": profile(db, settings).crisis,
        "departments": visible_departments(db, user),
        "now": datetime.now(BRUSSELS),
        "phrasings_waiting": phrasings.pending_count(db, actor=user),
        **(extra or {}),
    }
    return render_page(request, "queues/index.html", context)  # htmx filters: the rows block


@router.get("/queues", name="queues")
def queues_index(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep
) -> Response:
    require_role(user, *SUPPORT)
    filters = _filters(request)
    rows = queues.combined_queue(db, actor=user, filters=filters, profile=profile(db, settings))
    absence = queues.own_absence(db, user)
    return _queue_page(
        request,
        db,
        user,
        settings,
        title=N_("File des questions"),
        rows=rows,
        filters=filters,
        scope="",
        extra={"absence": absence},
    )


@router.get("/queues/elearning", name="queue_elearning")
def queue_elearning(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep
) -> Response:
    filters = _filters(request)
    rows = queues.elearning_queue(db, actor=user, filters=filters, profile=profile(db, settings))
    return _queue_page(
        request,
        db,
        user,
        settings,
        title=N_("File de l'équipe e-learning"),
        rows=rows,
        filters=filters,
        scope="elearning",
        extra={"deflection": asking.deflection_stats(db, actor=user)},
    )


@router.get("/queues/canned", name="canned_answers")
def canned_index(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    return _canned_page(request, db, user, form={}, errors={})


def _canned_page(
    request: Request,
    db: Session,
    user: User,
    *,
    form: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    items = canned.list_canned(db, actor=user)
    return render_page(
        request,
        "queues/canned.html",
        {
            "items": items,
            "form": form,
            "errors": errors,
            "departments": visible_departments(db, user),
        },
        status=status,
    )


@router.post("/queues/canned", name="canned_save")
def canned_save(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    title: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    article_slug: Annotated[str, Form()] = "",
    department: Annotated[str, Form()] = "",
    canned_id: Annotated[str, Form()] = "",
) -> Response:
    form = {"title": title, "body": body, "article_slug": article_slug, "department": department}
    existing = optional_id(canned_id, not_found=N_("Réponse type introuvable."))
    try:
        canned.save_canned(
            db,
            actor=user,
            canned_id=existing,
            title=title,
            body=body,
            article_slug=article_slug,
            department=department,
        )
    except (InvalidInput, PermissionDenied) as exc:
        db.rollback()
        errors = getattr(exc, "fields", None) or {"department": exc.message}
        return _canned_page(request, db, user, form=form, errors=errors, status=422)
    db.commit()
    flash(request, N_("Réponse type enregistrée."))
    return RedirectResponse("/queues/canned", status_code=303)


@router.post("/queues/canned/{canned_id}/delete", name="canned_delete")
def canned_delete(request: Request, db: SessionDep, user: CurrentUser, canned_id: int) -> Response:
    canned.delete_canned(db, actor=user, canned_id=canned_id)
    db.commit()
    flash(request, N_("Réponse type supprimée."))
    return RedirectResponse("/queues/canned", status_code=303)


@router.post("/queues/absence", name="queue_absence")
def queue_absence(
    request: Request, db: SessionDep, user: CurrentUser, until: Annotated[str, Form()] = ""
) -> Response:
    require_role(user, Role.referent)
    end = queues.absence_end(until)
    queues.set_absence(db, actor=user, user=user, until=end)
    db.commit()
    flash(
        request,
        N_("Absence enregistrée : votre remplaçant voit vos questions.")
        if end
        else N_("Bon retour !"),
    )
    return RedirectResponse("/queues", status_code=303)


@router.get("/queues/{code}", name="queue_department")
def queue_department(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep, code: str
) -> Response:
    filters = _filters(request)
    department, rows = queues.department_queue(
        db, actor=user, code=code, filters=filters, profile=profile(db, settings)
    )
    return _queue_page(
        request,
        db,
        user,
        settings,
        title=f"{department.code} · {department.name}",
        rows=rows,
        filters=filters,
        scope=department.code,
    )


# --- actions on one question ---------------------------------------------------------------


def _back(question_id: int, message: str, request: Request) -> Response:
    flash(request, message)
    return RedirectResponse(f"/questions/{question_id}", status_code=303)


@router.post("/questions/{question_id}/answer", name="question_answer")
async def question_answer(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep, question_id: int
) -> Response:
    fields, uploads = await read_form(request)
    return await run_in_threadpool(
        _answer, request, db, user, settings, question_id, fields, uploads
    )


def _answer(
    request: Request,
    db: Session,
    user: User,
    settings: Settings,
    question_id: int,
    fields: dict[str, str],
    uploads: list[Upload],
) -> Response:
    internal = fields.get("visibility") == "internal"
    try:
        answers.answer(
            db,
            actor=user,
            question_id=question_id,
            body=fields.get("body", ""),
            internal=internal,
            uploads=uploads,
            data_dir=settings.data_dir,
            base_url=settings.base_url,
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        errors = getattr(exc, "fields", None) or {"body": exc.message}
        return question_page(
            request,
            db,
            user,
            question_id,
            form=fields,
            errors=errors,
            status=422,
        )
    db.commit()
    return _back(
        question_id, N_("Note interne ajoutée.") if internal else N_("Réponse envoyée."), request
    )


@router.post("/questions/{question_id}/claim", name="question_claim")
def question_claim(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep, question_id: int
) -> Response:
    answers.assign(
        db, actor=user, question_id=question_id, assignee_id=user.id, base_url=settings.base_url
    )
    db.commit()
    return _back(question_id, N_("Vous prenez cette question."), request)


@router.post("/questions/{question_id}/assign", name="question_assign")
def question_assign(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    question_id: int,
    assignee: Annotated[str, Form()] = "",
) -> Response:
    assignee_id = None
    if assignee.strip():
        assignee_id = parse_int(
            assignee,
            field="assignee",
            minimum=1,
            message=N_("Choisissez un référent du département ou l'équipe e-learning."),
        )
    answers.assign(
        db, actor=user, question_id=question_id, assignee_id=assignee_id, base_url=settings.base_url
    )
    db.commit()
    return _back(question_id, N_("Attribution enregistrée."), request)


@router.post("/questions/{question_id}/tags", name="question_tags")
def question_tags(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    question_id: int,
    tags: Annotated[str, Form()] = "",
) -> Response:
    try:
        answers.set_tags(db, actor=user, question_id=question_id, tags=answers.parse_tags(tags))
    except InvalidInput as exc:
        db.rollback()
        return _tool_refused(request, db, user, question_id, "tags", tags, exc)
    db.commit()
    return _back(question_id, N_("Mots-clés enregistrés."), request)


def _tool_refused(
    request: Request,
    db: Session,
    user: User,
    question_id: int,
    field: str,
    typed: str,
    exc: HubError,
) -> Response:
    """A staff tool of the question page refused its input: the page again, the message
    beside that field and what was typed still in it (not a bare error page)."""
    message = getattr(exc, "fields", {}).get(field) or exc.message
    return question_page(
        request,
        db,
        user,
        question_id,
        form={field: typed},
        errors={field: message},
        status=exc.status_code,
    )


@router.post("/questions/{question_id}/priority", name="question_priority")
def question_priority(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    question_id: int,
    priority: Annotated[str, Form()] = "",
) -> Response:
    answers.set_priority(db, actor=user, question_id=question_id, priority=priority)
    db.commit()
    return _back(question_id, N_("Priorité enregistrée."), request)


@router.post("/questions/{question_id}/merge", name="question_merge")
def question_merge(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    question_id: int,
    into: Annotated[str, Form()] = "",
) -> Response:
    number = into.strip().lstrip("#").strip()
    # This question first: someone who may not merge it gets 403/404, not a form error.
    queues.open_for_staff(db, actor=user, question_id=question_id)
    try:
        missing = Message(
            N_("La question n° %(number)s n'existe pas ou n'est pas de vos départements."),
            number=number,
        )
        into_id = parse_int(
            number,
            minimum=1,
            message=N_("Indiquez le numéro de la question principale."),
            out_of_range=missing,
        )
        try:
            root = merging.merge(
                db,
                actor=user,
                duplicate_id=question_id,
                into_id=into_id,
                base_url=settings.base_url,
            )
        except (NotFound, PermissionDenied):
            raise InvalidInput(missing) from None
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        return _tool_refused(request, db, user, question_id, "into", into, exc)
    db.commit()
    return _back(
        root.id or 0, N_("Questions fusionnées : une réponse ici sera envoyée à chacun."), request
    )


@router.post("/questions/{question_id}/escalate", name="question_escalate")
def question_escalate(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    question_id: int,
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        escalation.escalate(
            db, actor=user, question_id=question_id, reason=reason, base_url=settings.base_url
        )
    except InvalidInput as exc:
        db.rollback()
        return question_page(
            request,
            db,
            user,
            question_id,
            form={"reason": reason},
            errors=exc.fields,
            status=422,
        )
    db.commit()
    return _back(question_id, N_("Question transmise à l'équipe e-learning."), request)


@router.post("/questions/{question_id}/article", name="question_article")
def question_article(
    request: Request, db: SessionDep, user: CurrentUser, question_id: int
) -> Response:
    article = knowledge.draft_article(db, actor=user, question_id=question_id)
    db.commit()
    flash(request, N_("Brouillon d'article créé : relisez-le avant de le publier."))
    return RedirectResponse(f"/kb/{article.slug}/edit", status_code=303)


# --- JSON API --------------------------------------------------------------------------------


class QueueItemOut(BaseModel):
    question: QuestionOut
    overdue: bool
    due_at: str | None
    waited_hours: float
    assignee: str | None


def _items(db: Session, rows: list[QueueRow]) -> list[QueueItemOut]:
    return [
        QueueItemOut(
            question=question_out(db, row.question, staff=True, tags=row.tags),
            overdue=row.overdue,
            due_at=row.due_at.isoformat() if row.due_at else None,
            waited_hours=round(row.waited.total_seconds() / 3600, 2),
            assignee=row.assignee_name,
        )
        for row in rows
    ]


@router.get("/api/queues/elearning", response_model=list[QueueItemOut], tags=["questions API"])
def api_queue_elearning(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep
) -> list[QueueItemOut]:
    rows = queues.elearning_queue(
        db, actor=user, filters=_filters(request), profile=profile(db, settings)
    )
    return _items(db, rows)


@router.get("/api/queues/{department}", response_model=list[QueueItemOut], tags=["questions API"])
def api_queue(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep, department: str
) -> list[QueueItemOut]:
    _, rows = queues.department_queue(
        db, actor=user, code=department, filters=_filters(request), profile=profile(db, settings)
    )
    return _items(db, rows)
