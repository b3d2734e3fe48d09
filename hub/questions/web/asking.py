"""Teachers' question pages (ask with KB suggestions, my questions, one question with its
answers), attachments, and the question JSON API (token auth)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from hub.errors import Conflict, InvalidInput, PermissionDenied
from hub.i18n import N_
from hub.models import User
from hub.questions import answers, asking, attachments, escalation
from hub.questions.attachments import INLINE_TYPES, Upload
from hub.questions.models import Question, Source
from hub.questions.queues import is_staff_for, my_questions, open_question
from hub.questions.web.views import (
    MessageOut,
    QuestionOut,
    question_out,
    question_page,
    read_form,
)
from hub.settings import Settings
from hub.web.deps import CurrentUser, SessionDep, SettingsDep, flash
from hub.web.rendering import render as render_page

router = APIRouter(tags=["questions"])


# --- asking ------------------------------------------------------------------------------


def _ask_page(
    request: Request,
    db: Session,
    user: User,
    form: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    draft = form.get("draft") or asking.new_draft_key()
    suggestions = None
    if form.get("title") or form.get("body"):
        suggestions = asking.suggest(
            db, actor=user, title=form.get("title", ""), body=form.get("body", ""), draft_key=draft
        )
        db.commit()
    return render_page(
        request,
        "questions/new.html",
        {
            "form": form,
            "errors": errors,
            "draft": draft,
            "suggestions": suggestions,
            "accepted": attachments.ACCEPTED,
        },
        status=status,
    )


@router.get("/questions/new", name="question_new")
def question_new(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    title: str = "",
    body: str = "",
    draft: str = "",
) -> Response:
    """The form; with `title`/`body` (the no-JavaScript "search first" button) it comes back
    filled in, with the matching tutorials under it."""
    asking_roles_only(user)
    form = {"title": title[:200], "body": body[:10_000], "draft": draft[:40]}
    return _ask_page(request, db, user, {k: v for k, v in form.items() if v}, {})


def asking_roles_only(user: User) -> None:
    if user.role not in asking.ASKERS:
        raise PermissionDenied(N_("Seuls les enseignants posent des questions ici."))


@router.get("/questions/suggest", name="question_suggest")
def question_suggest(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    title: str = "",
    body: str = "",
    draft: str = "",
) -> Response:
    """The htmx partial under the form: KB articles matching what is typed."""
    suggestions = asking.suggest(db, actor=user, title=title, body=body, draft_key=draft)
    db.commit()
    return render_page(request, "questions/_suggestions.html", {"suggestions": suggestions})


@router.get("/questions/suggestion/{slug}", name="question_suggestion_open")
def question_suggestion_open(
    request: Request, db: SessionDep, user: CurrentUser, slug: str, draft: str = ""
) -> Response:
    """A suggestion opened from the form: counted, then the article."""
    asking.record_click(db, actor=user, draft_key=draft, slug=slug)
    db.commit()
    return RedirectResponse(f"/kb/{quote(slug)}?question_draft={quote(draft)}", status_code=303)


@router.post("/questions/solved", name="question_solved")
def question_solved(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    draft: Annotated[str, Form()] = "",
    slug: Annotated[str, Form()] = "",
    typed: Annotated[str, Form()] = "",
) -> Response:
    """ "This solved my problem": no question is created (the title typed so far is
    proposed as a phrasing of the article)."""
    asking.solved_by_suggestion(db, actor=user, draft_key=draft, slug=slug, title=typed)
    db.commit()
    flash(request, N_("Tant mieux ! Votre problème est résolu sans attendre."))
    return RedirectResponse("/questions", status_code=303)


@router.post("/questions/new", name="question_create")
async def question_create(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep
) -> Response:
    fields, uploads = await read_form(request)
    return await run_in_threadpool(_create, request, db, user, settings, fields, uploads)


def _create(
    request: Request,
    db: Session,
    user: User,
    settings: Settings,
    fields: dict[str, str],
    uploads: list[Upload],
) -> Response:
    asking_roles_only(user)
    try:
        question = asking.ask(
            db,
            actor=user,
            title=fields.get("title", ""),
            body=fields.get("body", ""),
            uploads=uploads,
            data_dir=settings.data_dir,
            draft_key=fields.get("draft"),
            base_url=settings.base_url,
        )
    except InvalidInput as exc:
        db.rollback()
        return _ask_page(request, db, user, fields, exc.fields or {"body": exc.message}, 422)
    db.commit()
    flash(request, N_("Question envoyée au référent de votre département."))
    return RedirectResponse(f"/questions/{question.id}", status_code=303)


# --- my questions and one question -------------------------------------------------------


@router.get("/questions", name="my_questions")
def questions_index(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    return render_page(
        request,
        "questions/index.html",
        {"questions": my_questions(db, actor=user), "can_ask": user.role in asking.ASKERS},
    )


@router.get("/questions/{question_id}", name="question_detail")
def question_detail(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep, question_id: int
) -> Response:
    return question_page(request, db, user, question_id)


@router.post("/questions/{question_id}/reply", name="question_reply")
def question_reply(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    question_id: int,
    body: Annotated[str, Form()] = "",
) -> Response:
    try:
        answers.reply(
            db, actor=user, question_id=question_id, body=body, base_url=settings.base_url
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        errors = getattr(exc, "fields", None) or {"reply": exc.message}
        return question_page(
            request,
            db,
            user,
            question_id,
            form={"reply": body},
            errors=errors,
            status=422,
        )
    db.commit()
    flash(request, N_("Réponse envoyée."))
    return RedirectResponse(f"/questions/{question_id}", status_code=303)


@router.post("/questions/{question_id}/resolved", name="question_resolved")
def question_resolved(
    request: Request, db: SessionDep, user: CurrentUser, question_id: int
) -> Response:
    answers.resolve(db, actor=user, question_id=question_id)
    db.commit()
    flash(request, N_("Question marquée comme résolue. Merci !"))
    return RedirectResponse(f"/questions/{question_id}", status_code=303)


@router.post("/questions/{question_id}/reopen", name="question_reopen")
def question_reopen(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    question_id: int,
    body: Annotated[str, Form()] = "",
) -> Response:
    answers.reopen(db, actor=user, question_id=question_id, body=body, base_url=settings.base_url)
    db.commit()
    flash(request, N_("Question rouverte : le référent est prévenu."))
    return RedirectResponse(f"/questions/{question_id}", status_code=303)


# --- attachments ---------------------------------------------------------------------------


@router.get("/attachments/{attachment_id}", name="attachment")
def attachment(
    db: SessionDep, user: CurrentUser, settings: SettingsDep, attachment_id: int
) -> Response:
    row, path = attachments.open_attachment(
        db, actor=user, attachment_id=attachment_id, data_dir=settings.data_dir
    )
    disposition = "inline" if row.content_type in INLINE_TYPES else "attachment"
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=row.filename,
        content_disposition_type=disposition,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


# --- JSON API ------------------------------------------------------------------------------


class QuestionIn(BaseModel):
    title: str = Field(max_length=1000)
    body: str = Field(max_length=20_000)


@router.post("/api/questions", status_code=201, response_model=QuestionOut, tags=["questions API"])
def api_ask(
    db: SessionDep, user: CurrentUser, settings: SettingsDep, data: QuestionIn
) -> QuestionOut:
    question = asking.ask(
        db,
        actor=user,
        title=data.title,
        body=data.body,
        data_dir=settings.data_dir,
        source=Source.api,
        base_url=settings.base_url,
    )
    db.commit()
    return question_out(db, question, staff=False)


@router.get("/api/questions/{question_id}", response_model=QuestionOut, tags=["questions API"])
def api_question(db: SessionDep, user: CurrentUser, question_id: int) -> QuestionOut:
    view = answers.view_question(db, actor=user, question_id=question_id)
    messages = [
        MessageOut(
            id=m.id or 0,
            kind=m.kind,
            author=m.author_name,
            body=m.body,
            created_at=m.created_at.isoformat(),
        )
        for m in (view.messages + view.followed_answers)
    ]
    return question_out(db, view.question, staff=view.staff, tags=view.tags, messages=messages)


class AnswerIn(BaseModel):
    body: str = Field(max_length=20_000)
    internal: bool = False


@router.post(
    "/api/questions/{question_id}/answers",
    status_code=201,
    response_model=MessageOut,
    tags=["questions API"],
)
def api_answer(
    db: SessionDep, user: CurrentUser, settings: SettingsDep, question_id: int, data: AnswerIn
) -> MessageOut:
    question = open_question(db, actor=user, question_id=question_id)
    if not is_staff_for(db, user, question) and question.asker_id == user.id and not data.internal:
        message = answers.reply(
            db, actor=user, question_id=question_id, body=data.body, base_url=settings.base_url
        )
    else:
        message = answers.answer(
            db,
            actor=user,
            question_id=question_id,
            body=data.body,
            internal=data.internal,
            data_dir=settings.data_dir,
            base_url=settings.base_url,
        )
    db.commit()
    return MessageOut(
        id=message.id or 0,
        kind=message.kind,
        author=message.author_name,
        body=message.body,
        created_at=message.created_at.isoformat(),
    )


class EscalateIn(BaseModel):
    reason: str = Field(max_length=5000)


@router.post(
    "/api/questions/{question_id}/escalate",
    status_code=201,
    response_model=QuestionOut,
    tags=["questions API"],
)
def api_escalate(
    db: SessionDep, user: CurrentUser, settings: SettingsDep, question_id: int, data: EscalateIn
) -> QuestionOut:
    escalation.escalate(
        db, actor=user, question_id=question_id, reason=data.reason, base_url=settings.base_url
    )
    db.commit()
    question = db.get(Question, question_id)
    assert question is not None
    return question_out(db, question, staff=True)
