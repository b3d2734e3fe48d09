"""The KB index lists one page of articles at a time, filtered and paginated in SQL.

Issue 14: `/kb` read and rendered every readable article, bodies included (549 ms and
1.2 MB at 20,000 articles); bench/rush.py measures its time at 5,000."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session

from hub.models import Role
from kb.articles import INDEX_PAGE_SIZE, ArticleInput, save_article
from tests import html
from tests.factories import make_department, make_user, sign_in

PUBLISHED = 2 * INDEX_PAGE_SIZE + 20  # three pages


def listed(page: html.Source) -> list[str]:
    """The slugs of the articles listed, in order."""
    return [link.removeprefix("/kb/") for link in html.links(page, ".article-list > li > a")]


def seed(db: Session) -> None:
    for number in range(PUBLISHED):
        audience = "teacher" if number % 10 == 0 else "everyone"
        kind = "checklist" if number % 2 else "tutorial"
        save_article(
            db,
            ArticleInput(
                slug=f"fiche-{number:03d}",
                title=f"Fiche {number:03d}",
                body=f"- [ ] étape de la fiche {number}\n\n" + "texte " * 200,
                summary=f"Résumé {number}",
                kind=kind,
                audience=audience,
                status="published",
            ),
            actor=None,
        )
    save_article(
        db,
        ArticleInput(
            slug="brouillon",
            title="Aaa brouillon",
            body="x",
            kind="tutorial",
            audience="everyone",
            status="draft",
        ),
        actor=None,
    )
    db.commit()


def test_the_index_shows_one_page_at_a_time_with_working_links(
    client: TestClient, db: Session
) -> None:
    seed(db)
    readable = [f"fiche-{n:03d}" for n in range(PUBLISHED) if n % 10]  # anonymous: no teacher
    first = client.get("/kb")
    assert first.status_code == 200
    assert listed(first) == readable[:INDEX_PAGE_SIZE]  # by title, drafts left out
    assert f"{len(readable)} articles" in html.text(first, "main > p.muted")
    assert html.text(first, ".pager [aria-current=page]") == "Page 1 sur 3"
    assert "texte texte" not in first.text  # raw: bodies are not even sent

    last = client.get("/kb", params={"page": "3"})
    assert listed(last) == readable[2 * INDEX_PAGE_SIZE :]
    assert html.select(last, ".pager a[rel=prev]") and not html.select(last, "a[rel=next]")
    # A page past the end (a link shared before deletions) shows the last page.
    assert listed(client.get("/kb", params={"page": "99"})) == listed(last)
    for bad in ("abc", "²", "0", "99999999999"):
        assert client.get("/kb", params={"page": bad}).status_code == 404, bad

    # Filters stay on the page links and are applied in SQL.
    checklists = client.get("/kb", params={"kind": "checklist"})
    expected = [slug for slug in readable if int(slug[-3:]) % 2]
    assert listed(checklists) == expected[:INDEX_PAGE_SIZE]
    assert f"{len(expected)} articles" in html.text(checklists, "main > p.muted")
    second = client.get(str(html.one(checklists, ".pager a[rel=next]")["href"]))
    assert listed(second) == expected[INDEX_PAGE_SIZE:]


def test_a_teacher_s_index_counts_what_teachers_read(client: TestClient, db: Session) -> None:
    make_department(db)
    seed(db)
    sign_in(client, make_user(db, Role.teacher))
    page = client.get("/kb")
    assert f"{PUBLISHED} articles" in html.text(page, "main > p.muted")
    assert listed(page) == [f"fiche-{n:03d}" for n in range(INDEX_PAGE_SIZE)]


def test_the_index_reads_no_article_body(client: TestClient, db: Session) -> None:
    seed(db)
    statements: list[str] = []
    engine = client.app.state.engine  # type: ignore[attr-defined]
    record = lambda *args: statements.append(args[2])  # noqa: E731 (before_cursor_execute)
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get("/kb").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    reads = [s for s in statements if "FROM article" in s]
    assert reads and all("article.body" not in s for s in reads), reads
    assert any("LIMIT" in s for s in reads), reads
