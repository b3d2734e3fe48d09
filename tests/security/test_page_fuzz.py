"""Hostile values in every query and form field of every page route: never a 5xx.

`/api/` is fuzzed from its OpenAPI document (test_api_schema.py); the pages read their input
in more ways: declared `Query`/`Form` parameters, `request.query_params` and `request.form()`
read by hand, filters parsed by services. So the fields of each route are gathered from the
app itself, not listed here:

- the parameters FastAPI knows (the route's flattened dependant);
- the names the endpoint, and the project functions and classes it calls, read by hand
  (`query_params.get("canned")`, `form.getlist("present")`, `values.get("waiting")`...);
- the fields of the forms and the query keys of the links in the pages the principal sees
  (the form that posts to a route names its fields; `?canned=12` links name a query key);
- the authorization matrix's valid form data for the route.

Routes come from `app.routes` in the authorization matrix's order (destructive ones last)
and are replayed, on SQLite and PostgreSQL, as each of the matrix's six principals, with a
valid CSRF token on unsafe requests. One field at a time gets each hostile value while the
others keep the matrix's valid values, so the hostile value gets as deep as it can.
"""

from __future__ import annotations

import inspect
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.app import create_app
from hub.settings import Settings
from tests import html
from tests.security.conftest import PRINCIPALS, World, build_world, signed_in
from tests.security.test_authorization_matrix import MATRIX, Row, _csrf, _filled, _url

# Integers a browser or a curious person can send: Unicode digits (`str.isdigit()` is true
# for "²" and `int()` fails; `int()` reads "٣" as 3), too large for PostgreSQL's INTEGER or
# for SQLite's 64 bits, exponents, spaces, nothing at all, NUL (PostgreSQL refuses it).
HOSTILE = ("²", "٣", "99999999999", "-99999999999", "9" * 400, "1e3", " 1", "", "\x00")
# What failed before: every principal allowed on a route sends these; the route's owner (the
# most trusted principal allowed, who sees the most of it) sends them all.
SHARP = ("²", "99999999999", "9" * 400, "\x00")
OWNERS = ("elearning", "referent", "teacher", "student", "anonymous", "referent_other")
ALLOWED = ("ok", "204")  # the authorization matrix's outcomes that get past the role checks
SKIPPED = ("/api/", "/static", "/docs/")  # /api/: test_api_schema.py; framework pages
# Names read by hand: `<receiver>.get("name"` / `.getlist("name"` / `["name"]`.
HAND_READ = re.compile(
    r"\b(?:query_params|form|values|data)\s*(?:\.get(?:list)?\(\s*|\[\s*)[\"'](\w+)[\"']"
)
PROJECT = ("hub.", "kb.", "webinars.")
ORDER = {key: index for index, key in enumerate(MATRIX)}


def test_the_fields_read_by_hand_are_found(make_settings: Any) -> None:
    """The fields the issue named are found; a new route's would be found the same way."""
    routes = {key: fields for key, _route, fields in _page_routes(create_app(make_settings()))}
    assert "canned" in routes["GET /questions/{question_id}"]
    assert "waiting" in routes["GET /queues/{code}"]
    for key, field in (
        ("POST /questions/{question_id}/merge", "into"),
        ("POST /questions/{question_id}/assign", "assignee"),
        ("POST /queues/canned", "canned_id"),
        ("POST /webinars/{webinar_id:int}/attendance", "present"),
        ("POST /crisis/template", "capacity"),
    ):
        assert field in routes[key], (key, routes[key])


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_page_routes_answer_hostile_values_without_a_server_error(
    app: Any, db: Session, settings: Settings, principal: str
) -> None:
    world = build_world(db, settings)
    routes = [
        (key, route, fields, values)
        for key, route, fields in _page_routes(app)
        if (values := _values_for(key, principal))
    ]
    failures: list[str] = []
    sent = 0
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
        signed_in(client, world, principal)
        csrf = _csrf(client, principal)
        seen = _FieldsSeen(client, world, [key for key, *_ in routes])
        for key, route, declared, values in routes:
            method, _path = key.split(" ", 1)
            row = _row(key)
            fields = declared | set(row.data) | set(row.query) | seen.fields(method, route)
            if key == "POST /logout":
                csrf = _csrf(client, principal)  # after the password change
            for field in sorted(fields):
                for value in values:
                    response = _send(client, world, key, row, csrf, field, value)
                    sent += 1
                    if response.status_code >= 500:
                        failures.append(f"{key} {field}={value[:20]!r}: {response.status_code}")
    assert sent >= 50, sent
    assert not failures, f"{principal}: {len(failures)} server errors\n" + "\n".join(failures)


def _row(key: str) -> Row:
    """The matrix's row (a route not classified yet: everyone allowed, no valid data)."""
    return MATRIX.get(key) or Row(expected=("ok",) * len(PRINCIPALS))  # type: ignore[arg-type]


def _values_for(key: str, principal: str) -> tuple[str, ...]:
    allowed = [
        name
        for name, outcome in zip(PRINCIPALS, _row(key).expected, strict=True)
        if outcome in ALLOWED
    ]
    if principal not in allowed:
        return ()  # refused before reading anything: the matrix checks that
    owner = min(allowed, key=OWNERS.index)
    return HOSTILE if principal == owner else SHARP


def _send(
    client: TestClient, world: World, key: str, row: Row, csrf: str, field: str, value: str
) -> Any:
    method, path = key.split(" ", 1)
    values = {
        **world.ids,
        "teacher_id": world.users["teacher"].id,
        "referent_id": world.users["referent"].id,
    }
    url = _url(path, row, values)
    if method == "GET":
        query = {**row.query, field: value}
        return client.get(url, params=query)
    data = {**_filled(row.data, values), field: value}
    return client.request(
        method, url, params=row.query or None, data=data, headers={"X-CSRF-Token": csrf}
    )


# --- where the fields come from ------------------------------------------------------------


def _page_routes(app: Any) -> list[tuple[str, Any, set[str]]]:
    """('METHOD path', route, field names) for every page route, in the matrix's order."""
    found = []
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if path.startswith(SKIPPED) or path in ("/api/openapi.json", "/api/docs"):
            continue
        for method in sorted(set(route.methods or {"GET"}) - {"HEAD"}):
            key = f"{method} {path}"
            found.append((key, route, _declared(route) | _read_by_hand(route.endpoint)))
    found.sort(key=lambda item: ORDER.get(item[0], len(ORDER) // 2))
    return found


def _declared(route: Any) -> set[str]:
    """The query and form parameters FastAPI reads for the route (its dependencies' too)."""
    names: set[str] = set()
    pending = [getattr(route, "dependant", None)]
    while pending:
        dependant = pending.pop()
        if dependant is None:
            continue
        names.update(param.alias for param in dependant.query_params)
        names.update(param.alias for param in dependant.body_params)
        pending.extend(dependant.dependencies)
    return names


def _read_by_hand(endpoint: Callable[..., Any] | None) -> set[str]:
    """Names read from the query string or the form by the endpoint and the project code it
    calls (functions, classes, their methods), followed a few calls deep."""
    names: set[str] = set()
    for source in _sources(endpoint, depth=3, seen=set()):
        names.update(HAND_READ.findall(source))
    return names


def _sources(obj: Any, *, depth: int, seen: set[int]) -> Iterator[str]:
    if obj is None or id(obj) in seen or depth < 0:
        return
    seen.add(id(obj))
    module = getattr(obj, "__module__", "") or ""
    if not module.startswith(PROJECT):
        return
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):
        return
    yield source
    namespace = getattr(obj, "__globals__", None)
    if namespace is None:
        namespace = vars(inspect.getmodule(obj) or object)
    for name in set(re.findall(r"\b([A-Za-z_]\w*)\s*[.(]", source)):
        target = namespace.get(name)
        if inspect.isfunction(target) or inspect.isclass(target):
            yield from _sources(target, depth=depth - 1, seen=seen)


class _Forms(HTMLParser):
    """Forms (action, method, field names) and links with a query string in one page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, set[str]]] = []
        self.links: list[tuple[str, set[str]]] = []
        self._form: tuple[str, str, set[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            method = (attributes.get("method") or "get").upper()
            self._form = (attributes.get("action", ""), method, set())
            self.forms.append(self._form)
        elif tag in ("input", "select", "textarea", "button") and attributes.get("name"):
            if self._form is not None:
                self._form[2].add(attributes["name"])
        for name in ("href", "hx-get", "hx-post", "formaction"):
            target = attributes.get(name, "")
            if "?" in target:
                url = urlsplit(target)
                keys = {key for key, _ in parse_qsl(url.query, keep_blank_values=True)}
                self.links.append((url.path, keys))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


class _FieldsSeen:
    """The fields each route receives from the pages this principal sees."""

    def __init__(self, client: TestClient, world: World, keys: Iterable[str]) -> None:
        self._by_target: dict[tuple[str, str], set[str]] = defaultdict(set)
        values = {
            **world.ids,
            "teacher_id": world.users["teacher"].id,
            "referent_id": world.users["referent"].id,
        }
        for key in keys:
            method, path = key.split(" ", 1)
            if method != "GET":
                continue
            url = _url(path, _row(key), values)
            response = client.get(url)
            if "text/html" not in response.headers.get("content-type", ""):
                continue
            parser = _Forms()
            parser.feed(response.text)
            for action, form_method, names in parser.forms:
                target = urlsplit(action).path or url.split("?")[0]
                self._by_target[(form_method, target)].update(names - {"csrf_token"})
            for target, keys in parser.links:
                self._by_target[("GET", target or url.split("?")[0])].update(keys)

    def fields(self, method: str, route: Any) -> set[str]:
        regex = getattr(route, "path_regex", None)
        if regex is None:
            return set()
        return {
            name
            for (form_method, target), names in self._by_target.items()
            if form_method == method and regex.match(target)
            for name in names
        }


CASES = [
    ("GET", "/questions/{question_id}?canned=²", {}, 404, "Réponse type introuvable"),
    ("GET", "/questions/{question_id}?canned=99999999999", {}, 404, "Réponse type introuvable"),
    ("GET", "/queues/SCI?waiting=²", {}, 200, "Quiz Moodle en panne"),
    ("POST", "/questions/{question_id}/assign", {"assignee": "²"}, 422, "Choisissez un"),
    ("POST", "/questions/{question_id}/merge", {"into": "99999999999"}, 422, "existe pas"),
    ("POST", "/questions/{question_id}/merge", {"into": "٣"}, 422, "Indiquez le num"),
    ("POST", "/queues/canned", {"title": "T", "body": "B", "canned_id": "²"}, 404, "introuvable"),
    ("POST", "/crisis/template", {"title": "Q", "capacity": "99999999999"}, 422, "nombre entier"),
]


@pytest.mark.parametrize(("method", "path", "data", "status", "text"), CASES)
def test_an_integer_out_of_reach_gets_the_usual_answer(
    app: Any,
    db: Session,
    settings: Settings,
    method: str,
    path: str,
    data: dict[str, str],
    status: int,
    text: str,
) -> None:
    """What the person sees: the page's own 404 or the form's message, the data unchanged."""
    world = build_world(db, settings)
    url = path.format(**world.ids)
    with TestClient(app, follow_redirects=False) as client:
        signed_in(client, world, "elearning")
        headers = {"X-CSRF-Token": _csrf(client, "elearning")}
        response = client.request(method, url, data=data or None, headers=headers)
    assert response.status_code == status, response.text[:300]
    assert text in html.text(response, "main")
