"""The home page (one per role) and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from hub.crisis.mode import PIN_ROLES, pinned_articles
from hub.crisis.state import crisis_active
from hub.i18n import LOCALES
from hub.kind_words import approved as approved_kind_words
from hub.models import STAFF, Role, User
from hub.outbox import failed_count
from hub.people import visible_departments
from hub.questions.models import QuestionStatus
from hub.questions.queues import (
    combined_department_ids,
    escalated_open_count,
    my_questions,
    queue_counts,
)
from hub.web.addresses import safe_next
from hub.web.deps import OptionalUser, SessionDep
from hub.web.rendering import render

router = APIRouter(tags=["pages"])


@router.get("/", name="home")
def home(request: Request, db: SessionDep, user: OptionalUser) -> Response:
    staff = user is not None and user.role in STAFF
    departments = visible_departments(db, user) if user is not None and staff else []
    role = user.role.value if user else Role.student.value
    pinned = pinned_articles(db, role) if role in PIN_ROLES else []
    kind_words = approved_kind_words(db, actor=user, limit=3) if staff else []
    return render(
        request,
        "home/index.html",
        {
            "departments": departments,
            "pinned": pinned,
            "kind_words": kind_words,
            "glance": at_a_glance(db, user) if user else {},
        },
    )


def at_a_glance(db: Session, user: User) -> dict[str, object]:
    """The few numbers each staff role looks at first (kept to cheap counts)."""
    if user.role is Role.teacher:
        mine = my_questions(db, actor=user)
        return {
            "waiting": sum(1 for q in mine if q.status == QuestionStatus.open.value),
            "answered": sum(1 for q in mine if q.status == QuestionStatus.answered.value),
        }
    if user.role is Role.referent:
        counts = queue_counts(db, combined_department_ids(db, user))
        return {"open": sum(counts.values())}
    if user.role is Role.elearning:
        return {
            "crisis": crisis_active(db),
            "escalated": escalated_open_count(db),
            "failed": failed_count(db),
        }
    return {}


@router.get("/lang/{locale}", name="set_language")
def set_language(request: Request, locale: str, next: str = "/") -> Response:
    """Switch language for this browser session; a plain link, so it works without JS."""
    if locale in LOCALES:
        request.session["lang"] = locale
    return RedirectResponse(safe_next(next), status_code=303)
