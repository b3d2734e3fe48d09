"""Teams pages: the crisis channel panel (htmx partial), its refresh, and "Créer une
réunion Teams" for a webinar session (a department's channel is set on its page:
hub/site/departments.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from hub.errors import HubError
from hub.i18n import N_
from hub.models import STAFF, TEAM, Role
from hub.people import require_role
from hub.teams import feed
from hub.web.deps import CurrentUser, OptionalUser, SessionDep, SettingsDep, flash
from hub.web.rendering import from_htmx, render

router = APIRouter(tags=["teams"])


def _panel(request: Request, db: SessionDep, settings: SettingsDep, user: OptionalUser) -> Response:
    if user is None or user.role not in STAFF:
        return Response(status_code=204)  # nothing for students and anonymous readers
    cached = feed.cached_feed(db, settings) if settings.teams_mode else None
    if settings.teams_mode == "graph" and feed.is_stale(cached, settings):
        # No worker refreshed it lately: one background read, this page does not wait.
        feed.refresh_in_background(request.app.state.engine, settings)
    return render(
        request,
        "teams/_feed.html",
        {"feed": cached, "mode": settings.teams_mode, "can_refresh": user.role is Role.elearning},
    )


@router.get("/teams/feed", name="teams_feed")
def teams_feed(
    request: Request, db: SessionDep, settings: SettingsDep, user: OptionalUser
) -> Response:
    return _panel(request, db, settings, user)


@router.post("/teams/feed/refresh", name="teams_feed_refresh")
def teams_feed_refresh(
    request: Request, db: SessionDep, settings: SettingsDep, user: CurrentUser
) -> Response:
    """The e-learning team reads the channel now (this request waits for Graph)."""
    require_role(user, *TEAM)
    db.commit()  # release the write lock while Graph answers
    feed.refresh(request.app.state.engine, settings, force=True)
    db.expire_all()
    if from_htmx(request):
        return _panel(request, db, settings, user)
    return RedirectResponse("/", status_code=303)


@router.post("/teams/webinars/{webinar_id:int}/meeting", name="teams_webinar_meeting")
def webinar_meeting(
    request: Request, db: SessionDep, settings: SettingsDep, user: CurrentUser, webinar_id: int
) -> Response:
    """Create (idempotently) the webinar session's Teams meeting and store its link."""
    from hub.teams.meetings import create_meeting

    db.commit()  # the Graph call must not hold the request's write transaction
    try:
        create_meeting(request.app.state.engine, settings, webinar_id, actor=user)
    except HubError as exc:
        if exc.status_code in (403, 404):
            raise
        flash(request, exc.message, "error")
    else:
        flash(request, N_("Réunion Teams créée : le lien est enregistré et envoyé aux inscrits."))
    return RedirectResponse(f"/webinars/{webinar_id}", status_code=303)


@router.get("/teams", name="teams_page")
def teams_page(
    request: Request, db: SessionDep, settings: SettingsDep, user: CurrentUser
) -> Response:
    """The panel as a page of its own (the home page's link without JavaScript)."""
    require_role(user, *STAFF)
    cached = feed.cached_feed(db, settings) if settings.teams_mode else None
    if settings.teams_mode == "graph" and feed.is_stale(cached, settings):
        feed.refresh_in_background(request.app.state.engine, settings)
    return render(
        request,
        "teams/index.html",
        {"feed": cached, "mode": settings.teams_mode, "can_refresh": user.role is Role.elearning},
    )
