"""hub/cache.py: the one per-process cache mechanism (banner, timetable, article pages'
version, search vocabulary; memos for rankings and suggestions; rendered pages)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from hub.cache import BANNER, Memo, ProcessCache, changed, forget_all, url_of
from hub.web.caching import CachedPage, PageCache


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    with Session(engine) as session:
        yield session
    engine.dispose()


class Source:
    """A version and a value as the database would give them, counting the reads."""

    def __init__(self) -> None:
        self.version = 1
        self.version_reads = 0
        self.loads: list[tuple[object, object]] = []  # (version, previous value)
        self.fail = False

    def read_version(self, _session: Session) -> object:
        self.version_reads += 1
        if self.fail:
            raise OperationalError("SELECT 1", {}, Exception("the database is away"))
        return self.version

    def load(self, _session: Session, version: object, previous: object) -> str:
        self.loads.append((version, getattr(previous, "value", None)))
        return f"value at {version}"


def cache_of(source: Source, **options: object) -> ProcessCache[str]:
    return ProcessCache[str](
        "test",
        version=source.read_version,
        load=source.load,
        **options,  # type: ignore[arg-type]
    )


def test_a_value_is_checked_against_its_version_at_most_every_check_seconds(
    session: Session,
) -> None:
    source = Source()
    cache = cache_of(source, check_seconds=2.0)
    assert cache.get(session, now=100.0) == "value at 1"
    assert cache.get(session, now=101.9) == "value at 1"
    assert source.version_reads == 1  # within the window: no query at all
    assert cache.get(session, now=102.5) == "value at 1"
    assert source.version_reads == 2 and len(source.loads) == 1  # same version: not rebuilt
    source.version = 2
    assert cache.get(session, now=105.0) == "value at 2"
    assert source.loads[-1] == (2, "value at 1")  # the load sees the value it replaces


def test_readers_are_never_blocked_by_a_refresh(session: Session) -> None:
    """While one caller rebuilds a due value (slowly), the others get the previous value at
    once instead of waiting or rebuilding it too."""
    source = Source()
    started, release = threading.Event(), threading.Event()

    def slow_load(_session: Session, version: object, _previous: object) -> str:
        if version == 2:
            started.set()
            assert release.wait(5)
        return f"value at {version}"

    cache = ProcessCache[str]("test", version=source.read_version, load=slow_load)
    engine = session.get_bind()
    assert cache.get(session) == "value at 1"
    source.version = 2

    def read() -> str:
        with Session(engine) as own:
            return cache.get(own)

    with ThreadPoolExecutor(4) as pool:
        refresher = pool.submit(read)
        assert started.wait(5)
        others = [pool.submit(read) for _ in range(6)]
        assert [f.result(timeout=2) for f in others] == ["value at 1"] * 6
        release.set()
        assert refresher.result(timeout=5) == "value at 2"
    assert cache.get(session) == "value at 2"


def test_a_refresh_started_before_a_forget_is_not_stored(session: Session) -> None:
    source = Source()
    cache = cache_of(source)

    def forget_meanwhile(_session: Session) -> object:
        cache.forget()  # a change committed by another thread of this process, right now
        return 1

    cache.read_version = forget_meanwhile
    assert cache.get(session) == "value at 1"  # answered...
    assert cache.peek(url_of(session)) is None  # ...but not kept: it may predate the change


def test_a_failed_read_keeps_the_last_value_only_when_asked(session: Session) -> None:
    source = Source()
    keeping, strict = cache_of(source, keep_on_error=True), cache_of(source)
    assert keeping.get(session) == strict.get(session) == "value at 1"
    source.fail = True
    assert keeping.get(session) == "value at 1"
    with pytest.raises(OperationalError):
        strict.get(session)
    keeping.forget()
    with pytest.raises(OperationalError):  # nothing to fall back on
        keeping.get(session)


def test_a_due_check_is_handed_to_one_caller_the_others_keep_answering(session: Session) -> None:
    source = Source()
    cache = cache_of(source, check_seconds=2.0)
    url = url_of(session)
    assert cache.fresh(url, now=100.0) is None  # nothing yet: go and read
    cache.get(session, now=100.0)
    assert cache.fresh(url, now=101.0) is not None
    assert cache.fresh(url, now=103.0) is None  # due: this caller re-checks
    assert cache.fresh(url, now=103.5) is not None  # the others keep answering meanwhile
    cache.get(session, now=103.6)
    assert cache.fresh(url, now=104.0) is not None
    assert cache.fresh(url, now=106.0) is None
    assert cache.fresh(url, now=107.5) is None  # a hand-off that never happened expires


def test_put_is_a_compare_and_set(session: Session) -> None:
    source = Source()
    cache = cache_of(source)
    url = url_of(session)
    cache.get(session)
    started_from = cache.entry(url)
    assert cache.put(url, "newer", 2, replacing=started_from)
    assert not cache.put(url, "older build", 2, replacing=started_from)
    assert cache.peek(url) == "newer"


def test_a_change_forgets_what_depends_on_it_and_forget_all_empties_everything(
    session: Session,
) -> None:
    shows_banner = cache_of(Source(), depends_on=[BANNER])
    other = cache_of(Source())
    memo = Memo[str, int]("test memo", 10)
    pages = PageCache()
    url = url_of(session)
    for cache in (shows_banner, other):
        cache.get(session)
    memo.put("a", 1)
    key = ("/exams", "fr")
    claimed, future = pages.claim(key)
    assert claimed
    pages.settle(key, future, CachedPage(b"page", (), "etag"))  # type: ignore[arg-type]

    changed(BANNER)
    assert shows_banner.peek(url) is None and other.peek(url) == "value at 1"
    forget_all()
    assert other.peek(url) is None and memo.get("a") is None and pages.get(key) is None


def test_a_memo_keeps_the_most_recently_used() -> None:
    memo = Memo[str, int]("test memo", 2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # used: now the most recent
    memo.put("c", 3)
    assert memo.get("b") is None and memo.get("a") == 1 and memo.get("c") == 3
    assert len(memo) == 2
