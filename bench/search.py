"""Search latency, server side: `kb.search.search()` called in-process on SQLite and PostgreSQL,
on the starter pack and on the starter pack plus a generated corpus (bench/corpus.py).

For each backend and corpus:
- cold: the first search of a fresh process (empty vocabulary, stem and plain-text caches),
  and the vocabulary build alone;
- warm: every relevance query (tests/kb/relevance, with its accent-less, misspelt and truncated
  variants) run `repeats` times in a shuffled order, one session per search as a request gets;
- stages: one more pass with kb.search's steps timed (vocabulary check, synonyms, query
  parsing, matching ids = SQL, Python ranking of every match, snippets);
- raw: the database query alone (FTS5 MATCH / tsvector @@, ids only) with the very terms the
  searches matched, i.e. what finding the matches would cost in the database (searches find
  them in the vocabulary's in-memory postings; the FTS query is only their fallback), next
  to the same matching over the postings ("raw_postings_matching").
"""

from __future__ import annotations

import cProfile
import gc
import io
import os
import pstats
import random
import statistics
import tempfile
import time
import uuid
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

import hub.cache
import kb.analyzer
import kb.markdown
import kb.search
from bench.corpus import DEPARTMENTS, Generator, load_material
from hub.db import make_engine
from hub.migrate import upgrade
from hub.models import Role, User
from hub.people import create_department, create_user
from kb.articles import save_article
from kb.importer import import_directory
from kb.models import Article, Status
from kb.synonyms import load_starter_synonyms

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "kb" / "content"
RESULTS = ROOT / "bench" / "results"
POSTGRES_ADMIN_URL = os.environ.get(
    "HUB_BENCH_POSTGRES_URL",
    os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
TARGET_P95_MS = 20.0
VIEWER_DEPARTMENT = "SCI"
BATCH = 250  # generated articles per commit
STAGES = {
    "serving_vocabulary": "version check (+ first build; later ones in the background)",
    "synonyms": "synonym table",
    "parse_query": "typo/prefix/synonym expansion",
    "readable_filter": "reader filter (the SQL conditions)",
    "_readable_ids": "reader filter (cached set of ids per generation)",
    "_matching_ids": "matching ids: set operations over the in-memory postings",
    "_fts_matching_ids": "matching ids: FTS5 MATCH / tsvector @@ (fallback only, SQL)",
    "_rank": "Python ranking of every match (postings)",
    "highlight": "snippets",
}


@dataclass
class Options:
    articles: int = 5_000
    repeats: int = 5
    seed: int = 2024
    backends: tuple[str, ...] = ("sqlite", "postgresql")
    budget_seconds: float = 30.0  # per backend and corpus for the timed rounds (a third more
    # for the instrumented pass, a third for the raw candidate queries)
    profile: bool = False
    log: Callable[[str], None] = lambda message: None


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values_ms: list[float]) -> dict[str, float | int]:
    return {
        "n": len(values_ms),
        "median_ms": round(statistics.median(values_ms), 3),
        "p95_ms": round(percentile(values_ms, 95), 3),
        "p99_ms": round(percentile(values_ms, 99), 3),
        "max_ms": round(max(values_ms), 3),
        "mean_ms": round(statistics.fmean(values_ms), 3),
    }


def queries() -> list[str]:
    """The relevance set and its variants (duplicates once: a variant may equal another)."""
    with warnings.catch_warnings():  # tests.factories imports starlette's TestClient
        warnings.simplefilter("ignore")
        from tests.kb.test_relevance import load_cases

    return list(dict.fromkeys(case.query for case in load_cases()))


# --- databases ----------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as directory:
        yield f"sqlite:///{directory}/bench.sqlite3"


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    try:
        psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        return f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {exc}".strip()
    return None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of our own, dropped at the end."""
    admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    name = f"hub_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def server_version(engine: Engine) -> str:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return str(connection.execute(text("select sqlite_version()")).scalar())
        return str(connection.execute(text("show server_version")).scalar())


def load_starter(engine: Engine) -> User:
    """Schema, starter pack, synonyms, departments and the teacher who searches."""
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        for code in DEPARTMENTS:
            create_department(session, code=code, name=f"Département {code}")
        viewer = create_user(
            session,
            email="bench.teacher@college.example",
            name="Bench Teacher",
            role=Role.teacher,
            departments=[VIEWER_DEPARTMENT],
        )
        report = import_directory(session, CONTENT)
        if report.errors:
            raise RuntimeError(f"starter pack import failed: {report.errors}")
        load_starter_synonyms(session)
        session.commit()
        return viewer


def load_generated(engine: Engine, count: int, seed: int) -> float:
    """Insert `count` generated articles through save_article; returns seconds taken."""
    generator = Generator(load_material(CONTENT), seed=seed)
    started = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        for number, data in enumerate(generator.articles(count), 1):
            save_article(session, data, actor=None, note="bench")
            if number % BATCH == 0:
                session.commit()
                session.expunge_all()
        session.commit()
    if engine.dialect.name == "postgresql":
        # What autovacuum does shortly after a bulk load: planner statistics.
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("ANALYZE article")
            )
    return time.perf_counter() - started


def corpus_stats(engine: Engine) -> dict[str, Any]:
    with Session(engine) as session:
        by_status: dict[Status, int] = dict(
            session.execute(
                select(col(Article.status), func.count()).group_by(col(Article.status))
            ).all()
        )
        vocab = kb.search.vocabulary(session)
        bodies = session.execute(
            select(func.avg(func.length(Article.search_body))).where(
                col(Article.status) == Status.published
            )
        ).scalar()
    return {
        "articles": sum(by_status.values()),
        "published": by_status.get(Status.published, 0),
        "vocabulary_terms": len(vocab.terms),
        "prefix_words": len(vocab.words),
        "mean_analyzed_body_chars": round(float(bodies or 0)),
    }


# --- measurements -------------------------------------------------------------------------


def clear_caches() -> None:
    """What a freshly started server process has: nothing cached (the vocabulary and every
    functools cache of the search modules: stems, plain text, snippet tokens...)."""
    hub.cache.forget_all()  # the vocabulary, the rankings and every other per-process cache
    for module in (kb.search, kb.analyzer, kb.markdown):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def timed_search(engine: Engine, query: str, viewer: User) -> tuple[float, int]:
    """One search, ranked for real: the rankings remembered per query as typed (a memo that
    serves people typing the same letters) are forgotten first, or every repeat of a query
    would measure a memo hit."""
    kb.search._rankings.clear()
    with Session(engine, expire_on_commit=False) as session:
        started = time.perf_counter()
        response = kb.search.search(session, query, viewer=viewer, limit=10)
        elapsed = time.perf_counter() - started
    return elapsed * 1000, len(response.results)


def cold(engine: Engine, viewer: User, first_query: str) -> dict[str, Any]:
    clear_caches()
    with Session(engine) as session:
        started = time.perf_counter()
        kb.search.vocabulary(session)
        build_ms = (time.perf_counter() - started) * 1000
    clear_caches()
    first_ms, _ = timed_search(engine, first_query, viewer)
    return {
        "vocabulary_build_ms": round(build_ms, 2),
        "first_query_ms": round(first_ms, 2),
        "first_query": first_query,
    }


def rebuilds(engine: Engine) -> dict[str, float]:
    """Milliseconds of the vocabulary refresh after one change (at the end, the corpus is
    then one edit away from the one measured): a draft edited (the postings are reused),
    a published article edited (its terms patched), and a full build for comparison."""
    out: dict[str, float] = {}
    with Session(engine) as session:
        kb.search.vocabulary(session)
    for name, status in (("draft_edit_ms", Status.draft), ("published_edit_ms", Status.published)):
        with Session(engine) as session:
            article_id = session.execute(
                select(col(Article.id)).where(col(Article.status) == status).limit(1)
            ).scalar()
            if article_id is None:
                continue
            session.execute(
                text("UPDATE article SET search_body = search_body || ' zzbench' WHERE id = :i"),
                {"i": article_id},
            )
            session.commit()
            started = time.perf_counter()
            kb.search.vocabulary(session)
            out[name] = round((time.perf_counter() - started) * 1000, 2)
    kb.search._vocabularies.forget()
    with Session(engine) as session:
        started = time.perf_counter()
        kb.search.vocabulary(session)
        out["full_build_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return out


def warm(
    engine: Engine, viewer: User, all_queries: list[str], options: Options
) -> tuple[list[float], dict[str, float], int]:
    """`repeats` rounds of every query, each round in a fresh shuffled order, stopping early
    (even mid-round: the order is random, so what ran is a fair sample) when the time budget
    is spent. Returns latencies, the slowest queries and searches without results."""
    rng = random.Random(options.seed)
    timed_search(engine, all_queries[0], viewer)  # the excluded first call (vocabulary warm)
    gc.collect()
    latencies: list[float] = []
    per_query: dict[str, list[float]] = defaultdict(list)
    empty = 0
    deadline = time.perf_counter() + options.budget_seconds
    for _ in range(options.repeats):
        order = list(all_queries)
        rng.shuffle(order)
        for query in order:
            elapsed, found = timed_search(engine, query, viewer)
            latencies.append(elapsed)
            per_query[query].append(elapsed)
            empty += found == 0
            if time.perf_counter() > deadline:
                break
        else:
            continue
        break
    slowest = dict(
        sorted(
            ((q, round(statistics.median(v), 2)) for q, v in per_query.items()),
            key=lambda item: -item[1],
        )[:5]
    )
    return latencies, slowest, empty


@contextmanager
def instrumented() -> Iterator[tuple[dict[str, float], list[tuple[Any, ...]]]]:
    """Time kb.search's steps by wrapping them in its module namespace (search() looks them up
    there at call time); also records the arguments of every candidate query."""
    totals: dict[str, float] = defaultdict(float)
    calls: list[tuple[Any, ...]] = []
    originals = {name: getattr(kb.search, name) for name in STAGES}

    def wrap(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                totals[name] += time.perf_counter() - started
                if name == "_matching_ids":
                    calls.append((args[1],))  # the groups

        return wrapper

    for name, function in originals.items():
        setattr(kb.search, name, wrap(name, function))
    try:
        yield totals, calls
    finally:
        for name, function in originals.items():
            setattr(kb.search, name, function)


def stages(engine: Engine, viewer: User, all_queries: list[str], budget: float) -> dict[str, Any]:
    """Mean milliseconds per search spent in each step, and the captured candidate queries
    (the queries in a shuffled order, as many as the budget allows)."""
    per_search: dict[str, list[float]] = defaultdict(list)
    candidate_calls: list[list[tuple[Any, ...]]] = []
    candidates_per_search: list[int] = []
    order = list(all_queries)
    random.Random(2).shuffle(order)
    deadline = time.perf_counter() + budget
    for query in order:
        if time.perf_counter() > deadline:
            break
        kb.search._rankings.clear()  # ranked for real (see timed_search)
        with instrumented() as (totals, calls):
            with Session(engine, expire_on_commit=False) as session:
                started = time.perf_counter()
                kb.search.search(session, query, viewer=viewer, limit=10)
                total = time.perf_counter() - started
        for name in STAGES:
            per_search[name].append(totals.get(name, 0.0) * 1000)
        per_search["total"].append(total * 1000)
        per_search["other"].append((total - sum(totals.get(name, 0.0) for name in STAGES)) * 1000)
        candidate_calls.append(calls)
    # How many candidates the scoring saw, measured outside the timed pass.
    with Session(engine) as session:
        for calls in candidate_calls:
            candidates_per_search.append(
                len(kb.search._fts_matching_ids(session, *calls[-1])) if calls else 0
            )
    return {
        "searches": len(candidate_calls),
        "mean_ms": {name: round(statistics.fmean(v), 3) for name, v in per_search.items()},
        "p95_ms": {name: round(percentile(v, 95), 3) for name, v in per_search.items()},
        "mean_candidates": round(statistics.fmean(candidates_per_search), 1),
        "candidate_queries_per_search": round(statistics.fmean(len(c) for c in candidate_calls), 2),
        "_calls": candidate_calls,
    }


def raw_candidate_sql(session: Session, groups: list[set[str]]) -> Any:
    """The full-text part of kb.search alone: the ids matching every group (all of them,
    unordered; the reader's filter is a cached set, and Python ranks the matches)."""
    return kb.search._fts_matching_ids(session, groups)


def raw_postings(
    engine: Engine, candidate_calls: list[list[tuple[Any, ...]]], repeats: int, budget: float
) -> list[float]:
    """The same matching over the vocabulary's postings (what searches do)."""
    runs = [calls for calls in candidate_calls if calls for _ in range(repeats)]
    random.Random(1).shuffle(runs)
    latencies: list[float] = []
    deadline = time.perf_counter() + budget
    with Session(engine) as session:
        vocab = kb.search.vocabulary(session)
    for calls in runs:
        started = time.perf_counter()
        for (groups,) in calls:
            kb.search._posting_matching_ids(vocab, groups)
        latencies.append((time.perf_counter() - started) * 1000)
        if time.perf_counter() > deadline:
            break
    return latencies


def raw(
    engine: Engine, candidate_calls: list[list[tuple[Any, ...]]], repeats: int, budget: float
) -> list[float]:
    """Per search: the time of its candidate queries (all of them, when words were dropped)."""
    runs = [calls for calls in candidate_calls if calls for _ in range(repeats)]
    random.Random(1).shuffle(runs)
    latencies: list[float] = []
    deadline = time.perf_counter() + budget
    with Session(engine) as session:
        for (groups,) in runs[0]:  # connection checked out, statement compiled
            raw_candidate_sql(session, groups)
        for calls in runs:
            started = time.perf_counter()
            for (groups,) in calls:
                raw_candidate_sql(session, groups)
            latencies.append((time.perf_counter() - started) * 1000)
            if time.perf_counter() > deadline:
                break
    return latencies


def measure(
    engine: Engine, viewer: User, corpus: str, all_queries: list[str], options: Options
) -> dict[str, Any]:
    backend = engine.dialect.name
    options.log(f"  {backend}/{corpus}: cold")
    result: dict[str, Any] = {"backend": backend, "corpus": corpus, "viewer_role": "teacher"}
    result["corpus_stats"] = corpus_stats(engine)
    result["cold"] = cold(engine, viewer, all_queries[0])
    options.log(
        f"  {backend}/{corpus}: {len(all_queries)} queries x {options.repeats} "
        f"(or {options.budget_seconds:g} s)"
    )
    latencies, slowest, empty = warm(engine, viewer, all_queries, options)
    result["warm"] = summary(latencies)
    result["warm"]["distinct_queries"] = len(all_queries)
    result["warm"]["rounds"] = round(len(latencies) / len(all_queries), 2)
    result["warm"]["searches_without_results"] = empty
    result["warm"]["meets_target"] = result["warm"]["p95_ms"] < TARGET_P95_MS
    result["slowest_queries_median_ms"] = slowest
    options.log(f"  {backend}/{corpus}: stages and raw candidate queries")
    breakdown = stages(engine, viewer, all_queries, options.budget_seconds / 3)
    calls = breakdown.pop("_calls")
    result["stages"] = breakdown
    result["raw_candidate_query"] = summary(
        raw(engine, calls, options.repeats, options.budget_seconds / 3)
    )
    result["raw_postings_matching"] = summary(
        raw_postings(engine, calls, options.repeats, options.budget_seconds / 6)
    )
    result["vocabulary_refresh"] = rebuilds(engine)
    if options.profile:
        path = RESULTS / f"profile-{backend}-{corpus}.txt"
        options.log(f"  {backend}/{corpus}: profiling one round -> {path}")
        profile(engine, viewer, all_queries, path)
        result["profile"] = str(path.relative_to(ROOT))
    return result


def profile(engine: Engine, viewer: User, all_queries: list[str], path: Path) -> None:
    """cProfile over one round of warm searches: the top functions by own and total time."""
    profiler = cProfile.Profile()
    for query in all_queries:
        with Session(engine, expire_on_commit=False) as session:
            profiler.enable()
            kb.search.search(session, query, viewer=viewer, limit=10)
            profiler.disable()
    out = io.StringIO()
    out.write(f"cProfile, {len(all_queries)} warm searches on {engine.dialect.name}\n\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)
    path.write_text(out.getvalue(), encoding="utf-8")


def run_backend(backend: str, url: str, all_queries: list[str], options: Options) -> list[Any]:
    engine = make_engine(url)
    try:
        options.log(f"{backend}: migrating and importing the starter pack")
        viewer = load_starter(engine)
        results = [measure(engine, viewer, "starter", all_queries, options)]
        if options.articles:
            options.log(f"{backend}: generating {options.articles} articles")
            seconds = load_generated(engine, options.articles, options.seed)
            corpus = f"starter+{options.articles}"
            result = measure(engine, viewer, corpus, all_queries, options)
            result["corpus_stats"]["load_seconds"] = round(seconds, 1)
            results.append(result)
        for result in results:
            result["server_version"] = server_version(engine)
        return results
    finally:
        engine.dispose()


def run(options: Options) -> dict[str, Any]:
    all_queries = queries()
    output: dict[str, Any] = {
        "target_p95_ms": TARGET_P95_MS,
        "candidates": "every match (ids from the in-memory postings), ranked in Python",
        "runs": [],
        "skipped": {},
    }
    for backend in options.backends:
        if backend == "postgresql":
            reason = postgres_unreachable()
            if reason:
                options.log(f"SKIPPED {backend}: {reason} (set HUB_BENCH_POSTGRES_URL)")
                output["skipped"][backend] = reason
                continue
        opener = sqlite_database if backend == "sqlite" else postgres_database
        with opener() as url:
            output["runs"].extend(run_backend(backend, url, all_queries, options))
    return output
