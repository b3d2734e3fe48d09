"""After an edit, searches keep answering at once from the previous search vocabulary while
one background thread builds the new one; the edit shows in this process's searches as soon
as that build is done (the first build in a process is the only one a search waits for).

Issue 14: a rebuild (3 s at 5,000 articles) used to run inside the search that noticed the
change, under a lock every other search of the process then waited on."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.corpus import Generator, load_material
from hub.db import make_engine
from hub.models import Role, User
from kb.articles import ArticleInput, save_article
from kb.search import REFRESH_THREAD, search
from kb.synonyms import add_synonym
from tests.factories import make_department, make_user

CONTENT = Path(__file__).resolve().parents[2] / "kb" / "content"
DISTINCT = 150  # generated articles, saved as authors save them
COPIES = 16  # each stored this many times: 2,400 published articles
ANSWER_BOUND = 0.2  # seconds: what "answered at once" means for one search here
COLUMNS = (
    "title, kind, audience, department_id, summary, body, tags, status, verified_on, "
    "video_url, revision, created_at, updated_at, updated_by_id, search_title, search_tags, "
    "search_body"
)
QUERIES = ["examen", "teams enregistrement", "mot de passe oublié", "quiz moodle", "visio"]


def load_corpus(db: Session) -> int:
    """DISTINCT generated articles, published, then copied (a plain INSERT ... SELECT: the
    same triggers as a save) to reach DISTINCT x COPIES. Returns how many are published."""
    generator = Generator(load_material(CONTENT), seed=14, tail_size=5_000)
    for data in generator.articles(DISTINCT):
        save_article(
            db,
            dataclasses.replace(data, status="published", department=None),
            actor=None,
        )
    db.commit()
    for copy in range(1, COPIES):
        db.execute(
            text(
                f"INSERT INTO article (slug, {COLUMNS}) "
                f"SELECT slug || '-{copy}', {COLUMNS} FROM article WHERE slug LIKE 'gen-%' "
                "AND slug NOT LIKE 'gen-%-%'"
            )
        )
    db.commit()
    return DISTINCT * COPIES


def timed_search(engine: Engine, query: str, viewer: User) -> tuple[float, float, int]:
    """(start, seconds, results) of one search in a session of its own, as a request."""
    with Session(engine, expire_on_commit=False) as session:
        started = time.perf_counter()
        results = len(search(session, query, viewer=viewer).results)
        return started, time.perf_counter() - started, results


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition()` held (polled), failing after `timeout`."""
    started = time.perf_counter()
    while not condition():
        assert time.perf_counter() - started < timeout, "not within the time allowed"
        time.sleep(0.02)
    return time.perf_counter() - started


def refresh_threads() -> int:
    return sum(thread.name == REFRESH_THREAD for thread in threading.enumerate())


def test_searches_answer_at_once_while_the_vocabulary_is_rebuilt(
    db: Session, engine: Engine
) -> None:
    make_department(db, "SCI")
    viewer = make_user(db, Role.teacher)
    published = load_corpus(db)
    # The first build of the process: the one time a search waits (nothing to serve yet).
    started = time.perf_counter()
    _, _, found = timed_search(engine, "examen", viewer)
    first_build = time.perf_counter() - started
    assert found == 10

    # Every published article edited: more than 5 % changed, so a full rebuild.
    db.execute(text("UPDATE article SET search_body = search_body || ' quokka'"))
    db.commit()

    stop = threading.Event()
    during: list[tuple[float, float, int]] = []  # (start, seconds, results) of each search
    most_refresh_threads = 0
    failures: list[BaseException] = []

    def searcher(offset: int) -> None:
        nonlocal most_refresh_threads
        try:
            index = offset
            while not stop.is_set():
                during.append(timed_search(engine, QUERIES[index % len(QUERIES)], viewer))
                most_refresh_threads = max(most_refresh_threads, refresh_threads())
                index += 1
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=searcher, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        # This search notices the change: answered at once too, from the previous vocabulary.
        noticed_at, noticing, noticed = timed_search(engine, "quokka", viewer)
        # The edit reaches this process's searches when the rebuild is done.
        wait_for(lambda: timed_search(engine, "quokka", viewer)[2] == 10, timeout=60)
        served_at = time.perf_counter()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures

    rebuild = served_at - noticed_at
    window = sorted(
        [noticing] + [seconds for start, seconds, _ in during if noticed_at <= start < served_at]
    )
    median, slowest = window[len(window) // 2], window[-1]
    logging.getLogger(__name__).warning(  # the figures, shown with -rA or on failure
        f"{engine.dialect.name}: {published} published; first build {first_build:.2f} s; "
        f"full rebuild served {rebuild:.2f} s after the change was noticed; "
        f"{len(window)} searches meanwhile: median {median * 1000:.0f} ms, "
        f"slowest {slowest * 1000:.0f} ms"
    )
    # No search waited for the rebuild (before: the search that noticed the change built
    # the new vocabulary, and every other one waited for it, as long as the rebuild took).
    # An absolute bound on the slowest one would measure the machine's load as much: on 2
    # busy shared cores a lone search, rebuild or not, now and then takes 200-400 ms.
    assert slowest < rebuild / 2
    assert median < ANSWER_BOUND
    assert noticed == 0  # it was answered from the previous vocabulary
    assert len(window) >= 10  # the rebuild took long enough for the check to mean something
    assert most_refresh_threads <= 1  # one rebuild at a time, never one per search
    wait_for(lambda: refresh_threads() == 0, timeout=10)


def test_an_edit_or_a_synonym_shows_in_this_process_s_searches_soon(
    db: Session, engine: Engine, starter_pack: None
) -> None:
    team = make_user(db, Role.elearning)
    assert timed_search(engine, "examen", team)[2] > 0  # the vocabulary, built

    save_article(
        db,
        ArticleInput(
            kind="tutorial",
            audience="everyone",
            slug="le-wombat",
            title="Le wombat du campus",
            body="Un wombat dort dans la salle des examens.",
            status="published",
        ),
        actor=None,
    )
    db.commit()
    wait_for(lambda: timed_search(engine, "wombat", team)[2] == 1, timeout=5)

    add_synonym(db, term="marsupial", expansion="wombat", actor=None)
    db.commit()
    wait_for(lambda: timed_search(engine, "marsupial", team)[2] == 1, timeout=5)


def test_a_change_committed_here_is_served_without_a_search_noticing_it(
    db: Session, engine: Engine, starter_pack: None
) -> None:
    """The author publishes, and the very next search (the header's, one request) finds the
    article: the commit brought this process's vocabulary up to date. Before, the first search
    after the change only noticed it and answered from the previous vocabulary (the e2e journey's
    header search missed the article it had just published)."""
    team = make_user(db, Role.elearning)
    assert timed_search(engine, "examen", team)[2] > 0  # the vocabulary, built
    save_article(
        db,
        ArticleInput(
            kind="tutorial",
            audience="everyone",
            slug="le-numbat",
            title="Le numbat",
            body="Un numbat mange des termites.",
            status="published",
        ),
        actor=None,
    )
    db.commit()
    wait_for(lambda: refresh_threads() == 0, timeout=10)
    assert timed_search(engine, "numbat", team)[2] == 1  # the first search after the change


def test_a_rebuild_takes_no_connection_a_search_is_holding(db: Session, starter_pack: None) -> None:
    """With a single pooled connection, held by a request: its search after an edit answers
    from the previous vocabulary (the rebuild waits for a connection of its own, the request
    never waits for the rebuild), and the rebuild runs once the connection is returned."""
    team = make_user(db, Role.elearning)
    url = db.get_bind().engine.url.render_as_string(hide_password=False)
    tight = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=10)
    try:
        request = Session(tight, expire_on_commit=False)
        assert search(request, "examen", viewer=team).results  # holds the one connection
        # Another process's edit (plain SQL: this process's commit hook does not see it).
        with db.get_bind().engine.begin() as other:
            other.execute(text("INSERT INTO synonym (term, expansion) VALUES ('quokka', 'examen')"))
        request.rollback()  # a new request's transaction, same connection
        started = time.perf_counter()
        assert search(request, "examen", viewer=team).results
        assert search(request, "quokka", viewer=team).results == []  # the previous vocabulary
        assert time.perf_counter() - started < 2  # no wait for a connection (10 s timeout)
        request.close()
        wait_for(lambda: timed_search(tight, "quokka", team)[2] > 0, timeout=15)
    finally:
        tight.dispose()


@pytest.fixture(autouse=True)
def no_refresh_left_running() -> Iterator[None]:
    """No refresh thread of another test still building when a test starts or ends."""
    wait_for(lambda: refresh_threads() == 0, timeout=60)
    yield
    wait_for(lambda: refresh_threads() == 0, timeout=60)
