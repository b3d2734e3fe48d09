"""What the question pages, the queues and the question API share: the page of one
question (with its staff tools), the question's JSON shape, and the multipart form reader.
Routes import these from here, never from each other."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import Session
from starlette.datastructures import UploadFile

from hub.i18n import N_
from hub.models import Department, Role, User
from hub.questions import answers, canned, merging
from hub.questions.attachments import Upload
from hub.questions.models import Question
from hub.questions.sla import profile
from hub.web.params import optional_id
from hub.web.rendering import render
from kb.models import Article


async def read_form(request: Request) -> tuple[dict[str, str], list[Upload]]:
    """Text fields and uploaded files of a (multipart) form."""
    form = await request.form()
    fields: dict[str, str] = {}
    uploads: list[Upload] = []
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                if data or value.filename:
                    uploads.append(Upload(filename=value.filename or "", data=data))
            elif key not in fields:
                fields[key] = value
    finally:
        await form.close()
    return fields, uploads


def question_page(
    request: Request,
    db: Session,
    user: User,
    question_id: int,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    view = answers.view_question(db, actor=user, question_id=question_id)
    context: dict[str, Any] = {
        "view": view,
        "q": view.question,
        "form": form or {},
        "errors": errors or {},
        "department": db.get(Department, view.question.department_id),
        "is_asker": view.question.asker_id == user.id,
    }
    if view.staff:
        settings = request.app.state.settings
        sla = profile(db, settings)
        canned_id = optional_id(
            request.query_params.get("canned", ""), not_found=N_("Réponse type introuvable.")
        )
        if canned_id is not None:
            chosen = canned.get_canned(db, actor=user, canned_id=canned_id)
            context["form"] = {
                "body": canned.canned_text(chosen, base_url=settings.base_url),
                **context["form"],
            }
        context.update(
            similar=merging.similar_questions(db, actor=user, question_id=question_id),
            canned_answers=canned.list_canned(
                db, actor=user, department_id=view.question.department_id
            ),
            assignees=answers.possible_assignees(db, view.question),
            referent_due=sla.referent_due(view.question.clock_started_at)
            if view.question.first_response_at is None and view.question.level == 0
            else None,
            crisis=sla.crisis,
            article=db.get(Article, view.question.article_id) if view.question.article_id else None,
            can_escalate=user.role is Role.referent and view.question.level == 0,
        )
    return render(request, "questions/detail.html", context, status=status)


class MessageOut(BaseModel):
    id: int
    kind: str
    author: str
    body: str
    created_at: str


class QuestionOut(BaseModel):
    id: int
    department: str
    status: str
    priority: str
    level: int
    title: str
    body: str
    asker: str
    source: str
    tags: list[str]
    created_at: str
    first_response_at: str | None
    merged_into: int | None
    url: str
    messages: list[MessageOut] = []


def question_out(
    db: Session,
    question: Question,
    *,
    staff: bool,
    tags: list[str] | None = None,
    messages: list[MessageOut] | None = None,
) -> QuestionOut:
    department = db.get(Department, question.department_id)
    return QuestionOut(
        id=question.id or 0,
        department=department.code if department else "?",
        status=question.status,
        priority=question.priority,
        level=question.level,
        title=question.title,
        body=question.body,
        asker=question.asker_name,
        source=question.source,
        tags=tags or [],
        created_at=question.created_at.isoformat(),
        first_response_at=question.first_response_at.isoformat()
        if question.first_response_at
        else None,
        merged_into=question.merged_into_id if staff else None,
        url=f"/questions/{question.id}",
        messages=messages or [],
    )
