"""Webinar pages (/webinars...), the personal calendar feed (/calendar/<token>.ics) and the
JSON API (/api/webinars...). Routes parse, call webinars' services, commit, render."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from hub.errors import InvalidInput, NotFound
from hub.i18n import N_
from hub.models import TEAM, User, id_of, utcnow
from hub.people import require_role
from hub.settings import Settings
from hub.web.deps import CurrentUser, OptionalUser, SessionDep, SettingsDep, flash
from hub.web.params import parse_int
from hub.web.rendering import render
from webinars import feeds, notify, questions
from webinars.invites import LOCAL_TIME, Person, publish
from webinars.models import RegistrationStatus, SessionStatus, WebinarSession
from webinars.registration import (
    counts,
    register,
    registration_of,
    registrations,
    unregister,
    waitlist_position,
)
from webinars.series import create_series
from webinars.sessions import (
    SessionInput,
    announce,
    can_host,
    can_manage,
    cancel_session,
    create_session,
    get_session,
    hosts_of,
    list_sessions,
    mark_attendance,
    my_registrations,
    parse_local_datetime,
    publish_to_kb,
    set_join_url,
    set_recording,
    update_session,
    waitlist_count,
)

router = APIRouter(tags=["webinars"])
api = APIRouter(prefix="/api/webinars", tags=["webinars API"])
ICS_TYPE = "text/calendar; charset=utf-8"


def _local_input(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%dT%H:%M")


def _number(form: dict[str, str], name: str, errors: dict[str, str]) -> int:
    """A whole number typed in the form (its error beside the field; 0 meanwhile)."""
    try:
        return parse_int(form.get(name, ""), field=name)
    except InvalidInput as exc:
        errors.update(exc.fields)
        return 0


def _when(request: Request) -> Callable[..., str]:
    """The date formatter for the pages, in the viewer's language (mails stay French)."""
    return notify.when_in(getattr(request.state, "locale", "fr"))


def _hosts(text: str) -> list[str]:
    return [item.strip() for item in text.replace(";", ",").replace("\n", ",").split(",")]


# --- list and session page -------------------------------------------------------------


@router.get("/webinars", name="webinars_index")
def webinars_index(request: Request, db: SessionDep, user: OptionalUser) -> Response:
    sessions = list_sessions(db)
    mine = {}
    if user is not None:
        mine = {id_of(w): r for w, r in my_registrations(db, user, since=utcnow())}
    return render(
        request,
        "webinars/index.html",
        {
            "sessions": sessions,
            "mine": mine,
            "can_manage": can_manage(user),
            "when": _when(request),
        },
    )


def _session_context(
    request: Request, db: Session, webinar: WebinarSession, user: User | None, settings: Settings
) -> dict[str, Any]:
    webinar_id = id_of(webinar)
    registration = registration_of(db, webinar_id, user.id or 0) if user else None
    if registration is not None and registration.status == RegistrationStatus.cancelled.value:
        registration = None
    host = can_host(db, user, webinar_id)
    registered, waitlisted = counts(db, webinar_id)
    return {
        "webinar": webinar,
        "registration": registration,
        "position": waitlist_position(db, registration) if registration else None,
        "registered": registered,
        "waitlisted": waitlisted,
        "hosts": hosts_of(db, webinar_id),
        "is_host": host,
        "can_manage": can_manage(user),
        "questions": questions.list_questions(db, webinar_id, viewer=user),
        "can_ask": questions.can_take_part(db, user, webinar_id),
        "participants": registrations(db, webinar_id) if host else [],
        "started": webinar.starts_at <= utcnow(),
        "cancelled": webinar.status == SessionStatus.cancelled.value,
        "when": _when(request)(webinar.starts_at, webinar.duration_minutes),
        "errors": {},
        "form": {},
    }


@router.get("/webinars/{webinar_id:int}", name="webinar_page")
def webinar_page(
    request: Request, db: SessionDep, user: OptionalUser, settings: SettingsDep, webinar_id: int
) -> Response:
    webinar = get_session(db, webinar_id)
    return render(
        request, "webinars/session.html", _session_context(request, db, webinar, user, settings)
    )


@router.post("/webinars/{webinar_id:int}/register", name="webinar_register")
def webinar_register(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep, webinar_id: int
) -> Response:
    registration = register(db, webinar_id, actor=user, settings=settings)
    db.commit()
    if registration.status == RegistrationStatus.registered.value:
        flash(request, N_("Inscription confirmée : l'invitation arrive par e-mail."))
    else:
        flash(request, N_("Webinaire complet : vous êtes sur la liste d'attente."), "info")
    return RedirectResponse(f"/webinars/{webinar_id}", status_code=303)


@router.post("/webinars/{webinar_id:int}/unregister", name="webinar_unregister")
def webinar_unregister(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep, webinar_id: int
) -> Response:
    unregister(db, webinar_id, actor=user, settings=settings)
    db.commit()
    flash(request, N_("Désinscription enregistrée."))
    return RedirectResponse(f"/webinars/{webinar_id}", status_code=303)


@router.get("/webinars/{webinar_id:int}/invite.ics", name="webinar_ics")
def webinar_ics(
    db: SessionDep, user: OptionalUser, settings: SettingsDep, webinar_id: int
) -> Response:
    """The download button: the session as a PUBLISH calendar (with the signed-in person's
    own SEQUENCE, so a later e-mailed update still applies)."""
    webinar = get_session(db, webinar_id)
    registration = registration_of(db, webinar_id, user.id or 0) if user else None
    context = notify.mail_context(settings)
    body = publish(
        [(webinar, notify.personal_sequence(webinar, registration))],
        organizer=context.organizer,
        attendee=Person(user.email, user.name) if user and registration else None,
        link_for={webinar_id: context.link(notify.session_path(webinar))},
    )
    return Response(
        body,
        media_type=ICS_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="webinaire-{webinar_id}.ics"',
            "Cache-Control": "private, no-store",
        },
    )


# --- questions -----------------------------------------------------------------------------


@router.post("/webinars/{webinar_id:int}/questions", name="webinar_ask")
def webinar_ask(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    webinar_id: int,
    text: Annotated[str, Form()] = "",
) -> Response:
    try:
        questions.ask(db, webinar_id, text, actor=user)
    except InvalidInput as exc:
        db.rollback()
        context = _session_context(request, db, get_session(db, webinar_id), user, settings)
        context.update(errors=exc.fields, form={"text": text})
        return render(request, "webinars/session.html", context, status=422)
    db.commit()
    flash(request, N_("Question envoyée aux animateurs."))
    return RedirectResponse(f"/webinars/{webinar_id}#questions", status_code=303)


@router.post("/webinars/questions/{question_id:int}/vote", name="webinar_vote")
def webinar_vote(request: Request, db: SessionDep, user: CurrentUser, question_id: int) -> Response:
    question = questions.toggle_vote(db, question_id, actor=user)
    db.commit()
    return RedirectResponse(f"/webinars/{question.session_id}#questions", status_code=303)


# --- management (e-learning team, hosts) -------------------------------------------------


def _session_form(form: dict[str, str]) -> tuple[SessionInput, dict[str, str]]:
    errors: dict[str, str] = {}
    starts_at = None
    try:
        starts_at = parse_local_datetime(form.get("starts_at", ""))
    except InvalidInput as exc:
        errors.update(exc.fields)
    data = SessionInput(
        title=form.get("title", ""),
        description=form.get("description", ""),
        starts_at=starts_at,
        duration_minutes=_number(form, "duration_minutes", errors),
        capacity=_number(form, "capacity", errors),
        hosts=_hosts(form.get("hosts", "")),
        join_url=form.get("join_url", "").strip(),
    )
    return data, errors


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(value) for key, value in form.items() if isinstance(value, str)}


@router.get("/webinars/new", name="webinar_new")
def webinar_new(request: Request, user: CurrentUser) -> Response:
    require_role(user, *TEAM)
    form = {"duration_minutes": "60", "capacity": "100"}
    return render(request, "webinars/edit.html", {"form": form, "errors": {}, "webinar": None})


@router.post("/webinars/new", name="webinar_create")
async def webinar_create(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    form = await _form(request)
    return await _run(request, db, user, form, None)


@router.get("/webinars/{webinar_id:int}/edit", name="webinar_edit")
def webinar_edit(request: Request, db: SessionDep, user: CurrentUser, webinar_id: int) -> Response:
    require_role(user, *TEAM)
    webinar = get_session(db, webinar_id)
    form = {
        "title": webinar.title,
        "description": webinar.description,
        "starts_at": _local_input(webinar.starts_at),
        "duration_minutes": str(webinar.duration_minutes),
        "capacity": str(webinar.capacity),
        "join_url": webinar.join_url,
        "hosts": ", ".join(h.email for h in hosts_of(db, webinar_id)),
    }
    return render(request, "webinars/edit.html", {"form": form, "errors": {}, "webinar": webinar})


@router.post("/webinars/{webinar_id:int}/edit", name="webinar_update")
async def webinar_update(
    request: Request, db: SessionDep, user: CurrentUser, webinar_id: int
) -> Response:
    form = await _form(request)
    return await _run(request, db, user, form, webinar_id)


async def _run(
    request: Request, db: Session, user: User, form: dict[str, str], webinar_id: int | None
) -> Response:
    from starlette.concurrency import run_in_threadpool

    settings: Settings = request.app.state.settings

    def work() -> tuple[int | None, dict[str, str], list[str]]:
        require_role(user, *TEAM)
        data, errors = _session_form(form)
        try:
            if errors:
                raise InvalidInput(N_("Séance invalide."), errors)
            if webinar_id is None:
                webinar = create_session(db, actor=user, data=data)
                changes: list[str] = []
            else:
                webinar, changes = update_session(
                    db, webinar_id, data, actor=user, settings=settings
                )
        except InvalidInput as exc:
            db.rollback()
            return None, {**errors, **exc.fields} or {"title": exc.message}, []
        db.commit()
        return id_of(webinar), {}, changes

    def refused(errors: dict[str, str]) -> Response:
        webinar = get_session(db, webinar_id) if webinar_id else None
        return render(
            request,
            "webinars/edit.html",
            {"form": form, "errors": errors, "webinar": webinar},
            status=422,
        )

    def save() -> tuple[int | None, Response | None, list[str]]:
        saved_id, errors, changes = work()
        return saved_id, refused(errors) if saved_id is None else None, changes

    saved_id, refusal, changes = await run_in_threadpool(save)  # one thread hop
    if refusal is not None:
        return refusal
    if webinar_id is None:
        flash(request, N_("Séance créée."))
    elif changes:
        flash(request, N_("Séance modifiée : les inscrits reçoivent une mise à jour."))
    else:
        flash(request, N_("Séance enregistrée."))
    return RedirectResponse(f"/webinars/{saved_id}", status_code=303)


@router.get("/webinars/series/new", name="webinar_series_new")
def webinar_series_new(request: Request, user: CurrentUser) -> Response:
    require_role(user, *TEAM)
    form = {"pattern": "mardi 15:00, jeudi 15:00", "duration_minutes": "60", "capacity": "100"}
    return render(request, "webinars/series.html", {"form": form, "errors": {}})


@router.post("/webinars/series/new", name="webinar_series_create")
async def webinar_series_create(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await _form(request)

    def work() -> tuple[int, dict[str, str]]:
        require_role(user, *TEAM)
        errors: dict[str, str] = {}
        dates: dict[str, date] = {}
        for name in ("starts_on", "ends_on"):
            try:
                dates[name] = date.fromisoformat(form.get(name, "").strip())
            except ValueError:
                errors[name] = N_("Date attendue (AAAA-MM-JJ).")
        duration_minutes = _number(form, "duration_minutes", errors)
        capacity = _number(form, "capacity", errors)
        try:
            if errors:
                raise InvalidInput(N_("Série invalide."), errors)
            _series, created = create_series(
                db,
                actor=user,
                title=form.get("title", ""),
                description=form.get("description", ""),
                pattern=form.get("pattern", ""),
                starts_on=dates["starts_on"],
                ends_on=dates["ends_on"],
                duration_minutes=duration_minutes,
                capacity=capacity,
                hosts=_hosts(form.get("hosts", "")),
            )
        except InvalidInput as exc:
            db.rollback()
            return 0, {**errors, **exc.fields}
        db.commit()
        return len(created), {}

    created, errors = await run_in_threadpool(work)
    if errors:
        return render(request, "webinars/series.html", {"form": form, "errors": errors}, status=422)
    flash(request, N_("Série créée."))
    return RedirectResponse("/webinars", status_code=303)


@router.post("/webinars/{webinar_id:int}/cancel", name="webinar_cancel")
def webinar_cancel(
    request: Request, db: SessionDep, user: CurrentUser, settings: SettingsDep, webinar_id: int
) -> Response:
    cancel_session(db, webinar_id, actor=user, settings=settings)
    db.commit()
    flash(request, N_("Séance annulée : les inscrits sont prévenus."))
    return RedirectResponse(f"/webinars/{webinar_id}", status_code=303)


@router.post("/webinars/{webinar_id:int}/join-url", name="webinar_join_url")
def webinar_join_url(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    webinar_id: int,
    join_url: Annotated[str, Form()] = "",
) -> Response:
    set_join_url(db, webinar_id, join_url, actor=user, settings=settings)
    db.commit()
    flash(request, N_("Lien enregistré."))
    return RedirectResponse(f"/webinars/{webinar_id}", status_code=303)


@router.post("/webinars/{webinar_id:int}/announce", name="webinar_announce")
def webinar_announce(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    webinar_id: int,
    scope: Annotated[str, Form()] = "session",
) -> Response:
    webinar = get_session(db, webinar_id)
    targets = [webinar]
    if scope == "series" and webinar.series_id is not None:
        targets = [
            w
            for w in list_sessions(db)
            if w.series_id == webinar.series_id and w.starts_at > utcnow()
        ]
    announce(db, targets, actor=user, settings=settings)
    db.commit()
    flash(request, N_("Annonce envoyée dans le canal Teams de crise."))
    return RedirectResponse(f"/webinars/{webinar_id}", status_code=303)


@router.post("/webinars/{webinar_id:int}/attendance", name="webinar_attendance")
async def webinar_attendance(
    request: Request, db: SessionDep, user: CurrentUser, webinar_id: int
) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await request.form()
    # Checkboxes of registrants' ids: anything else was not sent by the page (422).
    present = {parse_int(str(value), minimum=1) for value in form.getlist("present")}

    def work() -> None:
        mark_attendance(db, webinar_id, present, actor=user)
        db.commit()

    await run_in_threadpool(work)
    flash(request, N_("Présences enregistrées."))
    return RedirectResponse(f"/webinars/{webinar_id}#participants", status_code=303)


@router.post("/webinars/{webinar_id:int}/recording", name="webinar_recording")
def webinar_recording(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    webinar_id: int,
    recording_url: Annotated[str, Form()] = "",
    transcript: Annotated[str, Form()] = "",
) -> Response:
    set_recording(db, webinar_id, recording_url=recording_url, transcript=transcript, actor=user)
    db.commit()
    flash(request, N_("Enregistrement ajouté."))
    return RedirectResponse(f"/webinars/{webinar_id}", status_code=303)


@router.post("/webinars/{webinar_id:int}/publish", name="webinar_publish")
def webinar_publish(
    request: Request, db: SessionDep, user: CurrentUser, webinar_id: int
) -> Response:
    slug = publish_to_kb(db, webinar_id, actor=user)
    db.commit()
    flash(request, N_("Article vidéo publié dans les tutoriels."))
    return RedirectResponse(f"/kb/{slug}", status_code=303)


# --- my calendar and the subscription feed -------------------------------------------------


@router.get("/webinars/calendar", name="webinar_calendar")
def webinar_calendar(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    return _calendar_page(request, db, user, new_token=None)


def _calendar_page(request: Request, db: Session, user: User, *, new_token: str | None) -> Response:
    settings: Settings = request.app.state.settings
    base = settings.base_url or str(request.base_url).rstrip("/")
    return render(
        request,
        "webinars/calendar.html",
        {
            "items": my_registrations(db, user, since=utcnow()),
            "when": _when(request),
            "feed": feeds.current(db, user),
            "feed_url": f"{base}{feeds.feed_path(new_token)}" if new_token else None,
        },
    )


@router.post("/webinars/calendar/feed", name="webinar_feed_regenerate")
def webinar_feed_regenerate(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    """A new address, shown once on the page this POST answers (it is not stored)."""
    token = feeds.regenerate(db, user)
    db.commit()
    response = _calendar_page(request, db, user, new_token=token)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/webinars/calendar/feed/revoke", name="webinar_feed_revoke")
def webinar_feed_revoke(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    feeds.revoke(db, user)
    db.commit()
    flash(request, N_("Lien d'abonnement supprimé."))
    return RedirectResponse("/webinars/calendar", status_code=303)


@router.get("/calendar/{token}.ics", name="calendar_feed")
def calendar_feed(db: SessionDep, settings: SettingsDep, token: str) -> Response:
    owner = feeds.owner(db, token)
    if owner is None:
        raise NotFound(N_("Calendrier introuvable."))
    return Response(
        feeds.feed(db, owner, settings=settings),
        media_type=ICS_TYPE,
        headers={"Cache-Control": "private, max-age=300"},
    )


# --- JSON API ------------------------------------------------------------------------------


class WebinarPublic(BaseModel):
    id: int
    title: str
    description: str
    starts_at: str  # ISO, Europe/Brussels local time with its offset
    ends_at: str
    duration_minutes: int
    capacity: int
    status: str
    registered: int
    waitlisted: int
    url: str


class WebinarCreate(BaseModel):
    title: str = Field(max_length=400)
    starts_at: str = Field(max_length=40)
    duration_minutes: int
    capacity: int
    description: str = Field(default="", max_length=10000)


def _public(db: Session, webinar: WebinarSession) -> WebinarPublic:
    from datetime import timedelta

    start = webinar.starts_at.astimezone(LOCAL_TIME)
    return WebinarPublic(
        id=id_of(webinar),
        title=webinar.title,
        description=webinar.description,
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(minutes=webinar.duration_minutes)).isoformat(),
        duration_minutes=webinar.duration_minutes,
        capacity=webinar.capacity,
        status=webinar.status,
        registered=webinar.registered_count,
        waitlisted=waitlist_count(db, id_of(webinar)),
        url=notify.session_path(webinar),
    )


@api.get("", response_model=list[WebinarPublic])
def api_list(db: SessionDep, user: CurrentUser) -> list[WebinarPublic]:
    return [_public(db, webinar) for webinar in list_sessions(db)]


@api.post("", status_code=201, response_model=WebinarPublic)
def api_create(db: SessionDep, user: CurrentUser, body: WebinarCreate) -> WebinarPublic:
    starts_at = parse_local_datetime(body.starts_at)
    webinar = create_session(
        db,
        actor=user,
        data=SessionInput(
            title=body.title,
            description=body.description,
            starts_at=starts_at,
            duration_minutes=body.duration_minutes,
            capacity=body.capacity,
        ),
    )
    db.commit()
    return _public(db, webinar)


@api.get("/{webinar_id:int}", response_model=WebinarPublic)
def api_get(db: SessionDep, user: CurrentUser, webinar_id: int) -> WebinarPublic:
    return _public(db, get_session(db, webinar_id))


@api.post("/{webinar_id:int}/registrations")
def api_register(
    db: SessionDep, user: CurrentUser, settings: SettingsDep, webinar_id: int
) -> JSONResponse:
    registration = register(db, webinar_id, actor=user, settings=settings)
    db.commit()
    seated = registration.status == RegistrationStatus.registered.value
    return JSONResponse(
        {
            "status": registration.status,
            "waitlist_position": waitlist_position(db, registration),
        },
        status_code=201 if seated else 202,
    )


@api.delete("/{webinar_id:int}/registrations")
def api_unregister(
    db: SessionDep, user: CurrentUser, settings: SettingsDep, webinar_id: int
) -> JSONResponse:
    registration = unregister(db, webinar_id, actor=user, settings=settings)
    db.commit()
    return JSONResponse({"status": registration.status})


router.include_router(api)  # one router for the app to include: pages, feed and API
