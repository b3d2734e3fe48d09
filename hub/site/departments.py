"""Department pages: who the referents are (and who is away), who belongs; isolated per
department. The e-learning team marks a referent absent here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from hub.errors import InvalidInput, NotFound
from hub.i18n import N_
from hub.models import TEAM, Department, User
from hub.people import (
    department_members,
    department_referents,
    open_department,
    require_role,
    visible_departments,
)
from hub.questions import queues
from hub.teams.channels import set_department_channel
from hub.web.deps import CurrentUser, SessionDep, flash
from hub.web.rendering import render

router = APIRouter(prefix="/departments", tags=["departments"])


@router.get("", name="departments")
def departments(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    return render(request, "departments/index.html", {"departments": visible_departments(db, user)})


def department_page(
    request: Request,
    db: Session,
    user: User,
    department: Department,
    *,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """The department page (also re-rendered with a form's errors by the routes posting to
    it)."""
    return render(
        request,
        "departments/detail.html",
        {
            "department": department,
            "referents": department_referents(db, department),
            "absences": queues.current_absences(db),
            "members": department_members(db, department, actor=user),
            **(extra or {}),
        },
        status=status,
    )


@router.get("/{code}", name="department")
def department(request: Request, db: SessionDep, user: CurrentUser, code: str) -> Response:
    return department_page(request, db, user, open_department(db, actor=user, code=code))


@router.post("/{code}/referents/{user_id:int}/absence", name="department_referent_absence")
def referent_absence(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    code: str,
    user_id: int,
    until: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """The e-learning team marks one of the department's referents away until a date (empty,
    or the "back" button: present again). Their questions and notifications go to the
    department's backup referents meanwhile."""
    require_role(user, *TEAM)
    found = open_department(db, actor=user, code=code)
    referent = next((r for r, _ in department_referents(db, found) if r.id == user_id), None)
    if referent is None:
        raise NotFound(N_("Ce référent n'appartient pas à ce département."))
    try:
        end = None if back else queues.absence_end(until)
        queues.set_absence(db, actor=user, user=referent, until=end)
    except InvalidInput as exc:
        db.rollback()
        found = open_department(db, actor=user, code=code)
        errors = {user_id: exc.fields.get("until") or exc.message}
        extra = {"absence_errors": errors, "absence_values": {user_id: until}}
        return department_page(request, db, user, found, extra=extra, status=422)
    db.commit()
    flash(
        request,
        N_("Absence enregistrée : les suppléants du département reçoivent ses questions.")
        if end
        else N_("Retour enregistré."),
    )
    return RedirectResponse(f"/departments/{found.code}", status_code=303)


@router.post("/{code}/teams-channel", name="department_teams_channel")
def department_teams_channel(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    code: str,
    teams_channel_id: str = Form(""),
) -> Response:
    department = open_department(db, actor=user, code=code)
    try:
        set_department_channel(db, department, teams_channel_id, actor=user)
    except InvalidInput as exc:
        db.rollback()
        department = open_department(db, actor=user, code=code)
        extra = {"teams_errors": exc.fields, "teams_channel_value": teams_channel_id}
        return department_page(request, db, user, department, extra=extra, status=422)
    db.commit()
    flash(request, N_("Canal Teams du département enregistré."))
    return RedirectResponse(f"/departments/{department.code}", status_code=303)
