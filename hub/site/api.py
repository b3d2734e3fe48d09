"""JSON API for integrations (token auth): who am I, which departments I may see."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from hub.models import Department, Role
from hub.people import visible_departments
from hub.web.deps import CurrentUser, SessionDep

router = APIRouter(prefix="/api", tags=["api"])


class DepartmentPublic(BaseModel):
    code: str
    name: str


class MePublic(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    department: str | None
    serves: list[str]


@router.get("/me", response_model=MePublic)
def me(db: SessionDep, user: CurrentUser) -> MePublic:
    """The token's owner: role, own department, and for a referent the departments served."""
    assert user.id is not None
    own = db.get(Department, user.department_id) if user.department_id else None
    serves = [d.code for d in visible_departments(db, user)] if user.role is Role.referent else []
    return MePublic(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        department=own.code if own else None,
        serves=serves,
    )


@router.get(
    "/departments",
    response_model=list[DepartmentPublic],
    name="api_departments",  # the page /departments is "departments"
    operation_id="departments_api_departments_get",  # as before the name: clients keep it
    summary="Departments",
)
def departments(db: SessionDep, user: CurrentUser) -> list[DepartmentPublic]:
    return [DepartmentPublic(code=d.code, name=d.name) for d in visible_departments(db, user)]
