"""Every HTML page of the hub, as each principal sees it, is structurally sound.

The pages are the GET rows of the authorization matrix that the principal may open, on the
matrix's world (one real object of every kind), plus pages that only show parts of
themselves with a query (the question form with its suggestions, search results). What a
user would notice if this failed:

- a `<form>` inside a `<form>`: the browser drops the inner form's tag, so its button
  submits the *outer* form (a "this solved my problem" button that sends the question);
- a POST form without its CSRF field: the click ends on "session expired";
- two elements with one `id`: a label, `aria-*` reference or htmx target hits the wrong one;
- a `<label for>` naming no element: a screen reader announces a field without its name;
- a link or button inside a link: which one a click follows depends on the browser.
"""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.settings import Settings
from tests.security.conftest import PRINCIPALS, build_world, signed_in
from tests.security.test_authorization_matrix import MATRIX, OK, _request, outcome

# Pages whose interesting parts appear only with a query.
EXTRA_PAGES: dict[str, tuple[str, ...]] = {
    "/questions/new?title=quiz+moodle&body=examen": ("teacher",),
    "/kb?q=moodle": PRINCIPALS,
    "/exams?q=PHYS": PRINCIPALS,
}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
VOID |= {"track", "wbr"}
INTERACTIVE = {"a", "button"}


class Markup(HTMLParser):
    """Collects the structural faults of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.faults: list[str] = []
        self.ids: Counter[str] = Counter()
        self.label_targets: list[str] = []
        self.open: list[str] = []  # open elements, innermost last
        self.form: dict[str, str] | None = None  # attributes of the open form
        self.form_fields: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        line = self.getpos()[0]
        if "id" in attributes:
            self.ids[attributes["id"]] += 1
        if tag == "label" and attributes.get("for"):
            self.label_targets.append(attributes["for"])
        if tag in INTERACTIVE and any(t == "a" for t in self.open):
            self.faults.append(f"line {line}: <{tag}> inside a link")
        if tag == "form":
            if self.form is not None:
                self.faults.append(
                    f"line {line}: <form action={attributes.get('action')!r}> inside "
                    f"<form action={self.form.get('action')!r}>"
                )
            self.form, self.form_fields = attributes, set()
        elif tag in {"input", "button", "select", "textarea"} and attributes.get("name"):
            self.form_fields.add(attributes["name"])
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.form is not None:
            method = self.form.get("method", "get").lower()
            if method == "post" and "csrf_token" not in self.form_fields:
                self.faults.append(
                    f"line {self.getpos()[0]}: POST form to {self.form.get('action')!r} "
                    "without a csrf_token field"
                )
            self.form = None
        if tag in self.open:
            while self.open and self.open.pop() != tag:
                pass

    def close(self) -> None:
        super().close()
        self.faults += [f"id {name!r} used {n} times" for name, n in self.ids.items() if n > 1]
        self.faults += [
            f'<label for="{target}"> names no element'
            for target in self.label_targets
            if target not in self.ids
        ]


def faults_of(html: str) -> list[str]:
    parser = Markup()
    parser.feed(html)
    parser.close()
    return parser.faults


def test_the_checker_sees_what_a_browser_would_get_wrong() -> None:
    page = """
      <form method="post" action="/questions/new"><input name="csrf_token">
        <input id="t"><label for="missing">x</label>
        <form method="post" action="/questions/solved"><button>ok</button></form>
      </form>
      <a href="/a"><button>b</button></a><p id="t"></p>
    """
    faults = faults_of(page)
    assert any("inside <form action='/questions/new'>" in f for f in faults)
    assert any("'/questions/solved' without a csrf_token" in f for f in faults)
    assert "id 't' used 2 times" in faults
    assert '<label for="missing"> names no element' in faults
    assert any("<button> inside a link" in f for f in faults)
    sound = '<form method="post" action="/x"><input type="hidden" name="csrf_token"></form>'
    assert faults_of(sound) == []


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_page_is_well_formed(
    app: Any, db: Session, settings: Settings, principal: str
) -> None:
    world = build_world(db, settings)
    column = PRINCIPALS.index(principal)
    checked, wrong = 0, []
    with TestClient(app, follow_redirects=False) as client:
        signed_in(client, world, principal)
        pages: list[tuple[str, Any]] = []
        for key, row in MATRIX.items():
            if key.startswith("GET ") and row.expected[column] == OK:
                pages.append((key, _request(client, world, key, row, principal=principal)))
        for url, principals in EXTRA_PAGES.items():
            if principal in principals:
                pages.append((f"GET {url}", client.get(url)))
        for key, response in pages:
            html = "text/html" in response.headers.get("content-type", "")
            if outcome(response) != OK or not html or "<html" not in response.text[:500]:
                continue  # not a page (a partial is checked inside the page including it)
            checked += 1
            wrong += [f"{key}: {fault}" for fault in faults_of(response.text)]
    assert checked >= 5, f"only {checked} pages were checked for {principal}"
    assert not wrong, f"{principal}:\n" + "\n".join(wrong)
