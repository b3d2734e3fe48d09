"""Cheap answers for the exam-morning rush: conditional requests and short public caching."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.cache import register

PUBLIC_MAX_AGE = 30  # seconds a browser or proxy may reuse a public page without asking
PAGE_CACHE_SIZE = 2048  # rendered pages per process (~10 kB each): ~20 MB at most


def conditional(
    request: Request,
    response: Response,
    *,
    last_modified: datetime | None = None,
    check: bool = True,
) -> Response:
    """Add an ETag (and Last-Modified); answer 304 when the client already has this version.

    Anonymous answers that set no cookie are public for PUBLIC_MAX_AGE seconds; anything
    personal stays private."""
    body = bytes(response.body)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    personal = getattr(request.state, "user", None) is not None or (
        "set-cookie" in response.headers
    )
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache" if personal else f"public, max-age={PUBLIC_MAX_AGE}",
    }
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
    vary = response.headers.get("vary")
    if check and etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        not_modified = Response(status_code=304, headers=headers)
        if vary:
            not_modified.headers["Vary"] = vary
        return not_modified
    response.headers.update(headers)
    return response


@dataclass(frozen=True)
class CachedPage:
    """A finished 200 answer (body and every header), replayable as 200 or 304."""

    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    etag: str

    def status_for(self, if_none_match: str) -> int:
        return 304 if self.etag in [t.strip() for t in if_none_match.split(",")] else 200

    def asgi_headers(self, status: int) -> list[tuple[bytes, bytes]]:
        if status == 200:
            return list(self.headers)
        return [(k, v) for k, v in self.headers if k not in (b"content-length", b"content-type")]

    def response(self, if_none_match: str) -> Response:
        status = self.status_for(if_none_match)
        response = Response(self.body if status == 200 else b"", status_code=status)
        response.raw_headers = self.asgi_headers(status)
        return response


def page_key(
    path: str,
    query: str,
    locale: str,
    hx: str | None,
    restore: str | None,
    version: object,
    *,
    per_minute: bool = True,
) -> tuple[object, ...]:
    """What a cached anonymous page depends on; the minute keeps countdowns fresh (pages
    without one, like articles, keep 0 there and live until their version changes)."""
    minute = int(time.time() // 60) if per_minute else 0
    return (path, query, locale, hx, restore, version, minute)


def htmx_of(headers: Headers) -> str | None:
    """What of a request's htmx headers picks the answer (hub/web/rendering.py: the block
    named like the target, else `content`)."""
    if headers.get("hx-request") is None:
        return None
    return f"{headers.get('hx-request')}|{headers.get('hx-target', '')}"


def previous_minute(key: tuple[object, ...]) -> tuple[object, ...]:
    """The same page's key one minute earlier (see `PageCacheMiddleware`)."""
    minute = key[-1]
    assert isinstance(minute, int)
    return (*key[:-1], minute - 1)


CLAIM = "hub.page_cache.claim"  # ASGI scope key: the render this request must do for others
WAIT_SECONDS = 5.0  # longest a request waits (in the event loop) for another one's render
# A request already in a worker thread waits much less: threads are few, and a thread that
# waits cannot run the render it waits for if that render needs a thread too.
THREAD_WAIT_SECONDS = 0.5


def _settle(future: Future[CachedPage | None], page: CachedPage | None) -> None:
    if not future.done():
        future.set_result(page)


class PageCache:
    """Rendered anonymous pages kept in this process, so the rush costs no rendering.

    The key holds everything the page depends on: address, language, htmx partial or not,
    a version of the data (the timetable's) and the current minute (countdowns). Signed-in
    readers and pages with a message to show are never cached. `PageCacheMiddleware`
    answers from the same cache before the framework runs.

    Single-flight: when a key changes (every minute, or with the data), all the requests in
    flight miss at once; one of them renders (it holds the key's future in `_pending`) and
    the others wait for its result instead of rendering the same page again."""

    def __init__(self, size: int = PAGE_CACHE_SIZE, *, per_minute: bool = True) -> None:
        self.size = size
        self.per_minute = per_minute  # the pages show the time (countdowns): a key per minute
        self._entries: OrderedDict[tuple[object, ...], CachedPage] = OrderedDict()
        self._pending: dict[tuple[object, ...], Future[CachedPage | None]] = {}
        self._lock = threading.Lock()
        register(self)  # emptied by hub.cache.forget_all

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            for future in self._pending.values():
                _settle(future, None)
            self._pending.clear()

    def get(self, key: tuple[object, ...]) -> CachedPage | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def claim(self, key: tuple[object, ...]) -> tuple[bool, CachedPage | Future[CachedPage | None]]:
        """Who renders `key`: (True, future to settle) for the caller, which must then call
        `settle`; (False, the page) when it arrived meanwhile; (False, the render in progress
        to wait for) when another caller renders it."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                return False, hit
            pending = self._pending.get(key)
            if pending is not None:
                return False, pending
            future: Future[CachedPage | None] = Future()
            future.set_running_or_notify_cancel()  # waiters giving up cannot cancel it
            self._pending[key] = future
            return True, future

    def pending(self, key: tuple[object, ...]) -> Future[CachedPage | None] | None:
        with self._lock:
            return self._pending.get(key)

    def settle(
        self, key: tuple[object, ...], future: Future[CachedPage | None], page: CachedPage | None
    ) -> None:
        """Store the rendered page (None: not cacheable, or failed) and wake the waiters."""
        with self._lock:
            if page is not None:
                self._entries[key] = page
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
            if self._pending.get(key) is future:
                del self._pending[key]
        _settle(future, page)

    def page(
        self,
        request: Request,
        version: Callable[[], object],
        build: Callable[[], Response],
        *,
        last_modified: datetime | None = None,
    ) -> Response:
        """The page for this request: personal ones built and given an ETag; anonymous ones
        from the cache, built once per key. `version` reads the data version, and is called
        only when needed: not for a signed-in reader, and not when `PageCacheMiddleware`
        already claimed the render with a version checked in the last seconds (a read less
        on every miss)."""
        if getattr(request.state, "user", None) is not None or request.scope.get("session", {}).get(
            "flash"
        ):
            return conditional(request, build(), last_modified=last_modified)
        if_none_match = request.headers.get("if-none-match", "")
        claimed = request.scope.get(CLAIM)
        if claimed is not None:
            key, mine, found = claimed[0], True, claimed[1]  # the middleware's, for this request
        else:
            key = page_key(
                request.url.path,
                request.url.query,
                getattr(request.state, "locale", ""),
                htmx_of(request.headers),
                request.headers.get("hx-history-restore-request"),
                version(),
                per_minute=self.per_minute,
            )
            mine, found = self.claim(key)
        if isinstance(found, CachedPage):
            return found.response(if_none_match)
        if not mine:
            try:
                waited = found.result(timeout=THREAD_WAIT_SECONDS)
            except TimeoutError:
                waited = None
            if waited is not None:
                return waited.response(if_none_match)
            return conditional(request, build(), last_modified=last_modified)  # uncached
        hit = None
        try:
            response = build()
            if response.status_code != 200:
                return response
            finished = conditional(request, response, last_modified=last_modified, check=False)
            hit = CachedPage(
                body=bytes(finished.body),
                headers=tuple(finished.raw_headers),
                etag=finished.headers["etag"],
            )
        finally:
            self.settle(key, found, hit)
        assert hit is not None
        return hit.response(if_none_match)


class PageCacheMiddleware:
    """Serve cached anonymous pages (and their 304s) before FastAPI runs: the exam-morning
    crowd then costs a dictionary lookup. Anything it cannot answer safely goes on to the
    app: signed-in or token requests, pending messages, or a data version not checked in
    the last seconds (the app re-checks it and renders; `version` hands that re-check to
    one request and gives the others the last known version meanwhile).

    On a miss, one request goes on to render (it claims the key) and the others do not
    follow it into the app: they get the same page one minute older if there is one (the
    minute only moves countdowns), else they wait for the render."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: PageCache,
        accept: Callable[[Scope], bool],
        version: Callable[[], object | None],
        locale: Callable[[str | None], str],
    ) -> None:
        self.app = app
        self.cache = cache
        self.accept = accept  # the addresses whose pages this cache holds
        self.version = version
        self.locale = locale

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and self.accept(scope):
            session = scope.get("session") or {}
            headers = Headers(scope=scope)
            if "uid" not in session and "flash" not in session and "authorization" not in headers:
                version = self.version()
                if version is not None:
                    key = page_key(
                        scope["path"],
                        scope["query_string"].decode("latin-1"),
                        self.locale(session.get("lang")),
                        htmx_of(headers),
                        headers.get("hx-history-restore-request"),
                        version,
                        per_minute=self.cache.per_minute,
                    )
                    hit = self.cache.get(key)
                    if (
                        hit is None
                        and self.cache.per_minute
                        and self.cache.pending(key) is not None
                    ):
                        hit = self.cache.get(previous_minute(key))
                    if hit is None:
                        mine, found = self.cache.claim(key)
                        if mine:
                            assert isinstance(found, Future)
                            await self._render(scope, receive, send, key, found)
                            return
                        hit = await self._wait(found)
                    if hit is not None:
                        await self._replay(hit, scope, headers, send)
                        return
        await self.app(scope, receive, send)

    async def _render(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: tuple[object, ...],
        future: Future[CachedPage | None],
    ) -> None:
        """Go on to the app, which renders and settles the claim (`PageCache.page`); if it
        does not (an error, another version by then), release the waiters anyway."""
        scope[CLAIM] = (key, future)
        try:
            await self.app(scope, receive, send)
        finally:
            if not future.done():
                self.cache.settle(key, future, None)

    @staticmethod
    async def _wait(found: CachedPage | Future[CachedPage | None]) -> CachedPage | None:
        if isinstance(found, CachedPage):
            return found
        try:
            return await asyncio.wait_for(asyncio.wrap_future(found), WAIT_SECONDS)
        except TimeoutError:
            return None  # go render it yourself

    @staticmethod
    async def _replay(hit: CachedPage, scope: Scope, headers: Headers, send: Send) -> None:
        status = hit.status_for(headers.get("if-none-match", ""))
        await send(
            {"type": "http.response.start", "status": status, "headers": hit.asgi_headers(status)}
        )
        body = hit.body if status == 200 and scope["method"] == "GET" else b""
        await send({"type": "http.response.body", "body": body})
