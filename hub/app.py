"""The app factory: settings -> engine -> middleware -> routes -> error pages -> scheduler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

import kb.pages
import kb.search
from hub import __version__
from hub.business_hours import BRUSSELS
from hub.byproducts import Flusher
from hub.crisis import web as crisis_web
from hub.crisis.mode import cached_banner, current_banner
from hub.db import make_engine, reader, writer
from hub.errors import HubError, InvalidInput, NotSignedIn
from hub.exams import web as exams_web
from hub.exams.timetable import fresh_version
from hub.i18n import N_, pick_locale
from hub.jobs import periodic_jobs
from hub.models import STAFF, SUPPORT, TEAM, Role
from hub.questions.web import asking as asking_web
from hub.questions.web import queues as queues_web
from hub.reporting import web as reporting_web
from hub.reporting.visits import VisitCounterMiddleware, VisitRecorder
from hub.scheduler import Scheduler
from hub.settings import Settings, get_settings
from hub.site import (
    account,
    admin,
    api,
    auth,
    departments,
    health,
    home,
    kind_words,
    landing,
    messages,
)
from hub.teams import web as teams_web
from hub.web.caching import PageCacheMiddleware
from hub.web.deps import load_request_context
from hub.web.middleware import RequestGuardMiddleware, SecurityHeadersMiddleware
from hub.web.rendering import Renderer
from hub.web.sessions import SessionMiddleware
from kb import web as kb_web
from kb.feedback import SearchLogRecorder
from kb.suggest import SuggestMiddleware
from webinars import web as webinars_web

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
DATABASE_RETRY_AFTER_SECONDS = 5  # Retry-After of the 503 answered while the database is away


def _crisis_banner(request: Request) -> object:
    """The crisis banner shown on every page (cached per process for a few seconds), read
    through the request's own session: a request never takes a second connection."""
    session = getattr(request.state, "db", None)
    if session is not None:
        return current_banner(session)
    engine = getattr(request.app.state, "engine", None) if "app" in request.scope else None
    return cached_banner(engine.url) if engine is not None else None


def create_app(settings: Settings | None = None, *, run_scheduler: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.effective_database_url, threads=settings.web_threads)
    scheduler_wanted = settings.scheduler_in_web if run_scheduler is None else run_scheduler
    visits = VisitRecorder(engine)
    search_logs = SearchLogRecorder(engine)
    byproducts = Flusher(visits, search_logs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in anyio's thread pool: exactly as many threads as pooled
        # connections, so a request never waits for a connection (hub/db.py).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        scheduler = Scheduler(engine, settings, periodic_jobs()) if scheduler_wanted else None
        if scheduler:
            scheduler.start()
        app.state.scheduler = scheduler
        byproducts.start()
        # The search vocabulary built in the background now, so that the first searches
        # after a (re)start do not wait for it.
        kb.search.warm_up(engine)
        yield
        byproducts.stop()
        if scheduler:
            scheduler.stop()
        engine.dispose()

    app = FastAPI(
        title="Hub de crise / Crisis hub",
        version=__version__,
        lifespan=lifespan,
        dependencies=[Depends(load_request_context)],
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.visits = visits
    app.state.search_logs = search_logs
    app.state.byproducts = byproducts
    app.state.read_engine = reader(engine)
    app.state.write_engine = writer(engine)
    app.state.scheduler = None
    app.state.renderer = Renderer(
        globals={
            "app_version": __version__,
            "brussels": BRUSSELS,  # dates shown in the college's time
            "demo_mode": settings.demo,
            "sso_enabled": settings.oidc_enabled,
            "sso_provider": settings.oidc_provider_name,
            "teams_meetings_enabled": settings.teams_mode == "graph",
            # What a page shows to whom: the named role sets the services check.
            "Role": Role,
            "STAFF": STAFF,
            "SUPPORT": SUPPORT,
            "TEAM": TEAM,
        },
        per_request={"crisis_banner": _crisis_banner},
    )

    # Added innermost first: the body/CSRF guard, cached anonymous pages, sessions, and
    # security headers outermost (so they are on every answer, cached ones included).
    app.add_middleware(RequestGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    # Cached anonymous exam pages are answered here, before the framework (the rush).
    app.add_middleware(
        PageCacheMiddleware,
        cache=exams_web.pages,
        accept=lambda scope: scope["path"].startswith(("/exams", "/api/exams")),
        version=partial(fresh_version, str(engine.url)),
        locale=pick_locale,
    )
    # And the anonymous knowledge-base article pages (kb/pages.py).
    app.add_middleware(
        PageCacheMiddleware,
        cache=kb.pages.pages,
        accept=kb.pages.cacheable,
        version=partial(kb.pages.fresh_version, str(engine.url)),
        locale=pick_locale,
    )
    # Page views by role and area, cached pages included (no personal trail is kept).
    app.add_middleware(VisitCounterMiddleware, recorder=visits)
    # A signed-in reader's search-as-you-type, answered from memory (kb/suggest.py).
    app.add_middleware(
        SuggestMiddleware,
        engine_url=str(engine.url),
        generation=partial(kb.pages.fresh_generation, str(engine.url)),
        renderer=app.state.renderer,
        search_logs=search_logs,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        max_age=settings.session_max_age_seconds,
    )
    app.add_middleware(SecurityHeadersMiddleware)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (
        home,
        landing,
        auth,
        account,
        departments,
        admin,
        api,
        health,
        messages,
        kind_words,
    ):
        app.include_router(module.router)
    app.include_router(crisis_web.router)
    app.include_router(reporting_web.router)
    app.include_router(kb_web.router)
    app.include_router(kb_web.api)
    app.include_router(exams_web.router)
    app.include_router(exams_web.api)
    app.include_router(webinars_web.router)  # pages, /calendar feeds, /api/webinars
    app.include_router(asking_web.router)  # before queues: /questions/new, then ids
    app.include_router(queues_web.router)
    app.include_router(teams_web.router)
    _install_error_pages(app)
    app.openapi = partial(_openapi, app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the hub's own error body described: a 422 is either FastAPI's
    validation error (`detail` a list) or a service's `InvalidInput` (`detail` a message and
    `fields` per form field), and 4xx answers carry `{"detail": "<message>"}`."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, routes=app.routes, description=app.description
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["HubError"] = {
        "title": "HubError",
        "type": "object",
        "required": ["detail"],
        "properties": {
            "detail": {"type": "string", "title": "Detail"},
            "fields": {
                "type": "object",
                "title": "Fields",
                "additionalProperties": {"type": "string"},
            },
        },
    }
    hub_error = {"$ref": "#/components/schemas/HubError"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            invalid = responses.get("422")
            if invalid is not None:
                content = invalid.setdefault("content", {}).setdefault("application/json", {})
                documented = content.get("schema")
                content["schema"] = {"anyOf": [documented, hub_error]} if documented else hub_error
    app.openapi_schema = schema
    return schema


def _wants_json(request: Request) -> bool:
    """API paths, token-authenticated calls and clients asking for JSON get JSON errors."""
    headers = request.headers
    return (
        request.url.path.startswith("/api/")
        or "authorization" in headers
        or "application/json" in headers.get("accept", "")
    )


def _return_to(request: Request) -> str:
    """Where to go back after signing in: the page itself for a GET, the page the form was
    on for a POST (going to a POST address with GET after sign-in would fail)."""
    if request.method in ("GET", "HEAD"):
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc and referer.path.startswith("/"):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return "/"


def _error_response(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return _error_page(request, status, message)


def _error_page(request: Request, status: int, message: str) -> Response:
    """An error page that needs neither the database nor the request's session: the person
    comes from the snapshot taken when they were found, the banner from the last one read."""
    if not hasattr(request.state, "locale"):
        request.state.locale = pick_locale((request.scope.get("session") or {}).get("lang"))
    renderer: Renderer = request.app.state.renderer
    context = {
        "status": status,
        "message": message,
        "current_user": getattr(request.state, "viewer", None),
        "crisis_banner": cached_banner(request.app.state.engine.url),
    }
    try:
        return renderer.render(request, "errors/error.html", context, status_code=status)
    except Exception:  # never a failure inside the failure: a plain page will do
        log.exception("could not render the %s page", status)
        return PlainTextResponse(str(message), status_code=status)


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(HubError)
    async def hub_error(request: Request, exc: HubError) -> Response:
        if isinstance(exc, NotSignedIn):
            if _wants_json(request):
                return JSONResponse(
                    {"detail": exc.message},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return RedirectResponse(f"/login?next={quote(_return_to(request))}", status_code=303)
        response = _error_response(request, exc.status_code, exc.message)
        if isinstance(exc, InvalidInput) and exc.fields and _wants_json(request):
            response = JSONResponse(
                {"detail": exc.message, "fields": exc.fields}, status_code=exc.status_code
            )
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: N_("Page introuvable."), 405: N_("Méthode non autorisée.")}
        message = messages.get(exc.status_code) or str(exc.detail)
        response = _error_response(request, exc.status_code, message)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": jsonable_errors(exc)}, status_code=422)
        return _error_response(request, 422, N_("Données envoyées invalides."))

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    async def database_unavailable(request: Request, exc: Exception) -> Response:
        # The database is down, restarting, unreachable, or (SQLite) locked beyond the busy
        # timeout, or every pooled connection is busy: a temporary state, not a bug. The pool
        # recovers by itself (pre-ping), so the client is told to come back shortly.
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        message = N_(
            "Le hub ne peut pas joindre sa base de données pour le moment. "
            "Réessayez dans quelques instants."
        )
        headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=503, headers=headers)
        response = _error_page(request, 503, message)
        response.headers.update(headers)
        return response

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_response(
            request, 500, N_("Une erreur inattendue s'est produite. L'équipe a été prévenue.")
        )


def jsonable_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    return [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]
