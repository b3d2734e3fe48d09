"""Crisis mode for the e-learning team: the switch, pinned articles, the webinar template,
the switch log and the readiness page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from hub.crisis import mode as crisis_mode
from hub.crisis import readiness
from hub.crisis.state import crisis_state
from hub.errors import InvalidInput
from hub.i18n import N_
from hub.models import TEAM
from hub.people import require_role
from hub.web.deps import CurrentUser, SessionDep, SettingsDep, flash
from hub.web.params import parse_int
from hub.web.rendering import render

router = APIRouter(prefix="/crisis", tags=["crisis"])


def _page(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, object] | None = None,
    template_errors: dict[str, str] | None = None,
    template_form: dict[str, object] | None = None,
    pin_errors: dict[str, str] | None = None,
    pin_form: dict[str, str] | None = None,
) -> Response:
    require_role(user, *TEAM)
    template = crisis_mode.webinar_template(db)
    pins = crisis_mode.pins_by_role(db)
    return render(
        request,
        "crisis/index.html",
        {
            "state": crisis_state(db),
            "history": crisis_mode.history(db, actor=user),
            # After a refused save, what was typed (not the saved pins) goes back in the boxes.
            "pins": pin_form or {role: "\n".join(slugs) for role, slugs in pins.items()},
            "pin_roles": crisis_mode.PIN_ROLES,
            "template": template,
            "errors": errors or {},
            "form": form or {"announce_teams": True},
            "template_errors": template_errors or {},
            "template_form": template_form
            or (
                {
                    "title": template.title,
                    "pattern": template.pattern,
                    "description": template.description,
                    "duration_minutes": template.duration_minutes,
                    "capacity": template.capacity,
                    "weeks": template.weeks,
                }
                if template
                else {"duration_minutes": 60, "capacity": 300, "weeks": 4}
            ),
            "pin_errors": pin_errors or {},
        },
        status=status,
    )


@router.get("", name="crisis")
def crisis_page(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    return _page(request, db, user)


@router.post("/switch", name="crisis_switch")
def crisis_switch(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    action: Annotated[str, Form()],
    message: Annotated[str, Form()] = "",
    announce_teams: Annotated[bool, Form()] = False,
    announce_mail: Annotated[bool, Form()] = False,
    create_webinars: Annotated[bool, Form()] = False,
) -> Response:
    form = {
        "message": message,
        "announce_teams": announce_teams,
        "announce_mail": announce_mail,
        "create_webinars": create_webinars,
    }
    try:
        result = crisis_mode.switch(
            db,
            active=action == "on",
            actor=user,
            message=message,
            announce_teams=announce_teams,
            announce_mail=announce_mail,
            create_webinars=create_webinars,
            base_url=settings.base_url,
        )
    except InvalidInput as exc:
        db.rollback()
        return _page(request, db, user, status=422, errors=exc.fields, form=form)
    db.commit()  # what shows the banner is re-read now (hub.cache.changed, on commit)
    if action == "on":
        flash(
            request,
            N_("Mode crise activé : bandeau affiché, annonce mise en file d'envoi."),
        )
    else:
        flash(request, N_("Mode crise désactivé."))
    if result.webinars:
        flash(request, N_("La série de webinaires a été créée."))
    return RedirectResponse("/crisis", status_code=303)


@router.post("/pins", name="crisis_pins")
def crisis_pins(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    student: Annotated[str, Form()] = "",
    teacher: Annotated[str, Form()] = "",
    referent: Annotated[str, Form()] = "",
) -> Response:
    pins = {
        "student": student.split(),
        "teacher": teacher.split(),
        "referent": referent.split(),
    }
    try:
        crisis_mode.set_pins(db, pins, actor=user)
    except InvalidInput as exc:
        db.rollback()
        typed = {"student": student, "teacher": teacher, "referent": referent}
        return _page(request, db, user, status=422, pin_errors=exc.fields, pin_form=typed)
    db.commit()
    flash(request, N_("Articles épinglés enregistrés."))
    return RedirectResponse("/crisis#pins", status_code=303)


@router.post("/template", name="crisis_template")
def crisis_template(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    title: Annotated[str, Form()] = "",
    pattern: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    duration_minutes: Annotated[str, Form()] = "60",
    capacity: Annotated[str, Form()] = "300",
    weeks: Annotated[str, Form()] = "4",
) -> Response:
    form: dict[str, object] = {
        "title": title,
        "pattern": pattern,
        "description": description,
        "duration_minutes": duration_minutes,
        "capacity": capacity,
        "weeks": weeks,
    }
    numbers: dict[str, int] = {}
    errors: dict[str, str] = {}
    for name, value in (
        ("duration_minutes", duration_minutes),
        ("capacity", capacity),
        ("weeks", weeks),
    ):
        try:
            numbers[name] = parse_int(value, field=name)
        except InvalidInput as exc:
            errors.update(exc.fields)
    try:
        if errors:
            raise InvalidInput(N_("Corrigez les champs signalés."), errors)
        crisis_mode.save_webinar_template(
            db, actor=user, title=title, pattern=pattern, description=description, **numbers
        )
    except InvalidInput as exc:
        db.rollback()
        return _page(request, db, user, status=422, template_errors=exc.fields, template_form=form)
    db.commit()
    flash(request, N_("Modèle de webinaires enregistré."))
    return RedirectResponse("/crisis#template", status_code=303)


@router.get("/readiness", name="readiness")
def readiness_page(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep
) -> Response:
    checks = readiness.run_checks(db, settings, actor=user)
    return render(
        request,
        "crisis/readiness.html",
        {"checks": checks, "ready": sum(1 for check in checks if check.ready)},
    )


@router.post("/readiness/test", name="readiness_test")
def readiness_test(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    crisis_mode.send_test_announcement(db, actor=user)
    db.commit()
    flash(
        request,
        N_("Annonce de test mise en file : Teams et un e-mail à vous-même."),
    )
    return RedirectResponse("/crisis/readiness", status_code=303)
