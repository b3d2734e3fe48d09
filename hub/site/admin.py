"""Administration for the e-learning team: people and departments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from hub.errors import Conflict, InvalidInput
from hub.i18n import N_, Message
from hub.models import TEAM, Role
from hub.people import create_department, create_user, list_departments, list_users, require_role
from hub.web.deps import CurrentUser, SessionDep, flash
from hub.web.rendering import render

router = APIRouter(prefix="/admin", tags=["admin"])


def _page(
    request: Request, db: SessionDep, user: CurrentUser, *, status: int = 200, **extra: object
) -> Response:
    context = {
        "users": list_users(db, actor=user),
        "departments": list_departments(db),
        "roles": list(Role),
        "user_form": {},
        "user_errors": {},
        "department_form": {},
        "department_errors": {},
        **extra,
    }
    return render(request, "admin/people.html", context, status=status)


@router.get("", name="admin")
def admin_index(request: Request, user: CurrentUser) -> Response:
    """The e-learning team's control room: every management page in one place."""
    require_role(user, *TEAM)
    return render(request, "admin/index.html")


@router.get("/people", name="admin_people")
def people(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    return _page(request, db, user)


@router.post("/people", name="admin_people_create")
def create_person(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    departments: Annotated[list[str] | None, Form()] = None,
) -> Response:
    require_role(user, *TEAM)
    form = {"email": email, "name": name, "role": role, "departments": departments or []}
    try:
        created = create_user(db, email=email, name=name, role=role, departments=departments or [])
    except InvalidInput as exc:
        return _page(request, db, user, status=422, user_form=form, user_errors=exc.fields)
    except Conflict as exc:
        db.rollback()
        return _page(
            request, db, user, status=409, user_form=form, user_errors={"email": exc.message}
        )
    db.commit()
    flash(request, Message(N_("Compte créé : %(email)s"), email=created.email))
    return RedirectResponse("/admin/people", status_code=303)


@router.post("/departments", name="admin_department_create")
def create_dept(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    require_role(user, *TEAM)
    form = {"code": code, "name": name}
    try:
        created = create_department(db, code=code, name=name)
    except InvalidInput as exc:
        return _page(
            request, db, user, status=422, department_form=form, department_errors=exc.fields
        )
    except Conflict as exc:
        db.rollback()
        return _page(
            request,
            db,
            user,
            status=409,
            department_form=form,
            department_errors={"code": exc.message},
        )
    db.commit()
    flash(request, Message(N_("Département créé : %(code)s"), code=created.code))
    return RedirectResponse("/admin/people", status_code=303)
