"""Per-process caches of what is read from the database: one mechanism for all of them.

A `ProcessCache` keeps one value per database (engine URL) in this process: the crisis
banner, the exam timetable, the version of the cached article pages, the search
vocabulary. Each value carries the version it was built from. The rules, the same for
every cache (docs/architecture.md, "Connections and threads"):

- Version-checked: a value is re-checked at most every `check_seconds` by reading its
  version (one cheap query through the caller's own session, never a second connection);
  it is rebuilt (`load`) only when the version changed.
- Readers are never blocked by a refresh: when a value is due, one caller re-checks (a
  claim tried without waiting) and the others keep the previous value meanwhile. Only
  with no value at all does a caller read for itself.
- A refresh that started before the cache was forgotten is not stored (a generation
  counter), and `put` is a compare-and-set, so an older build never replaces a newer one.
- `changed(topic)` forgets the caches whose values depend on that topic (the crisis
  switch forgets everything that shows the banner); `forget_all()` empties them all (tests).

What is computed *from* a version (a ranking, a search-as-you-type list) is remembered in a
`Memo`, keyed by that version, so it never needs re-checking; rendered pages likewise, in
`hub.web.caching.PageCache` (a memo that also lets one request render for the others). Both
register with `forget_all`. Nothing here holds a lock across a query."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

V = TypeVar("V")
log = logging.getLogger(__name__)
# Topics for `changed`: what a cached value depends on.
BANNER = "crisis banner"  # the crisis state (hub.crisis.mode.switch, once committed)
ARTICLES = "articles"  # articles and synonyms (kb.search, after a commit that changed them)
HAND_OFF_SECONDS = 1.0  # a re-check handed to a caller by `fresh` that never happened expires


class Forgettable(Protocol):
    def clear(self) -> None: ...


@dataclass(frozen=True)
class Entry(Generic[V]):
    value: V
    version: object
    checked_at: float  # time.monotonic() of the version read


def url_of(session: Session) -> str:
    return str(session.get_bind().engine.url)


class ProcessCache(Generic[V]):
    """One value per database in this process, checked against its version.

    `version(session)` is the cheap read; `load(session, version, previous)` builds the value
    when the version changed (previous: the entry it replaces, for patching); without
    `load`, the version is the value. `keep_on_error`: a failed read (the database is away)
    answers the previous value when there is one."""

    def __init__(
        self,
        name: str,
        *,
        version: Callable[[Session], object],
        load: Callable[[Session, object, Entry[V] | None], V] | None = None,
        check_seconds: float = 0.0,
        keep_on_error: bool = False,
        depends_on: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.read_version = version
        self.load = load
        self.check_seconds = check_seconds
        self.keep_on_error = keep_on_error
        self.depends_on = frozenset(depends_on)
        self._entries: dict[str, Entry[V]] = {}
        self._checking: set[str] = set()  # databases one caller is re-checking now
        self._handed: dict[str, float] = {}  # re-checks handed out by `fresh` (URL -> when)
        self._generation = 0
        self._lock = threading.Lock()  # guards the above; memory only
        register(self)

    # Reading -----------------------------------------------------------------------------

    def get(self, session: Session, *, now: float | None = None) -> V:
        """The value, re-checked if due (by one caller; the others get the previous value)."""
        key = url_of(session)
        clock = time.monotonic() if now is None else now
        entry = self._entries.get(key)
        if entry is not None and clock - entry.checked_at < self.check_seconds:
            return entry.value
        with self._lock:
            checking = key not in self._checking
            if checking:
                self._checking.add(key)
        if not checking and entry is not None:
            return entry.value
        try:
            latest = self._entries.get(key)
            if checking and latest is not None and clock - latest.checked_at < self.check_seconds:
                return latest.value  # re-checked by another caller just before this claim
            return self._check(session, key, clock)
        except SQLAlchemyError:
            latest = self._entries.get(key)
            if not self.keep_on_error or latest is None:
                raise
            log.warning("could not re-check %s; keeping the last value", self.name, exc_info=True)
            return latest.value
        finally:
            if checking:
                with self._lock:
                    self._checking.discard(key)

    def _check(self, session: Session, key: str, clock: float) -> V:
        generation = self._generation
        version = self.read_version(session)
        latest = self._entries.get(key)  # perhaps re-checked by another caller meanwhile
        if latest is not None and latest.version == version:
            value = latest.value
        elif self.load is None:
            value = version  # type: ignore[assignment]
        else:
            value = self.load(session, version, latest)
        with self._lock:
            if generation == self._generation:  # not forgotten meanwhile
                self._entries[key] = Entry(value, version, clock)
                self._handed.pop(key, None)
        return value

    def fresh(self, url: str, *, now: float | None = None) -> Entry[V] | None:
        """The entry to answer from without reading (cached pages, before the framework), or
        None when the caller must go through `get`: within `check_seconds` of the last check
        everyone gets it; after that, one caller gets None (the re-check is handed to it)
        and the others keep the entry until that re-check is done."""
        entry = self._entries.get(url)
        if entry is None:
            return None
        clock = time.monotonic() if now is None else now
        if clock - entry.checked_at < self.check_seconds:
            return entry
        with self._lock:
            handed = self._handed.get(url)
            if handed is not None and clock - handed < HAND_OFF_SECONDS:
                return entry
            self._handed[url] = clock
        return None

    def peek(self, url: object) -> V | None:
        """The last value for this database, without reading (error pages, commands)."""
        entry = self._entries.get(str(url))
        return entry.value if entry is not None else None

    def entry(self, url: str) -> Entry[V] | None:
        return self._entries.get(url)

    # Writing -----------------------------------------------------------------------------

    def put(self, url: str, value: V, version: object, *, replacing: Entry[V] | None) -> bool:
        """Store a value built elsewhere (a background refresh) if the cache still holds
        `replacing` (compare-and-set): a build started from an older value, or before the
        cache was forgotten, is not stored over a newer one."""
        with self._lock:
            if self._entries.get(url) is not replacing:
                return False
            self._entries[url] = Entry(value, version, time.monotonic())
            return True

    def forget(self, url: str | None = None) -> None:
        """Drop the value of one database (a change committed here shows at once), or all."""
        with self._lock:
            self._generation += 1
            if url is None:
                self._entries.clear()
                self._handed.clear()
            else:
                self._entries.pop(url, None)
                self._handed.pop(url, None)

    def clear(self) -> None:
        self.forget()


K = TypeVar("K")
M = TypeVar("M")


class Memo(Generic[K, M]):
    """A bounded memo (least recently used first out) of values computed from a version:
    its keys carry the version they were computed at (a search index generation, a reader
    filter), so a new version is a new key and the old ones age out; nothing to re-check.
    For answers worth remembering by key (rankings, search-as-you-type lists, readers)."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self._items: OrderedDict[K, M] = OrderedDict()
        self._lock = threading.Lock()  # memory only
        register(self)

    def get(self, key: K) -> M | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: K, value: M) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_registry: weakref.WeakSet[Forgettable] = weakref.WeakSet()  # a cache gone is forgotten here too
_registry_lock = threading.Lock()


def register(cache: Forgettable) -> None:
    """Known to `forget_all` and, for a ProcessCache, to `changed` (done by constructing)."""
    with _registry_lock:
        _registry.add(cache)


def changed(topic: str) -> None:
    """Forget, in this process, every cache whose values depend on `topic` (other processes
    see the change at their next check)."""
    with _registry_lock:
        caches = list(_registry)
    for cache in caches:
        if isinstance(cache, ProcessCache) and topic in cache.depends_on:
            cache.forget()


def forget_all() -> None:
    """Empty every per-process cache (between tests)."""
    with _registry_lock:
        caches = list(_registry)
    for cache in caches:
        cache.clear()
