"""Markdown files with YAML front matter <-> articles (`hub kb import` / `hub kb export`).

Import checks every file first and imports each good file whole (one savepoint per file), so
a bad file never leaves half an article; bad files are reported with their name and reason.
Import is idempotent by slug: an unchanged file changes nothing and makes no revision.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, col, select

from hub.errors import HubError, InvalidInput
from hub.models import Department
from kb.articles import ArticleInput, parse_questions, save_article
from kb.models import Article, Status

FRONT_MATTER_KEYS = {
    "slug",
    "title",
    "kind",
    "audience",
    "tags",
    "questions",
    "summary",
    "verified",
    "status",
    "department",
    "video_url",
}
REQUIRED_KEYS = ("slug", "title", "kind", "audience")


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)


class BadFile(Exception):
    pass


def normalize_body(text: str) -> str:
    """A body as stored: Unix line ends, no blank lines around it, one final newline. Files
    and the editor's form both go through it, so exporting an article written in the editor
    and importing it again changes nothing (no spurious revision)."""
    return "\n".join(text.splitlines()).strip() + "\n"


def parse_file(path: Path) -> ArticleInput:
    """Read one article file; raises BadFile with a reason a person can act on."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile(f"not UTF-8 (byte {exc.start})") from None
    lines = content.splitlines()
    if not lines or lines[0].strip() != "---":
        raise BadFile("line 1: front matter must start with ---")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise BadFile("front matter is not closed by a --- line") from None
    import yaml  # here: the web app imports this module (normalize_body), not PyYAML

    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 2}: " if mark is not None else ""
        raise BadFile(f"{where}invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(meta, dict):
        raise BadFile("front matter must be key: value pairs")
    unknown = sorted(set(meta) - FRONT_MATTER_KEYS)
    if unknown:
        raise BadFile(f"unknown front matter key(s): {', '.join(unknown)}")
    missing = [key for key in REQUIRED_KEYS if not meta.get(key)]
    if missing:
        raise BadFile(f"missing front matter key(s): {', '.join(missing)}")
    if meta["slug"] != path.stem:
        raise BadFile(f"slug {meta['slug']!r} differs from the file name {path.stem!r}")
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [tag.strip() for tag in tags.split(",") if tag.strip()]
    if not isinstance(tags, list):
        raise BadFile("tags must be a list")
    questions = meta.get("questions") or []
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise BadFile("questions must be a list of sentences (one `- ...` per line)")
    verified = meta.get("verified")
    if verified is not None and not isinstance(verified, dt.date):
        raise BadFile(f"verified must be a date YYYY-MM-DD (got {verified!r})")
    return ArticleInput(
        slug=str(meta["slug"]),
        title=str(meta["title"]),
        kind=str(meta["kind"]),
        audience=str(meta["audience"]),
        summary=str(meta.get("summary") or ""),
        tags=[str(tag) for tag in tags],
        questions=questions,
        department=meta.get("department") or None,
        status=str(meta.get("status") or Status.published.value),
        verified_on=verified,
        video_url=meta.get("video_url") or None,
        body=normalize_body("\n".join(lines[end + 1 :])),
    )


def import_directory(session: Session, directory: Path) -> ImportReport:
    report = ImportReport()
    if not directory.is_dir():
        report.errors.append((str(directory), "not a directory"))
        return report
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        try:
            data = parse_file(path)
            with session.begin_nested():
                _article, outcome = save_article(session, data, actor=None, note="import")
        except BadFile as exc:
            report.errors.append((path.name, str(exc)))
            continue
        except InvalidInput as exc:
            reasons = "; ".join(f"{name}: {message}" for name, message in exc.fields.items())
            report.errors.append((path.name, reasons or exc.message))
            continue
        except HubError as exc:
            report.errors.append((path.name, exc.message))
            continue
        getattr(report, outcome).append(data.slug)
    return report


def export_directory(session: Session, directory: Path) -> int:
    """Write every article (all statuses) as `<slug>.md`; returns how many."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    departments = {d.id: d.code for d in session.exec(select(Department)).all()}
    articles = session.exec(select(Article).order_by(col(Article.slug))).all()
    for article in articles:
        meta: dict[str, object] = {
            "slug": article.slug,
            "title": article.title,
            "kind": article.kind.value,
            "audience": article.audience.value,
            "tags": [t.strip() for t in article.tags.split(",") if t.strip()],
            "summary": article.summary,
            "questions": parse_questions(article.questions),
            "status": article.status.value,
        }
        if article.verified_on:
            meta["verified"] = article.verified_on
        if article.department_id:
            meta["department"] = departments[article.department_id]
        if article.video_url:
            meta["video_url"] = article.video_url
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
        (directory / f"{article.slug}.md").write_text(
            f"---\n{front}---\n{article.body.rstrip()}\n", encoding="utf-8"
        )
    return len(articles)
