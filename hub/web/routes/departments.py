"""Department pages: who the referents are, who belongs; isolated per department."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hub.people import (
    department_members,
    department_referents,
    open_department,
    visible_departments,
)
from hub.web.deps import CurrentUser, SessionDep
from hub.web.rendering import render

router = APIRouter(prefix="/departments", tags=["departments"])


@router.get("", name="departments")
def departments(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    return render(request, "departments/index.html", {"departments": visible_departments(db, user)})


@router.get("/{code}", name="department")
def department(request: Request, db: SessionDep, user: CurrentUser, code: str) -> Response:
    found = open_department(db, actor=user, code=code)
    return render(
        request,
        "departments/detail.html",
        {
            "department": found,
            "referents": department_referents(db, found),
            "members": department_members(db, found, actor=user),
        },
    )
