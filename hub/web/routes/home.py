"""The home page (one per role) and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from hub.crisis_mode import PIN_ROLES, pinned_articles
from hub.i18n import LOCALES
from hub.kind_words import approved as approved_kind_words
from hub.models import Role
from hub.people import visible_departments
from hub.web.deps import OptionalUser, SessionDep
from hub.web.rendering import render
from hub.web.routes.auth import safe_next

router = APIRouter(tags=["pages"])


@router.get("/", name="home")
def home(request: Request, db: SessionDep, user: OptionalUser) -> Response:
    departments = (
        visible_departments(db, user)
        if user and user.role in (Role.teacher, Role.referent, Role.elearning)
        else []
    )
    role = user.role.value if user else Role.student.value
    pinned = pinned_articles(db, role) if role in PIN_ROLES else []
    staff = user is not None and user.role in (Role.teacher, Role.referent, Role.elearning)
    kind_words = approved_kind_words(db, actor=user, limit=3) if staff else []
    return render(
        request,
        "home/index.html",
        {"departments": departments, "pinned": pinned, "kind_words": kind_words},
    )


@router.get("/lang/{locale}", name="set_language")
def set_language(request: Request, locale: str, next: str = "/") -> Response:
    """Switch language for this browser session; a plain link, so it works without JS."""
    if locale in LOCALES:
        request.session["lang"] = locale
    return RedirectResponse(safe_next(next), status_code=303)
