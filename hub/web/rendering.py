"""The one template renderer: full page, or only the `content` block for htmx requests."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from fastapi.routing import iter_route_contexts
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2_fragments import render_block
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import NoMatchFound

from hub.i18n import LOCALE_NAMES, LOCALES, Message, translate, translations
from hub.web.navigation import main_navigation
from hub.web.sessions import csrf_token

LOCAL_TIMEZONE = ZoneInfo("Europe/Brussels")
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
PARTIAL_BLOCK = "content"  # what an htmx request gets instead of the whole page


def datetime_local(value: datetime | None, pattern: str = "%d/%m/%Y %H:%M") -> str:
    """A UTC timestamp shown in the college's time zone (Europe/Brussels)."""
    if value is None:
        return "—"
    return value.astimezone(LOCAL_TIMEZONE).strftime(pattern)


def decimal(value: float, digits: int = 1, *, locale: str) -> str:
    """A number with `digits` decimals written as the page's language writes it (Babel):
    1,5 in French, 1.5 in English."""
    return format_decimal(value, format="#,##0." + "0" * digits, locale=locale)


def _flashed(item: dict[str, Any]) -> dict[str, Any]:
    """A flash read back from the session, its Message rebuilt (see hub.web.deps.flash)."""
    template, params = item.get("template"), item.get("params") or {}
    if isinstance(template, str):
        return {**item, "message": Message(template, **params)}
    return item


class RouteAddresses:
    """The paths of an app's named routes: what templates call as `url(name, **params)`.

    A plain path (`/kb/some-slug`), never a host: cached anonymous pages stay valid whatever
    address the hub is reached by. Query strings are added in the template, url-encoded:
    `{{ url('login') }}?next={{ url('my_questions') | urlencode }}`.

    `app.url_path_for` tries every route in turn (half a millisecond for one of the last ones,
    on a page that may link a few hundred exams); the routes are indexed by name here. A name
    the index lacks (a route added since) rebuilds it once before NoMatchFound."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._by_name = self._index()

    def _index(self) -> dict[str, list[Any]]:
        by_name: dict[str, list[Any]] = {}
        for route in iter_route_contexts(self.app.routes):
            if route.name is not None:
                by_name.setdefault(route.name, []).append(route)
        return by_name

    def __call__(self, name: str, /, **path_params: Any) -> str:
        path = self._path(name, path_params)
        if path is None:  # perhaps a route added after the index was built
            self._by_name = self._index()
            path = self._path(name, path_params)
        if path is None:
            raise NoMatchFound(name, path_params)
        return path

    def _path(self, name: str, path_params: dict[str, Any]) -> str | None:
        for route in self._by_name.get(name, ()):
            try:  # the first route of that name taking these parameters, as Starlette does
                return str(route.url_path_for(name, **path_params))
            except NoMatchFound:
                continue
        return None


class Renderer:
    """One Jinja environment per language, so `{% trans %}` needs no per-request state."""

    def __init__(
        self,
        *,
        templates_dir: Path = TEMPLATES_DIR,
        globals: dict[str, Any],
        per_request: dict[str, Callable[[Request], object]] | None = None,
    ) -> None:
        # Values every page shows that depend on the request (the crisis banner), computed
        # when a route does not pass them; given by the app, so this module knows no area.
        self.per_request = per_request or {}
        # The named routes of the app served (one renderer per app), indexed once: `url()` in
        # every template, also those rendered outside `render` (kb/suggest.py passes it).
        self._addresses: RouteAddresses | None = None
        self.environments: dict[str, Environment] = {}
        for locale in LOCALES:
            env = Environment(
                loader=FileSystemLoader(templates_dir),
                autoescape=select_autoescape(default=True, default_for_string=True),
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            catalog = translations(locale)
            env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
            # For messages computed in Python (errors, flashes), which may quote user input:
            # unlike `_()`, whose result Jinja trusts as markup and %-formats, this returns
            # plain text that autoescaping escapes.
            env.filters["translate"] = partial(translate, catalog)
            env.filters["datetime_local"] = datetime_local
            env.filters["decimal"] = partial(decimal, locale=locale)
            env.globals.update(globals, locale=locale, locales=LOCALE_NAMES)
            self.environments[locale] = env

    def addresses(self, app: Any) -> RouteAddresses:
        """The named routes of `app`, indexed once."""
        addresses = self._addresses
        if addresses is None or addresses.app is not app:
            self._addresses = addresses = RouteAddresses(app)
        return addresses

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        env = self.environments[getattr(request.state, "locale", LOCALES[0])]
        url = self.addresses(request.app)
        values = {
            "request": request,
            "url": url,  # url("kb_article", slug=...) -> "/kb/...": addresses by route name
            # navigation(current_user): the header's links for that person on this page
            "navigation": partial(main_navigation, path=request.url.path, url=url),
            "current_user": getattr(request.state, "user", None),
            "csrf_token": lambda: csrf_token(request.scope.setdefault("session", {})),
            "flashes": [
                _flashed(item) for item in request.scope.get("session", {}).pop("flash", [])
            ],
            **(context or {}),
        }
        for name, compute in self.per_request.items():
            if name not in values:
                values[name] = compute(request)
        page = env.get_template(template)
        block = fragment_for(request, page.blocks)
        html = page.render(values) if block is None else render_block(env, template, block, values)
        response = HTMLResponse(html, status_code=status_code, headers=headers)
        response.headers["Vary"] = "HX-Request, HX-Target, Cookie"
        return response


def from_htmx(request: Request) -> bool:
    """A request htmx sent to swap part of the page (not a history restore, which wants the
    whole page)."""
    return request.headers.get("hx-request") == "true" and not request.headers.get(
        "hx-history-restore-request"
    )


def fragment_for(request: Request, blocks: Collection[str]) -> str | None:
    """The block an htmx request gets instead of the whole page: the one named like its
    target element (`HX-Target: queue-rows` -> block `queue_rows`), else `content`; None
    (the whole page) for other requests and for templates without such a block
    (`_`-prefixed partials are rendered whole). Routes render one template either way."""
    if not from_htmx(request):
        return None
    target = (request.headers.get("hx-target") or "").replace("-", "_")
    if target and target in blocks:
        return target
    return PARTIAL_BLOCK if PARTIAL_BLOCK in blocks else None


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Render with the app's renderer: the one call routes use."""
    renderer: Renderer = request.app.state.renderer
    return renderer.render(request, template, context, status_code=status)
