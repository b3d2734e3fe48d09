"""Search: the full-text index finds the matches, Python ranks them.

Both backends see the same analyzed terms (kb.analyzer) and the ranking is computed in
Python from the candidates' analyzed columns, so SQLite and PostgreSQL return the same order.
Typo tolerance, prefix matching (search-as-you-type) and synonyms are expansions of each
query term against the vocabulary of the published articles, computed here too; the
database only ever receives [a-z0-9] terms, quoted.

Where the matches come from (a deliberate departure from the design brief's "database FTS"
answering every query): the database FTS index (FTS5 / tsvector + GIN) stays the index of
record, kept in sync by triggers, and the source the vocabulary is built from; but a search
answers "which articles hold this word (or its typo, prefix and synonym alternatives)" from
the vocabulary's in-memory postings (set unions, the same `(a OR b)` as the FTS expression),
exact for the index generation the vocabulary was read at. Candidates hold any of the
query's words; the ranking puts those holding most of them, rare ones weighing more, first.
Reason: on PostgreSQL, the GIN index gives no index-only answer, so a common word made `@@`
visit the heap rows of 1,000-4,000 matches (p95 70 ms at 5,000 articles against a 20 ms
target), for ids the process already held. The
FTS query (`_fts_matching_ids`) remains the fallback when no postings are loaded, and
tests/kb/test_search_matching.py proves both give the same matches on both backends.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import heapq
import html
import itertools
import logging
import math
import re
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extract
from sqlalchemy import ColumnElement, Connection, Engine, event, text
from sqlalchemy import select as sa_select
from sqlalchemy.orm import load_only
from sqlmodel import Session, col, select

from hub.cache import ARTICLES, Entry, Memo, ProcessCache, changed
from hub.db import WRITE_OPTION
from hub.models import User
from kb.analyzer import STOPWORDS, analyze, fold, stem, words
from kb.articles import readable_by, readable_filter, reader_departments
from kb.models import Article, Audience, Concept, Kind, Status, Synonym

PREFIX_EXPANSIONS = 12  # vocabulary words a partial last word may stand for
SNIPPET_WORDS = 28
# The questions an article answers, in readers' words, weigh nearly as much as its title.
FIELD_WEIGHTS = {"title": 3.0, "questions": 2.5, "tags": 2.0, "body": 1.0}
MAX_QUERY_LENGTH = 200
# Words of a request for help that carry no topic (folded), ignored in a query that has
# other words: "je n'arrive pas à", "comment on fait pour", "est-ce que quelqu'un sait",
# "j'ai besoin de", "je voudrais", "je ne trouve pas". Query side only: articles keep them.
INTENT_WORDS = frozenset(
    """
    arrive arrives arrivent arriver arrivons narrive peux peut peuvent pouvoir pourrais
    pourrait dois doit faut veux voudrais voudrait aimerais souhaite souhaiterais sais sait
    savoir besoin quelqu quelquun trouve trouves trouver svp stp merci bonjour bonsoir
    possible fais fait faire ya
    """.split()
)
# Points for holding every meaningful word of the query (rarity-weighted share): more than
# the field weights usually add, so an article holding the query's rare words comes first,
# yet one missing only a common word can still win on a strong title match.
COVERAGE_WEIGHT = 100.0
# Points per pair of query words found side by side in an article's title or questions.
PAIR_WEIGHT = 10.0
# A concept's other members stand for a query word at this cost (a typo costs 1 or 2).
CONCEPT_COST = 0.5
EDGE_PUNCTUATION = re.compile(r"^([^\w]*)(.*?)([^\w]*)$", re.DOTALL)


# Each member of a concept, as analyzed terms -> the other members of its concepts.
ConceptTable = dict[tuple[str, ...], tuple[tuple[str, ...], ...]]


def max_typos(term: str) -> int:
    """Meilisearch's rule: no typo under 5 letters, 1 from 5, 2 from 9."""
    return 0 if len(term) < 5 else 1 if len(term) < 9 else 2


@dataclass
class Vocabulary:
    """Document frequency of every term of the published articles, cached per process and
    refreshed in the background when articles or synonyms change (one primary-key read per
    search notices it; see `serving_vocabulary`)."""

    version: object = None
    document_frequency: Counter[str] = field(default_factory=Counter)
    documents: int = 0
    terms: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # folded surface words, for prefixes
    word_stems: dict[str, str] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)
    concepts: ConceptTable = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)  # filled as terms are searched
    near: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # typo neighbours
    terms_by_length: dict[int, list[str]] = field(default_factory=dict)
    # For each term, the published articles holding it (ids, ascending) and its weight in
    # each: sum over fields of FIELD_WEIGHTS x saturated term frequency (what _rank reads).
    postings: dict[str, tuple[array[int], array[float]]] = field(default_factory=dict)
    slugs: dict[int, str] = field(default_factory=dict)
    # Whether `postings` were read (a search then finds its matches in them, not in SQL).
    has_postings: bool = False
    # What an incremental rebuild needs, per published article: a digest of the columns
    # read, its terms and its title/tag words; and how many articles hold each such word.
    digests: dict[int, bytes] = field(default_factory=dict)
    article_terms: dict[int, tuple[str, ...]] = field(default_factory=dict)
    article_words: dict[int, tuple[str, ...]] = field(default_factory=dict)
    surface: Counter[str] = field(default_factory=Counter)
    # Adjacent term pairs of each article's title and questions ("enregistr reunion"): a
    # query holding the same two words side by side gets a phrase bonus.
    article_pairs: dict[int, frozenset[str]] = field(default_factory=dict)


GENERATION = text("SELECT generation FROM search_fts_generation WHERE id = 1")
# Guards the refresh claims below: memory only, never held across a query or a checkout.
_refresh_lock = threading.Lock()
# The first build in a process (no vocabulary to serve yet). Whoever holds it has already
# checked out its connection (the version read) and needs no other one, so the threads
# waiting for it can never starve it of a connection.
_first_build_lock = threading.Lock()
_refreshing: set[str] = set()  # databases whose vocabulary a background thread is refreshing
REFRESH_THREAD = "kb-vocabulary-refresh"
REFRESH_ROUNDS = 5  # rebuilds in a row by one refresh thread while edits keep coming
RETRY_SECONDS = 5.0  # after a failed refresh (database unreachable...), before the next try
_failed_at: dict[str, float] = {}  # database URL -> when its last refresh failed
logger = logging.getLogger(__name__)


def _version(session: Session) -> object:
    # One row, bumped by triggers on every change of `article` or `synonym` (migration
    # 0006a): a single primary-key read per search instead of counting published articles.
    return session.execute(GENERATION).scalar_one()


def _key(session: Session) -> str:
    return str(session.get_bind().engine.url)


# database URL -> the vocabulary searches use (hub/cache.py). Its version is read on every
# search; `serving_vocabulary` refreshes it in the background, `vocabulary` in the caller.
_vocabularies = ProcessCache[Vocabulary](
    "search vocabulary",
    version=lambda session: _version(session),
    load=lambda session, version, previous: _build(
        session, version, previous.value if previous is not None else None
    ),
)


def _store(key: str, previous: Entry[Vocabulary] | None, vocab: Vocabulary) -> bool:
    """Put `vocab` in the cache if the cache still holds `previous` (compare-and-set): a
    build that started from an older vocabulary, or before the cache was cleared, is not
    stored over a newer one."""
    return _vocabularies.put(key, vocab, vocab.version, replacing=previous)


def serving_vocabulary(session: Session) -> Vocabulary:
    """The vocabulary a search uses, without waiting for a rebuild: when articles or
    synonyms changed, the previous vocabulary keeps answering (stale by at most one
    refresh) while one background thread builds the new one (`_refresh`).

    Only the very first build in a process waits (there is nothing to serve yet: the
    ranking, typo and prefix expansion all need a vocabulary): it runs in this request's
    own session, and concurrent first searches wait for it, holding no lock but that one.
    `warm_up` at start-up makes even that rare."""
    key = _key(session)
    version = _version(session)  # checks out this request's connection, its only one
    entry = _vocabularies.entry(key)
    cached = entry.value if entry is not None else _first_build(session, key, version)
    if cached.version != version:
        _refresh_in_background(session.get_bind(), key)
    return cached


def _first_build(session: Session, key: str, version: object) -> Vocabulary:
    with _first_build_lock:
        cached = _vocabularies.entry(key)
        if cached is not None:
            return cached.value  # built by another thread while this one waited
        vocab = _build(session, version, None)
        _store(key, None, vocab)
        return vocab


def vocabulary(session: Session) -> Vocabulary:
    """The vocabulary at the database's current generation, built now in this session if
    the cached one is older (patched or rebuilt). For tests, benchmarks and commands:
    searches use `serving_vocabulary`, which never waits for a rebuild."""
    return _vocabularies.get(session)


def warm_up(engine: Engine) -> None:
    """Build this process's vocabulary in the background (at start-up), so that no search
    has to wait for the first build."""
    _refresh_in_background(engine, str(engine.url))


def _refresh_in_background(bind: Engine | Connection, key: str) -> None:
    """Start the refresh thread for this database unless one is running (a non-blocking
    claim: the caller never waits)."""
    with _refresh_lock:
        if key in _refreshing or time.monotonic() - _failed_at.get(key, -RETRY_SECONDS) < (
            RETRY_SECONDS
        ):
            return
        _refreshing.add(key)
    # A read-only session of its own (never BEGIN IMMEDIATE, even if the caller's is a
    # writer's), on the base engine.
    engine = bind.engine.execution_options(**{WRITE_OPTION: False})
    thread = threading.Thread(target=_refresh, args=(engine, key), name=REFRESH_THREAD)
    thread.daemon = True
    try:
        thread.start()
    except RuntimeError:  # interpreter shutting down, or no thread left: the next search retries
        with _refresh_lock:
            _refreshing.discard(key)


def _refresh(engine: Engine, key: str) -> None:
    """The background refresh thread's work (`_catch_up`), errors logged: the previous
    vocabulary keeps serving, and a search retries RETRY_SECONDS later."""
    try:
        _catch_up(engine, key)
    except Exception:
        logger.exception("search vocabulary refresh failed (the previous one keeps serving)")
        with _refresh_lock:
            _failed_at[key] = time.monotonic()
    finally:
        with _refresh_lock:
            _refreshing.discard(key)


def _catch_up(engine: Engine, key: str) -> None:
    """Bring the cached vocabulary up to the database's generation: a short session of its
    own reads the version, the published rows and the synonyms and returns its connection
    before the (CPU-only) build; the result replaces the cached vocabulary only if that is
    still the one the build started from (else the version is checked again). No lock is
    held meanwhile. Edits made during a build are picked up by the next round."""
    for _ in range(REFRESH_ROUNDS):
        previous = _vocabularies.entry(key)
        with Session(engine) as session:
            version = _version(session)
            if previous is not None and previous.version == version:
                return
            rows, thesaurus = _read(session)
        vocab = _built(version, rows, thesaurus, previous.value if previous else None)
        _store(key, previous, vocab)


STALE_FLAG = "kb_search_stale"  # session.info key: articles or synonyms changed in this transaction


@event.listens_for(Session, "after_flush")
def _note_change(session: Session, _flush_context: object) -> None:
    changed = itertools.chain(session.new, session.dirty, session.deleted)
    if any(isinstance(instance, (Article, Synonym, Concept)) for instance in changed):
        session.info[STALE_FLAG] = True


@event.listens_for(Session, "after_commit")
def _refresh_after_commit(session: Session) -> None:
    """An article or synonym change committed by this process is in this process's
    vocabulary when the commit returns: the author's next search, and anyone's here, finds
    it. The committing request pays for it, outside its transaction and holding no lock: a
    patch of the changed articles (milliseconds; a full rebuild only right after a start,
    before the first build is done). Without this, the first search after the change only
    noticed it and still answered from the previous vocabulary. Other processes notice the
    change at their next search and refresh in the background."""
    if not session.info.pop(STALE_FLAG, False):
        return
    engine = session.get_bind().engine
    key = str(engine.url)
    changed(ARTICLES)  # what depends on the articles (the cached pages' version) is re-read
    if _vocabularies.entry(key) is None and not refreshing(key):
        return  # this process serves no search (a command): nothing to keep current
    reader = engine.execution_options(**{WRITE_OPTION: False})
    try:
        _catch_up(reader, key)
    except Exception:
        logger.exception("search vocabulary update after a change failed; refreshing later")
        _refresh_in_background(engine, key)


@event.listens_for(Session, "after_rollback")
def _forget_change(session: Session) -> None:
    session.info.pop(STALE_FLAG, None)


def refreshing(key: str) -> bool:
    """Whether a background refresh of this database's vocabulary is running."""
    with _refresh_lock:
        return key in _refreshing


INCREMENTAL_LIMIT = 0.05  # changed share of the published articles up to which we patch
PUBLISHED_ROWS = (
    sa_select(
        col(Article.id),
        col(Article.slug),
        col(Article.search_title),
        col(Article.search_tags),
        col(Article.search_questions),
        col(Article.search_body),
        col(Article.title),
        col(Article.tags),
    )
    .where(col(Article.status) == Status.published)
    .order_by(col(Article.id))
)


def _weights(
    search_title: str, search_tags: str, search_questions: str, search_body: str
) -> dict[str, float]:
    """An article's weight for each of its terms: BM25-like saturation (k1 = 1.2) of the
    term frequency, fields weighted and summed (title, tags, questions it answers, body)."""
    weights: dict[str, float] = {}
    for name, text_ in (
        ("title", search_title),
        ("tags", search_tags),
        ("questions", search_questions),
        ("body", search_body),
    ):
        for term, tf in Counter(text_.split()).items():
            weights[term] = weights.get(term, 0.0) + FIELD_WEIGHTS[name] * (tf * 2.2) / (tf + 1.2)
    return weights


def _pairs(*fields: str) -> frozenset[str]:
    """Adjacent terms of each field, as "first second" (analyzed text: stopwords gone)."""
    found: set[str] = set()
    for text_ in fields:
        terms = text_.split()
        found.update(f"{a} {b}" for a, b in itertools.pairwise(terms) if a != b)
    return frozenset(found)


def _digest(*columns: str) -> bytes:
    return hashlib.blake2b("\x1f".join(columns).encode(), digest_size=16).digest()


def _read(session: Session) -> tuple[list[Any], Thesaurus]:
    """What a vocabulary is built from: the published rows, the synonyms and concepts."""
    return list(session.execute(PUBLISHED_ROWS).all()), thesaurus(session)


def _build(session: Session, version: object, previous: Vocabulary | None) -> Vocabulary:
    return _built(version, *_read(session), previous)


def _built(
    version: object,
    rows: list[Any],  # PUBLISHED_ROWS
    thesaurus: Thesaurus,
    previous: Vocabulary | None,
) -> Vocabulary:
    """The vocabulary at `version`, from rows already read (no database access: a
    background refresh has returned its connection before this CPU work). Every article
    change bumps the generation (drafts too), so the published rows are read again, but
    only the articles whose columns differ from what `previous` was built from are
    (re)indexed when they are few: a draft-only or synonym-only change reuses the postings
    as they are, a single edit patches the posting lists of its terms (new arrays: other
    threads may be reading the previous vocabulary), instead of a full rebuild (2-3 s of
    CPU at 5,000 articles)."""
    digests = {row[0]: _digest(*row[1:]) for row in rows}
    if previous is not None and previous.has_postings:
        changed = [row for row in rows if previous.digests.get(row[0]) != digests[row[0]]]
        removed = [i for i in previous.digests if i not in digests]
        if len(changed) + len(removed) <= INCREMENTAL_LIMIT * max(len(rows), 1):
            return _patched(version, thesaurus, previous, digests, changed, removed)
    frequency: Counter[str] = Counter()
    surface: Counter[str] = Counter()
    postings: dict[str, tuple[array[int], array[float]]] = {}
    slugs: dict[int, str] = {}
    article_terms: dict[int, tuple[str, ...]] = {}
    article_words: dict[int, tuple[str, ...]] = {}
    article_pairs: dict[int, frozenset[str]] = {}
    for article_id, slug, search_title, search_tags, questions, search_body, title, tags in rows:
        slugs[article_id] = slug
        article_pairs[article_id] = _pairs(search_title, questions)
        weights = _weights(search_title, search_tags, questions, search_body)
        frequency.update(weights.keys())
        for term, weight in weights.items():
            posting = postings.get(term)
            if posting is None:  # compact arrays from the start: no list of objects
                posting = postings[term] = (array("q"), array("d"))
            posting[0].append(article_id)
            posting[1].append(weight)
        article_terms[article_id] = tuple(weights)
        article_words[article_id] = tuple(set(words(f"{title} {tags}")))
        surface.update(article_words[article_id])
    return _assemble(
        version,
        thesaurus,
        frequency=frequency,
        surface=surface,
        postings=postings,
        slugs=slugs,
        digests=digests,
        article_terms=article_terms,
        article_words=article_words,
        article_pairs=article_pairs,
    )


def _patched(
    version: object,
    thesaurus: Thesaurus,
    previous: Vocabulary,
    digests: dict[int, bytes],
    changed: list[Any],  # published rows: id, slug, search columns, title, tags
    removed: list[int],
) -> Vocabulary:
    """`previous` with the changed articles re-indexed and the removed ones dropped; the
    same structures as a full build of the same rows (tested)."""
    if not changed and not removed:  # drafts, synonyms or concepts only
        return dataclasses.replace(
            previous,
            version=version,
            synonyms=thesaurus.synonyms,
            concepts=thesaurus.concepts,
            digests=digests,
        )
    frequency = previous.document_frequency.copy()
    surface = previous.surface.copy()
    slugs = dict(previous.slugs)
    article_terms = dict(previous.article_terms)
    article_words = dict(previous.article_words)
    article_pairs = dict(previous.article_pairs)
    dropped: dict[str, set[int]] = {}
    added: dict[str, list[tuple[int, float]]] = {}
    for article_id in [*removed, *(row[0] for row in changed)]:
        for term in article_terms.pop(article_id, ()):
            dropped.setdefault(term, set()).add(article_id)
            frequency[term] -= 1
        surface.subtract(article_words.pop(article_id, ()))
        slugs.pop(article_id, None)
        article_pairs.pop(article_id, None)
    for article_id, slug, search_title, search_tags, questions, search_body, title, tags in changed:
        slugs[article_id] = slug
        article_pairs[article_id] = _pairs(search_title, questions)
        weights = _weights(search_title, search_tags, questions, search_body)
        frequency.update(weights.keys())
        for term, weight in weights.items():
            added.setdefault(term, []).append((article_id, weight))
        article_terms[article_id] = tuple(weights)
        article_words[article_id] = tuple(set(words(f"{title} {tags}")))
        surface.update(article_words[article_id])
    postings = dict(previous.postings)
    for term in dropped.keys() | added.keys():
        gone = dropped.get(term, set())
        old = postings.get(term)
        entries = [e for e in zip(*old, strict=True) if e[0] not in gone] if old else []
        entries += added.get(term, [])
        if not entries:
            postings.pop(term, None)
            continue
        entries.sort()
        postings[term] = (array("q", [i for i, _ in entries]), array("d", [w for _, w in entries]))
    frequency = Counter({term: n for term, n in frequency.items() if n > 0})
    surface = Counter({word: n for word, n in surface.items() if n > 0})
    return _assemble(
        version,
        thesaurus,
        frequency=frequency,
        surface=surface,
        postings=postings,
        slugs=slugs,
        digests=digests,
        article_terms=article_terms,
        article_words=article_words,
        article_pairs=article_pairs,
    )


def _assemble(
    version: object,
    thesaurus: Thesaurus,
    *,
    frequency: Counter[str],
    surface: Counter[str],
    postings: dict[str, tuple[array[int], array[float]]],
    slugs: dict[int, str],
    digests: dict[int, bytes],
    article_terms: dict[int, tuple[str, ...]],
    article_words: dict[int, tuple[str, ...]],
    article_pairs: dict[int, frozenset[str]],
) -> Vocabulary:
    word_stems = {word: stem(word) for word in surface}
    # Body words feed prefixes too, through their stems (cheaper, same effect).
    word_stems.update({term: term for term in frequency})
    terms = sorted(frequency)
    by_length: dict[int, list[str]] = {}
    for term in terms:
        by_length.setdefault(len(term), []).append(term)
    return Vocabulary(
        version=version,
        synonyms=thesaurus.synonyms,
        concepts=thesaurus.concepts,
        terms_by_length=by_length,
        document_frequency=frequency,
        documents=len(slugs),
        terms=terms,
        words=sorted(word_stems),
        word_stems=word_stems,
        postings=postings,
        slugs=slugs,
        has_postings=True,
        digests=digests,
        article_terms=article_terms,
        article_words=article_words,
        surface=surface,
        article_pairs=article_pairs,
    )


def synonyms(session: Session) -> dict[str, str]:
    return {row.term: row.expansion for row in session.exec(select(Synonym)).all()}


@dataclass(frozen=True)
class Thesaurus:
    """What the team edits besides the articles: synonyms (one way) and concepts."""

    synonyms: dict[str, str]
    concepts: ConceptTable


def concept_table(groups: list[list[str]]) -> ConceptTable:
    """Members analyzed (a member of several concepts gets all their other members)."""
    others: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for group in groups:
        analyzed_members = list(dict.fromkeys(t for m in group if (t := tuple(analyze(m)))))
        for member in analyzed_members:
            bucket = others.setdefault(member, [])
            bucket.extend(o for o in analyzed_members if o != member and o not in bucket)
    return {member: tuple(found) for member, found in others.items() if found}


def thesaurus(session: Session) -> Thesaurus:
    rows = session.exec(select(Concept)).all()
    return Thesaurus(
        synonyms=synonyms(session),
        concepts=concept_table([row.members.split("\n") for row in rows]),
    )


@dataclass
class QueryTerm:
    """One word of the query and the index terms that may stand for it."""

    typed: str
    exact: str  # the word's own stem
    # index term -> cost (0 exact or synonym, 0.5 a concept's other member, 1-2 typos, 1 prefix)
    alternatives: dict[str, float]
    from_synonym: bool = False


def parse_query(query: str, vocab: Vocabulary, synonym_table: dict[str, str]) -> list[QueryTerm]:
    query = query[:MAX_QUERY_LENGTH]
    folded = fold(query)
    # A one-word synonym widens that word's own group ("mdp" matches "mot" or "passe"); a
    # phrase synonym adds optional terms that only help ranking (they never widen every
    # group, which would make a query match almost everything).
    extra: list[str] = []
    for term, expansion in synonym_table.items():
        if " " in term and re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", folded):
            extra.extend(analyze(expansion))
    typed_words = [w for w in words(query) if w not in STOPWORDS]
    # "je n'arrive pas à ...", "comment faire pour ...": words saying that help is wanted,
    # not about what; dropped when the query has other words (alone, they are searched).
    topical = [w for w in typed_words if w not in INTENT_WORDS]
    if topical:
        typed_words = topical
    searching_prefix = bool(query) and not query[-1].isspace()
    # Concepts: a one-word member lets the word's group match the concept's other one-word
    # members. A member of several words found whole in the query ("charge de travail")
    # is one more query word, matched by the other one-word members. Other members of
    # several words add optional terms, as a phrase synonym does.
    stems = [stem(w) for w in typed_words]
    phrases: list[QueryTerm] = []
    for member, others in vocab.concepts.items():
        if len(member) > 1 and _contains(stems, member):
            found = {
                o[0]: CONCEPT_COST
                for o in others
                if len(o) == 1 and o[0] in vocab.document_frequency
            }
            if found:
                phrases.append(QueryTerm(typed=" ".join(member), exact="", alternatives=found))
            extra.extend(t for other in others if len(other) > 1 for t in other)
    terms: list[QueryTerm] = []
    seen: set[str] = set()
    for index, word in enumerate(typed_words):
        exact = stem(word)
        if exact in seen:
            continue
        seen.add(exact)
        alternatives: dict[str, float] = {}
        if exact in vocab.document_frequency:
            alternatives[exact] = 0
        for term in analyze(synonym_table.get(word, "")):
            if term in vocab.document_frequency:
                alternatives.setdefault(term, 0)
        for other in vocab.concepts.get((exact,), ()):
            if len(other) > 1:
                extra.extend(other)
            elif other[0] in vocab.document_frequency:
                alternatives.setdefault(other[0], CONCEPT_COST)
        for candidate, distance in _near_terms(vocab, exact):
            alternatives.setdefault(candidate, distance)
        is_last = index == len(typed_words) - 1
        if is_last and searching_prefix and len(word) >= 2:
            prefixed = _prefix_range(vocab.words, word)
            prefixed.sort(key=lambda w: -vocab.document_frequency.get(vocab.word_stems[w], 0))
            for candidate in prefixed[:PREFIX_EXPANSIONS]:
                term = vocab.word_stems[candidate]
                if term in vocab.document_frequency:
                    alternatives.setdefault(term, 1)
        terms.append(QueryTerm(typed=word, exact=exact, alternatives=alternatives))
    terms.extend(phrases)
    for term in extra:
        if term not in seen and term in vocab.document_frequency:
            seen.add(term)
            terms.append(
                QueryTerm(typed=term, exact=term, alternatives={term: 0}, from_synonym=True)
            )
    return terms


def _contains(sequence: list[str], part: tuple[str, ...]) -> bool:
    width = len(part)
    return any(tuple(sequence[i : i + width]) == part for i in range(len(sequence) - width + 1))


def _near_terms(vocab: Vocabulary, exact: str) -> list[tuple[str, int]]:
    """The vocabulary terms within the typos allowed for this stem (at most 8), remembered
    per vocabulary as `idf` is: the same words come back search after search."""
    near = vocab.near.get(exact)
    if near is not None:
        return near
    near = []
    typos = max_typos(exact)
    if typos:
        pool = [
            t
            for length in range(len(exact) - typos, len(exact) + typos + 1)
            for t in vocab.terms_by_length.get(length, ())
        ]
        found = extract(exact, pool, scorer=Levenshtein.distance, score_cutoff=typos, limit=None)
        # Same 8 as over the whole sorted vocabulary: closest first, then alphabetical.
        near = [(c, int(d)) for c, d, _ in sorted(found, key=lambda f: (f[1], f[0]))[:8]]
    if len(vocab.near) < NEAR_CACHE:
        vocab.near[exact] = near
    return near


NEAR_CACHE = 20_000  # stems whose typo neighbours a vocabulary remembers


def _prefix_range(sorted_words: list[str], prefix: str) -> list[str]:
    start = bisect.bisect_left(sorted_words, prefix)
    end = bisect.bisect_left(sorted_words, prefix + "\x7f")
    return sorted_words[start:end]


@dataclass
class Result:
    article: Article
    score: float
    matched_terms: set[str]
    snippet: Markup


def _matching_ids(session: Session, groups: list[set[str]], vocab: Vocabulary) -> list[int]:
    """Ids of the published articles matching every group (a group: alternatives for one
    query word), unordered: from the vocabulary's postings when it holds them, otherwise
    from the database's full-text index."""
    if vocab.has_postings:
        return _posting_matching_ids(vocab, groups)
    return _fts_matching_ids(session, groups)


def _posting_matching_ids(vocab: Vocabulary, groups: list[set[str]]) -> list[int]:
    """The FTS expression `(a OR b) AND (c OR d)` evaluated over the in-memory postings:
    the union of each group's posting lists, intersected, smallest first. The postings hold
    the published articles of the vocabulary's generation, exactly the terms the FTS index
    holds for them (the same analyzed columns, split on spaces: only [a-z0-9] terms)."""
    if not groups:
        return []
    unions: list[set[int]] = []
    for group in groups:
        ids: set[int] = set()
        for term in group:
            posting = vocab.postings.get(term)
            if posting is not None:
                ids.update(posting[0])
        if not ids:
            return []
        unions.append(ids)
    unions.sort(key=len)
    matches = unions[0]
    for ids in unions[1:]:
        matches = matches.intersection(ids)
        if not matches:
            return []
    return list(matches)


def _fts_matching_ids(session: Session, groups: list[set[str]]) -> list[int]:
    """Ids of the articles (any status) matching every group, from the full-text index
    alone, unordered: ranking every match in the database (bm25, ts_rank_cd decompressing
    each tsvector) cost more than doing it in Python, and so did reading article rows there
    for the reader's filter (see `_readable_ids`). Used when no postings are loaded."""
    if not groups:
        return []
    if session.get_bind().dialect.name == "sqlite":
        match = " AND ".join(
            "(" + " OR ".join(f'"{term}"' for term in sorted(group)) + ")" for group in groups
        )
        query = text("SELECT rowid FROM article_fts WHERE article_fts MATCH :match")
        return list(session.execute(query, {"match": match}).scalars())
    tsquery = " & ".join("(" + " | ".join(sorted(group)) + ")" for group in groups)
    query = text("SELECT id FROM article WHERE search_vector @@ to_tsquery('simple', :tsquery)")
    # Through the GIN index, always: on a compact (vacuumed) table the planner prefers a
    # sequential scan for common words, not knowing that `@@` then reads every tsvector out
    # of TOAST (measured 50-120 ms against 4 ms at 5,000 articles).
    session.execute(SEQSCAN_OFF)
    try:
        return list(session.execute(query, {"tsquery": tsquery}).scalars())
    finally:
        session.execute(SEQSCAN_RESET)


SEQSCAN_OFF = text("SET LOCAL enable_seqscan = off")
SEQSCAN_RESET = text("RESET enable_seqscan")
READABLE_SETS = 128  # (reader filter, index generation) pairs remembered per process
_readable = Memo[tuple[object, ...], frozenset[int]]("readable article ids", READABLE_SETS)


def _readable_ids(
    session: Session, filters: list[ColumnElement[bool]], key: tuple[object, ...]
) -> frozenset[int]:
    """Ids of the articles the filters select (readable_filter, kind, audience, tag), from
    the database, remembered until the index generation changes: a search then intersects
    in Python instead of reading thousands of article rows to apply the same filter.

    `key` names what the filters depend on (database, generation, role, departments, kind,
    audience, tag), so a hit costs no SQL compilation."""
    hit = _readable.get(key)
    if hit is not None:
        return hit
    ids = frozenset(session.execute(sa_select(col(Article.id)).where(*filters)).scalars())
    _readable.put(key, ids)
    return ids


def _idf(vocab: Vocabulary, term: str) -> float:
    idf = vocab.idf.get(term)
    if idf is None:
        df = vocab.document_frequency.get(term, 0)
        idf = vocab.idf[term] = math.log(1 + (vocab.documents - df + 0.5) / (df + 0.5))
    return idf


def _importance(vocab: Vocabulary, term: QueryTerm) -> float:
    """How much a query word says about the topic: the rarity (idf) of its best-known form."""
    return max((_idf(vocab, a) for a in term.alternatives), default=0.0)


def _rank(ids: list[int], terms: list[QueryTerm], vocab: Vocabulary) -> dict[int, float]:
    """Score of every candidate, from the vocabulary's postings. First the share of the
    query's meaningful words it holds, each word weighted by its rarity (a missing rare
    word costs more than a missing common one), then for each word its best alternative's
    field-weighted, saturated term frequency x idf / (1 + typo or prefix cost); a synonym's
    optional terms count 0.6 and do not count as words. Articles published after the
    vocabulary was read are left out (the next search sees them)."""
    allowed = {i for i in ids if i in vocab.slugs}
    totals = dict.fromkeys(allowed, 0.0)
    covered = dict.fromkeys(allowed, 0.0)
    words = [t for t in terms if not t.from_synonym]
    importance = {id(t): _importance(vocab, t) for t in words}
    whole = sum(importance.values()) or 1.0
    for term in terms:
        best: dict[int, float] = {}
        for candidate, cost in term.alternatives.items():
            posting = vocab.postings.get(candidate)
            if posting is None:
                continue
            idf = _idf(vocab, candidate)
            holders, weights = posting
            if len(holders) <= 8 * len(allowed):  # walk the posting list
                for article_id, weight in zip(holders, weights, strict=True):
                    if article_id in allowed:
                        value = weight * idf / (1 + cost)
                        if value > best.get(article_id, 0.0):
                            best[article_id] = value
            else:  # a common term and few candidates: look each one up
                for article_id in allowed:
                    index = _find(holders, article_id)
                    if index >= 0:
                        value = weights[index] * idf / (1 + cost)
                        if value > best.get(article_id, 0.0):
                            best[article_id] = value
        factor = 0.6 if term.from_synonym else 1.0
        share = 0.0 if term.from_synonym else importance[id(term)] / whole
        for article_id, value in best.items():
            totals[article_id] += value * factor
            covered[article_id] += share
    # Two query words side by side in the title or a question, as typed: a phrase bonus.
    typed = [t.exact for t in words if t.exact in t.alternatives]
    pairs = {f"{a} {b}" for a, b in itertools.pairwise(typed) if a != b}
    if pairs:
        for article_id in allowed:
            held = vocab.article_pairs.get(article_id)
            if held:
                totals[article_id] += PAIR_WEIGHT * len(pairs & held)
    return {i: COVERAGE_WEIGHT * covered[i] + totals[i] for i in allowed}


def _best(scores: dict[int, float], limit: int, slugs: dict[int, str]) -> list[int]:
    """The `limit` best scores, ties (to 6 decimals) by slug: the same order on every backend.
    Only the scores that may tie with the last place kept are sorted with their slugs."""
    if not scores or limit <= 0:
        return []
    leaders = heapq.nlargest(limit, scores.values())
    cut = leaders[-1] - 1e-6  # anything that rounds like the last place kept
    contenders = [i for i, score in scores.items() if score >= cut]
    contenders.sort(key=lambda i: (-round(scores[i], 6), slugs[i]))
    return contenders[:limit]


def _find(sorted_ids: array[int], article_id: int) -> int:
    index = bisect.bisect_left(sorted_ids, article_id)
    return index if index < len(sorted_ids) and sorted_ids[index] == article_id else -1


def _matched(article_id: int, terms: list[QueryTerm], vocab: Vocabulary) -> set[str]:
    """The query's index terms (alternatives included) that this article holds."""
    return {
        candidate
        for term in terms
        for candidate in term.alternatives
        if candidate in vocab.postings and _find(vocab.postings[candidate][0], article_id) >= 0
    }


@lru_cache(maxsize=200_000)
def _token(token: str) -> tuple[str, str, str, frozenset[str]]:
    """One whitespace token as (leading punctuation, word, trailing punctuation, the index
    terms of the word); cached, as texts share most of their tokens."""
    match = EDGE_PUNCTUATION.match(token)
    lead, core, trail = match.groups() if match else ("", token, "")
    return lead, core, trail, frozenset(stem(w) for w in words(core) if w not in STOPWORDS)


@lru_cache(maxsize=8192)
def _tokens(source: str) -> tuple[tuple[str, str, str, frozenset[str]], ...]:
    """A text split for highlighting, cached (the same snippets come back search after
    search)."""
    return tuple(_token(token) for token in source.split())


# Markdown markup dropped from a body to make a snippet: much cheaper than rendering it
# (kb.markdown.plain_text, ~3 ms an article), and a snippet needs only the words.
MARKDOWN_MARKUP = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: their text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: their text
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),  # autolinks
    (re.compile(r"(?m)^[ \t]*(?:`{3,}|~{3,}).*$"), " "),  # code fences
    (re.compile(r"(?m)^[ \t]*\|?[ \t]*:?-{3,}[-|: \t]*$"), " "),  # rules, table lines
    (re.compile(r"(?m)^[ \t]{0,3}(?:#{1,6}|>+|[-*+]|\d+[.)])[ \t]+(?:\[[ xX]\][ \t]+)?"), ""),
    (re.compile(r"\*{1,3}|`+|~~"), ""),  # emphasis, code spans
    (re.compile(r"\|"), " "),  # table cells
]


@lru_cache(maxsize=8192)
def snippet_text(markdown_text: str) -> str:
    """The words of a Markdown body without its markup, for snippets."""
    text = markdown_text
    for pattern, replacement in MARKDOWN_MARKUP:
        text = pattern.sub(replacement, text)
    return html.unescape(" ".join(text.split()))


def highlight(source: str, matched: set[str], *, words_around: int = SNIPPET_WORDS) -> Markup:
    """A snippet of the original text around the first match, matches in <mark>, escaped."""
    tokens = _tokens(source)
    if not tokens:
        return Markup("")
    first = next((i for i, token in enumerate(tokens) if token[3] & matched), 0)
    start = max(0, first - words_around // 3)
    # Runs of plain text are escaped in one go (escaping token by token cost more than the
    # rest of the highlighting).
    html: list[str] = []
    run: list[str] = []
    for index, (lead, core, trail, terms) in enumerate(tokens[start : start + words_around]):
        if index:
            run.append(" ")
        if terms & matched:
            run.append(lead)
            html += [escape("".join(run)), "<mark>", escape(core), "</mark>"]
            run = [trail]
        else:
            run += [lead, core, trail]
    html.append(escape("".join(run)))
    prefix = "… " if start > 0 else ""
    suffix = " …" if start + words_around < len(tokens) else ""
    return Markup(prefix + "".join(html) + suffix)  # noqa: S704 (escaped piece by piece)


def highlight_title(title: str, matched: set[str]) -> Markup:
    return highlight(title, matched, words_around=10_000)


@dataclass
class SearchResponse:
    query: str
    results: list[Result]
    terms: list[QueryTerm]
    dropped: list[str]  # query words ignored to find something
    generation: object = None  # of the vocabulary that ranked the results
    # For an anonymous reader who found nothing: published articles that match but are for
    # staff only (the page invites to sign in; not a content gap).
    restricted: int = 0


def search(
    session: Session,
    query: str,
    *,
    viewer: User | None,
    limit: int = 10,
    kind: str | None = None,
    audience: str | None = None,
    tag: str | None = None,
    snippets: bool = True,
) -> SearchResponse:
    """The `limit` best published articles this viewer may read for `query`; with
    `snippets`, each with a highlighted passage (the list of titles needs none)."""
    raw_query = query[:MAX_QUERY_LENGTH]  # a trailing space means the last word is complete
    query = raw_query.strip()
    if not query:
        return SearchResponse(query=query, results=[], terms=[], dropped=[])
    vocab = serving_vocabulary(session)
    terms = parse_query(raw_query, vocab, vocab.synonyms)
    unknown = [t.typed for t in terms if not t.from_synonym and not t.alternatives]
    dropped = list(unknown)
    departments = reader_departments(session, viewer)
    readable_key = (
        str(session.get_bind().engine.url),
        vocab.version,
        viewer.role.value if viewer else None,
        None if departments is None else tuple(sorted(departments)),
        kind,
        audience,
        tag,
    )
    ranking_key = (readable_key, raw_query, limit)
    ranked = _rankings.get(ranking_key)
    if ranked is None:
        filters = readable_filter(session, viewer)
        if kind and kind in Kind.__members__:
            filters.append(col(Article.kind) == Kind(kind))
        if audience and audience in Audience.__members__:
            filters.append(col(Article.audience) == Audience(audience))
        if tag:
            filters.append(col(Article.search_tags).contains(" ".join(analyze(tag))))
        readable = _readable_ids(session, filters, readable_key)
        ranked = _ranked(session, vocab, terms, readable, limit, list(dropped))
        _rankings.put(ranking_key, ranked)
    top, scores, dropped = ranked.top, ranked.scores, list(ranked.dropped)
    # Read by primary key, then the reader's conditions again: the vocabulary (and the
    # readable set cached with its generation) may be one refresh behind an article
    # archived or restricted meanwhile.
    shown = select(Article).where(col(Article.id).in_(top))
    if not snippets:  # the list of titles (search-as-you-type): no body read
        shown = shown.options(load_only(*(getattr(Article, name) for name in LISTED_COLUMNS)))
    articles = (
        {
            article.id: article
            for article in session.exec(shown)
            if readable_by(article, viewer, departments)
        }
        if top
        else {}
    )
    results = []
    for article_id in top:
        article = articles.get(article_id)
        if article is None:  # deleted, unpublished or restricted since the ids were read
            continue
        matched = _matched(article_id, terms, vocab)
        snippet = Markup("")
        if snippets:
            source = article.summary or snippet_text(article.body)
            snippet = highlight(source, matched)
            if "<mark>" not in snippet:
                snippet = highlight(snippet_text(article.body), matched) or snippet
        results.append(
            Result(
                article=article,
                score=round(scores[article_id], 3),
                matched_terms=matched,
                snippet=snippet,
            )
        )
    restricted = 0
    if viewer is None and not results and terms:
        published = _readable_ids(
            session,
            [col(Article.status) == Status.published],
            (readable_key[0], vocab.version, "published"),
        )
        restricted = len(_candidates(session, vocab, terms) & published)
    return SearchResponse(
        query=query,
        results=results,
        terms=terms,
        dropped=dropped,
        generation=vocab.version,
        restricted=restricted,
    )


@dataclass(frozen=True)
class _Ranking:
    top: list[int]
    scores: dict[int, float]  # of the top ids
    dropped: tuple[str, ...]


# Rankings remembered per (reader filter and generation, query as typed, limit): people type
# the same first letters ("enr", "enreg", "quiz mo"...), and a ranking is a pure function of
# these. A new generation is a new key; the old ones age out.
RANKINGS = 4096
_rankings = Memo[tuple[object, ...], _Ranking]("search rankings", RANKINGS)
LISTED_COLUMNS = ("id", "slug", "title", "kind", "audience", "summary", "status", "department_id")


def _candidates(session: Session, vocab: Vocabulary, terms: list[QueryTerm]) -> set[int]:
    """The published articles holding any meaningful word of the query (its alternatives
    included); a phrase synonym's optional terms only when the query has no other word."""
    required = [t for t in terms if not t.from_synonym and t.alternatives]
    optional = [t for t in terms if t.from_synonym]
    groups = [set(t.alternatives) for t in required] or [
        {a for o in optional for a in o.alternatives}
    ]
    candidates: set[int] = set()
    for group in groups:
        if group:
            candidates.update(_matching_ids(session, [group], vocab))
    return candidates


def _ranked(
    session: Session,
    vocab: Vocabulary,
    terms: list[QueryTerm],
    readable: frozenset[int],
    limit: int,
    dropped: list[str],
) -> _Ranking:
    """Candidates holding any meaningful word of the query (an article is never lost for
    one missing word), ranked by the share of the query's words they hold and how well
    (`_rank`), the `limit` best kept. The words the best result does not hold are reported
    as not taken into account."""
    required = [t for t in terms if not t.from_synonym and t.alternatives]
    matches = [i for i in _candidates(session, vocab, terms) if i in readable]
    scores = _rank(matches, terms, vocab)
    top = _best(scores, limit, vocab.slugs)
    if top:
        held = _matched(top[0], required, vocab)
        dropped.extend(t.typed for t in required if not held & set(t.alternatives))
    return _Ranking(top=top, scores={i: scores[i] for i in top}, dropped=tuple(dropped))
