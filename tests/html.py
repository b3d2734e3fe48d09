"""Assertions on HTML pages read the way a browser reads them, not as substrings of the source.

A substring of raw HTML passes for the wrong reason (the words sit in an attribute, a script,
a `<template>` or a comment) and breaks on harmless markup changes (an attribute added, an
entity written another way). Tests say what the user sees, or which element carries what:

    from tests import html

    assert "Département créé" in html.text(response, ".flash")   # what the reader sees there
    assert "/kb/capsule" in html.links(response, "main a")         # where a link goes
    form = html.one(response, "form[action='/kb/new']")            # exactly one such element
    assert html.form_values(form)["title"] == "Capsule"            # what the form would send

Every function takes a response (which must be HTML), an HTML string or an already parsed
element. A selector that matches nothing fails loudly (`text`, `one`) rather than making a
`not in` check pass for free; `texts` and `select` are there when "no such element" is a
legitimate answer, `top_level` for what an htmx fragment is made of. Deliberately raw checks
stay on `response.text`: escaping (`<script>` must never appear as markup) and "nowhere in
what was sent" (a secret, another person's data, a body the page must not carry).
"""

from __future__ import annotations

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction
from httpx import Response

Source = Response | str | Tag

# Text a reader never sees: code, styles, inert templates, the document's <head> and <title>
# (not a chart's: an SVG <title> is its accessible name), and anything marked `hidden`.
_UNSEEN = frozenset({"script", "style", "template", "noscript", "head"})
_NOT_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction)
# Elements a browser lays out on lines of their own (and an SVG's separate texts): words
# either side never run together.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "button", "caption", "dd", "desc",
        "details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer",
        "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "label", "legend", "li",
        "main", "nav", "ol", "option", "p", "pre", "section", "select", "summary", "svg", "table",
        "tbody", "td", "text", "textarea", "tfoot", "th", "thead", "title", "tr", "ul",
    }
)  # fmt: skip


def page(source: Source) -> Tag:
    """The parsed document (or the element itself, when given one)."""
    if isinstance(source, Tag):
        return source
    if isinstance(source, Response):
        kind = source.headers.get("content-type", "")
        assert kind.startswith("text/html"), f"not an HTML response ({kind!r}): {source.text[:300]}"
        source = source.text
    return BeautifulSoup(source, "html.parser")


def select(source: Source, selector: str) -> list[Tag]:
    """Every element matching a CSS selector, possibly none."""
    return list(page(source).select(selector))


def one(source: Source, selector: str) -> Tag:
    """The single element matching a CSS selector: fails if there are none or several."""
    found = select(source, selector)
    assert len(found) == 1, f"{len(found)} elements match {selector!r}, expected exactly one"
    return found[0]


def texts(source: Source, selector: str) -> list[str]:
    """The visible text of each element matching a CSS selector (an empty list if none does)."""
    return [_visible_text(element) for element in select(source, selector)]


def text(source: Source, selector: str | None = None) -> str:
    """What a reader sees, whitespace normalised: the whole page's text, or that of the
    elements matching `selector` (which must match at least one), joined by " | "."""
    if selector is None:
        return _visible_text(page(source))
    found = texts(source, selector)
    assert found, f"no element matches {selector!r}"
    return " | ".join(found)


def top_level(source: Source) -> list[str]:
    """What a fragment (an htmx answer) is made of: its top-level elements, as "tag#id"."""
    return [
        f"{tag.name}#{tag.get('id', '')}" for tag in page(source).find_all(True, recursive=False)
    ]


def links(source: Source, selector: str = "a") -> list[str]:
    """The `href` of every element matching `selector` (by default every link), in order."""
    return [str(element["href"]) for element in select(source, selector) if element.get("href")]


def form_values(source: Source, selector: str = "form") -> dict[str, str]:
    """What a browser submits for the form (`selector` must name exactly one, or pass the form
    itself) when nothing is changed: named fields, checked boxes, selected options."""
    form = source if isinstance(source, Tag) and source.name == "form" else one(source, selector)
    values: dict[str, str] = {}
    for field in form.find_all(["input", "select", "textarea"]):
        name = field.get("name")
        if not name or field.has_attr("disabled"):
            continue
        kind = str(field.get("type", "text")).lower()
        if field.name == "select":
            option = field.find("option", selected=True) or field.find("option")
            values[str(name)] = _option_value(option) if isinstance(option, Tag) else ""
        elif field.name == "textarea":
            values[str(name)] = field.get_text()
        elif kind in ("checkbox", "radio"):
            if field.has_attr("checked"):
                values[str(name)] = str(field.get("value", "on"))
        elif kind not in ("submit", "button", "reset", "image", "file"):
            values[str(name)] = str(field.get("value", ""))
    return values


def _option_value(option: Tag) -> str:
    value = option.get("value")
    return str(value) if value is not None else option.get_text()


def _visible_text(element: Tag) -> str:
    pieces: list[str] = []
    _collect(element, pieces)
    return " ".join("".join(pieces).split())


def _unseen(tag: Tag) -> bool:
    if tag.name == "title":
        return tag.find_parent("svg") is None
    return tag.name in _UNSEEN or tag.has_attr("hidden")


def _collect(element: Tag, pieces: list[str]) -> None:
    for child in element.children:
        if isinstance(child, Tag):
            if _unseen(child):
                continue
            block = child.name in _BLOCKS
            if block:
                pieces.append(" ")
            _collect(child, pieces)
            if block:
                pieces.append(" ")
        elif isinstance(child, NavigableString) and not isinstance(child, _NOT_TEXT):
            pieces.append(str(child))
