"""Markdown to safe HTML (markdown-it, then the nh3 sanitizer), checklist items, plain text."""

from __future__ import annotations

import hashlib
import html as html_module
import re
from dataclasses import dataclass
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.tasklists import tasklists_plugin

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable("table").enable("strikethrough")
_markdown.use(tasklists_plugin)
# markdown-it compiles each rule chain lazily on first use, and that is not thread-safe: two
# requests rendering at once in a fresh worker could see a half-built cache (IndexError).
# One render at import compiles every chain before any thread exists.
_markdown.render("# t\n\n- [ ] *a* `b`\n\n| c |\n|---|\n| ~~d~~ |\n")

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "input",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "input": {"type", "checked", "disabled"},
    "li": {"class"},
    "ul": {"class"},
    "th": {"align"},
    "td": {"align"},
}
TASK_ITEM = re.compile(r"^\s*[-*+] \[[ xX]\] +(.+?)\s*$", re.MULTILINE)


def render(markdown_text: str) -> Markup:
    """Render Markdown to HTML safe to show: raw HTML is refused by the parser and anything
    that slips through (javascript: links, event handlers) is removed by the sanitizer."""
    html = _markdown.render(markdown_text)
    # Headings inside an article start at h2: the page's h1 is the article's title.
    html = re.sub(r"<(/?)h1>", r"<\1h2>", html)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return Markup(clean)  # noqa: S704 (sanitized just above)


@dataclass(frozen=True)
class ChecklistItem:
    key: str  # stable while the item's text is unchanged
    text: str  # Markdown
    section: str
    label: str  # plain text, for screen readers and printing


def checklist_items(markdown_text: str) -> list[ChecklistItem]:
    """The `- [ ] ...` items of a checklist, with the `##` section each one is under."""
    items: list[ChecklistItem] = []
    section = ""
    for line in markdown_text.splitlines():
        if line.startswith("#"):
            section = line.lstrip("#").strip()
            continue
        match = TASK_ITEM.match(line)
        if match:
            text = match.group(1)
            key = hashlib.sha256(text.strip().lower().encode()).hexdigest()[:16]
            items.append(ChecklistItem(key=key, text=text, section=section, label=plain_text(text)))
    return items


def render_inline(markdown_text: str) -> Markup:
    """One line of Markdown (a checklist item) without the paragraph around it."""
    html = str(render(markdown_text)).strip()
    if html.startswith("<p>") and html.endswith("</p>"):
        html = html[3:-4]
    return Markup(html)  # noqa: S704 (sanitized by render)


@lru_cache(maxsize=4096)
def plain_text(markdown_text: str) -> str:
    """Text without Markdown markup, for snippets and search (cached: search results show
    snippets of the same articles again and again)."""
    html = _markdown.render(markdown_text)
    text = html_module.unescape(nh3.clean(html, tags=set()))
    return re.sub(r"\s+", " ", text).strip()
