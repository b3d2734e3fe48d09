"""Templates build every internal address from a route name: `url('kb_article', slug=...)`.

A path written by hand in a template is a link that breaks silently when its route moves;
`url()` fails loudly (NoMatchFound) on the page that uses it, and the second test here fails
before any page does: every `url()` call in templates/ names a route of the app with the
path parameters that route takes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from jinja2 import Environment, nodes
from starlette.routing import NoMatchFound

from hub.app import create_app
from hub.settings import load_settings
from hub.web.rendering import TEMPLATES_DIR

TEMPLATES = sorted(TEMPLATES_DIR.rglob("*.html"))
# Attributes whose value is an address (htmx's included), and a value that starts with "/",
# possibly after Jinja tags: `action="{% if x %}/kb/new{% endif %}"`.
ADDRESS_ATTRIBUTE = re.compile(
    r"""\b(href|src|action|formaction|poster|srcset|hx-(?:get|post|put|patch|delete)
          |hx-push-url|hx-replace-url|data-[\w-]*(?:url|href|src)[\w-]*)
        \s*=\s*(["'])\s*(?:\{%.*?%\}\s*)*/""",
    re.VERBOSE | re.DOTALL,
)
JINJA = re.compile(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
JINJA_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def _relative(path: Path) -> str:
    return str(path.relative_to(TEMPLATES_DIR))


def _first_segments(app: Any) -> set[str]:
    """The first segment of every route's path ("kb", "exams", "static"...)."""
    segments = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        segment = path.strip("/").split("/")[0]
        if segment and "{" not in segment:
            segments.add(segment)
    return segments


def hard_coded_addresses(source: str, segments: set[str]) -> list[str]:
    """Internal addresses written by hand in a template's source: in an address attribute,
    in the page's text (`/kb/<slug>` printed on a page), or as a string literal in Jinja code
    (`{% set back = "/kb" %}`)."""
    found = [match.group(0) for match in ADDRESS_ATTRIBUTE.finditer(COMMENT.sub("", source))]
    words = "|".join(sorted(map(re.escape, segments)))
    in_text = re.compile(rf"(?<![\w.:/<-])/(?:{words})(?=[/?#.\"'\s<]|$)")
    text = JINJA.sub(" ", source)  # what the template writes as it is
    found += [match.group(0) for match in in_text.finditer(text)]
    literal = re.compile(rf"""(["'])/(?:(?:{words})\b[^"']*)?\1""")
    for code in JINJA_CODE.findall(COMMENT.sub("", source)):
        found += [match.group(0) for match in literal.finditer(code)]
    return found


def url_calls(environment: Environment, path: Path) -> Iterator[tuple[object, list[str]]]:
    """(route name, keyword names) of every `url(...)` call in a template."""
    tree = environment.parse(path.read_text(encoding="utf-8"))
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "url":
            name = (
                call.args[0].value if call.args and isinstance(call.args[0], nodes.Const) else None
            )
            yield name, [keyword.key for keyword in call.kwargs]


@pytest.fixture(scope="module")
def hub_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The app's routes (no request is made: the database is never opened)."""
    data = tmp_path_factory.mktemp("templates")
    app = create_app(
        load_settings(
            _env_file=None,
            env="test",
            secret_key="test-secret-key-" + "x" * 32,
            data_dir=data,
            database_url=f"sqlite:///{data / 'hub.sqlite3'}",
            scheduler_in_web=False,
        )
    )
    yield app
    app.state.engine.dispose()


def test_the_check_finds_addresses_written_by_hand() -> None:
    segments = {"kb", "exams", "static", "s"}
    assert hard_coded_addresses('<a href="/kb/{{ slug }}">', segments)
    assert hard_coded_addresses('<a href="/">', segments)
    assert hard_coded_addresses('<form action="{% if a %}/kb/new{% endif %}">', segments)
    assert hard_coded_addresses('<div hx-get="/exams" hx-trigger="load">', segments)
    assert hard_coded_addresses("<img src='/s/{{ code }}.svg'>", segments)
    assert hard_coded_addresses("<p>{{ site }} · /kb/{{ slug }}</p>", segments)
    assert hard_coded_addresses('{% set back = "/exams" %}', segments)
    assert hard_coded_addresses("<a href=\"{{ '/kb' }}\">", segments)
    assert not hard_coded_addresses("<a href=\"{{ url('kb_index') }}\">", segments)
    assert not hard_coded_addresses('<a href="https://example.org/kb">', segments)
    assert not hard_coded_addresses('<a href="#main"></a><s>x</s> 1/2', segments)
    assert not hard_coded_addresses("{# GET /kb/suggest #}", segments)
    assert not hard_coded_addresses('{{ d.strftime("%d/%m") }}', segments)


def test_no_template_writes_an_internal_address_by_hand(hub_app: Any) -> None:
    segments = _first_segments(hub_app)
    assert {"kb", "exams", "static", "webinars", "questions"} <= segments
    found = {
        _relative(path): hits
        for path in TEMPLATES
        if (hits := hard_coded_addresses(path.read_text(encoding="utf-8"), segments))
    }
    assert not found, "use url('route_name', ...) instead of these addresses: " + "; ".join(
        f"{name}: {' '.join(hits)}" for name, hits in sorted(found.items())
    )


def test_every_url_call_names_a_route_with_its_parameters(hub_app: Any) -> None:
    environment = hub_app.state.renderer.environments["fr"]
    paths: dict[str, set[str]] = {}
    for route in iter_route_contexts(hub_app.routes):
        paths.setdefault(route.name, set()).add(route.path)
    checked = 0
    wrong = []
    for path in TEMPLATES:
        for name, keywords in url_calls(environment, path):
            checked += 1
            if not isinstance(name, str):
                wrong.append(f"{_relative(path)}: url() needs a route name written as a string")
                continue
            try:
                hub_app.url_path_for(name, **dict.fromkeys(keywords, "1"))
            except NoMatchFound:
                wrong.append(f"{_relative(path)}: no route {name!r} taking {sorted(keywords)}")
            if len(paths.get(name, ())) > 1:  # two routes of that name: name yours (name=...)
                wrong.append(f"{_relative(path)}: {name!r} names {sorted(paths[name])}")
    assert checked > 100  # the parse really found the calls
    assert not wrong, "; ".join(wrong)


def test_templates_decide_by_role_set_not_by_role_name() -> None:
    """What a page shows to whom uses the role sets of hub.models (TEAM, STAFF, SUPPORT, Role),
    as the services do, never a role's name compared as a string (the role_label macro only
    names roles)."""
    compared = re.compile(r"role(\.value)?\s*(==|!=|in|not in)\s*[\"'(]")
    found = [
        f"{path.relative_to(TEMPLATES_DIR)}:{number}"
        for path in TEMPLATES
        if path.name != "_macros.html"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if compared.search(line)
    ]
    assert not found, found
