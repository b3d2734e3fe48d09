"""Search finds its matches in the vocabulary's in-memory postings, not in the FTS index:
prove that both give the same set of articles, on SQLite and PostgreSQL, for every query of
the relevance set and its variants (accent-less, misspelt, truncated) plus more typo and
prefix variants, on the starter pack plus generated articles of every status, audience and
department; and that whole searches (reader filters included) are the same either way."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from bench.corpus import DEPARTMENTS, Generator, load_material
from hub.models import Role
from kb import search as kb_search
from kb.articles import ArticleInput, delete_article, save_article, set_status
from kb.models import Article, Status
from kb.search import (
    Vocabulary,
    _fts_matching_ids,
    _posting_matching_ids,
    parse_query,
    search,
    vocabulary,
)
from tests.factories import make_department, make_user
from tests.kb.test_relevance import load_cases

CONTENT = Path(__file__).resolve().parents[2] / "kb" / "content"
GENERATED = 120  # drafts, archived and published ones, some tied to a department


def variants(query: str) -> list[str]:
    """The query, finished or being typed, with a doubled, a dropped and a swapped letter in
    its longest word, and cut short in its last word."""
    out = [query, query + " "]
    words = query.split()
    if words:
        longest = max(words, key=len)
        if len(longest) >= 4:
            middle = len(longest) // 2
            for typo in (
                longest[:middle] + longest[middle] + longest[middle:],
                longest[:middle] + longest[middle + 1 :],
                longest[: middle - 1]
                + longest[middle]
                + longest[middle - 1]
                + longest[middle + 1 :],
            ):
                out.append(query.replace(longest, typo, 1))
        last = words[-1]
        for cut in (2, 3, 5):
            if len(last) > cut:
                out.append(" ".join([*words[:-1], last[:cut]]))
    return out


def all_queries() -> list[str]:
    queries = [case.query for case in load_cases()]
    queries += [variant for query in list(queries) for variant in variants(query)]
    queries += ["mdp", "mdp oubli", "ordi", "brossard", "zzzz", "a", "x examen", "examen xqzt"]
    return list(dict.fromkeys(queries))


@pytest.fixture
def corpus(db: Session, starter_pack: None) -> set[int]:
    """The starter pack plus generated articles; returns the published ids."""
    for code in DEPARTMENTS:
        make_department(db, code)
    generator = Generator(load_material(CONTENT), seed=7, tail_size=2_000)
    for data in generator.articles(GENERATED):
        save_article(db, data, actor=None, note="test")
    db.commit()
    statuses = set(db.exec(select(Article.status)).all())
    assert {Status.published, Status.draft} <= statuses  # drafts in the FTS index too
    published = select(col(Article.id)).where(col(Article.status) == Status.published)
    return {article_id for article_id in db.exec(published).all() if article_id is not None}


def test_postings_match_exactly_what_the_fts_index_matches(db: Session, corpus: set[int]) -> None:
    vocab = vocabulary(db)
    assert vocab.has_postings
    assert set(vocab.slugs) == corpus
    compared = nonempty = 0
    for query in all_queries():
        terms = parse_query(query, vocab, vocab.synonyms)
        required = [set(t.alternatives) for t in terms if not t.from_synonym and t.alternatives]
        optional = {a for t in terms if t.from_synonym for a in t.alternatives}
        # Every word together, each word alone (what remains after dropping the rarest), and
        # the synonym-only group search() falls back to.
        checks = [required, *([group] for group in required)]
        if optional:
            checks.append([optional])
        for groups in checks:
            expected = set(_fts_matching_ids(db, groups)) & corpus  # readers see published
            found = _posting_matching_ids(vocab, groups)
            assert len(found) == len(set(found))
            assert set(found) == expected, (query, groups)
            compared += 1
            nonempty += bool(expected)
    assert compared > 2_000 and nonempty > 1_000  # the comparison was not vacuous


def test_searches_are_the_same_from_postings_and_from_the_fts_index(
    db: Session, corpus: set[int]
) -> None:
    department = [DEPARTMENTS[0]]
    viewers = [None] + [
        make_user(db, role, departments=[] if role is Role.elearning else department)
        for role in (Role.student, Role.teacher, Role.referent, Role.elearning)
    ]
    vocab = vocabulary(db)
    key = str(db.get_bind().engine.url)
    queries = [case.query for case in load_cases()][::3] + ["mdp", "examen xqzt", "teams enreg"]

    def run() -> list[tuple[str, list[tuple[str, float]], list[str]]]:
        out: list[tuple[str, list[tuple[str, float]], list[str]]] = []
        for viewer in viewers:
            for query in queries:
                response = search(db, query, viewer=viewer, limit=20)
                out.append(
                    (
                        query,
                        [(r.article.slug, r.score) for r in response.results],
                        response.dropped,
                    )
                )
        return out

    from_postings = run()
    assert sum(bool(results) for _, results, _ in from_postings) > len(from_postings) // 2
    fallback = dataclasses.replace(vocab, has_postings=False)  # no postings: the database FTS
    cache = kb_search._vocabularies
    cache.put(key, fallback, fallback.version, replacing=cache.entry(key))
    try:
        assert run() == from_postings
    finally:
        kb_search._vocabularies.forget(key)


def _snapshot(vocab: Vocabulary) -> dict[str, object]:
    """Everything a search reads from a vocabulary, as plain values."""
    return {
        "document_frequency": dict(vocab.document_frequency),
        "documents": vocab.documents,
        "terms": list(vocab.terms),
        "words": list(vocab.words),
        "word_stems": dict(vocab.word_stems),
        "terms_by_length": {n: list(t) for n, t in vocab.terms_by_length.items()},
        "postings": {t: (list(i), list(w)) for t, (i, w) in vocab.postings.items()},
        "slugs": dict(vocab.slugs),
        "synonyms": dict(vocab.synonyms),
        "digests": dict(vocab.digests),
        "article_terms": dict(vocab.article_terms),
        "article_words": {i: set(w) for i, w in vocab.article_words.items()},
        "surface": dict(vocab.surface),
    }


def test_vocabulary_is_patched_not_rebuilt_and_equals_a_full_build(
    db: Session, starter_pack: None
) -> None:
    team = make_user(db, Role.elearning)
    key = str(db.get_bind().engine.url)
    before = vocabulary(db)
    frozen = _snapshot(before)

    # A draft-only change bumps the generation but leaves the published articles alone.
    draft = ArticleInput(
        kind="tutorial",
        audience="everyone",
        slug="brouillon-zorglub",
        title="Zorglub",
        body="Brouillon zorglub.",
        status="draft",
    )
    save_article(db, draft, actor=None)
    db.commit()
    after_draft = vocabulary(db)
    assert after_draft.version != before.version
    assert after_draft.postings is before.postings and after_draft.terms is before.terms
    assert search(db, "zorglub", viewer=team).results == []

    # Edits of published articles: one changed, one new, one archived, one deleted, and a
    # draft published.
    slugs = sorted(before.slugs.values())
    edited = ArticleInput(
        kind="tutorial",
        audience="everyone",
        slug=slugs[0],
        title="Lobby quokka",
        body="Un quokka dans le lobby.",
        status="published",
    )
    save_article(db, edited, actor=None)
    fresh = ArticleInput(
        kind="tutorial",
        audience="everyone",
        slug="nouveau-wombat",
        title="Wombat",
        body="Le wombat publie.",
        status="published",
    )
    save_article(db, fresh, actor=None)
    set_status(db, slug=slugs[1], status=Status.archived, actor=team)
    delete_article(db, slug=slugs[2], actor=team)
    set_status(db, slug="brouillon-zorglub", status=Status.published, actor=team)
    db.commit()
    patched = vocabulary(db)
    assert patched.postings is not before.postings
    assert _snapshot(before) == frozen  # the previous vocabulary, maybe in use, is untouched
    assert [r.article.slug for r in search(db, "quokka", viewer=team).results] == [slugs[0]]
    assert [r.article.slug for r in search(db, "wombat", viewer=team).results] == ["nouveau-wombat"]
    assert [r.article.slug for r in search(db, "zorglub", viewer=team).results] == [
        "brouillon-zorglub"
    ]

    kb_search._vocabularies.forget(key)
    full = vocabulary(db)
    assert full.postings is not patched.postings
    assert _snapshot(patched) == _snapshot(full)
