"""Cheap answers for the exam-morning rush: conditional requests and short public caching."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

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
    path: str, query: str, locale: str, hx: str | None, restore: str | None, version: object
) -> tuple[object, ...]:
    """What a cached anonymous page depends on; the minute keeps countdowns fresh."""
    return (path, query, locale, hx, restore, version, int(time.time() // 60))


class PageCache:
    """Rendered anonymous pages kept in this process, so the rush costs no rendering.

    The key holds everything the page depends on: address, language, htmx partial or not,
    a version of the data (the timetable's) and the current minute (countdowns). Signed-in
    readers and pages with a message to show are never cached. `PageCacheMiddleware`
    answers from the same cache before the framework runs."""

    def __init__(self, size: int = PAGE_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[object, ...], CachedPage] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, key: tuple[object, ...]) -> CachedPage | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def page(
        self,
        request: Request,
        version: object,
        build: Callable[[], Response],
        *,
        last_modified: datetime | None = None,
    ) -> Response:
        if getattr(request.state, "user", None) is not None or request.scope.get("session", {}).get(
            "flash"
        ):
            return conditional(request, build(), last_modified=last_modified)
        key = page_key(
            request.url.path,
            request.url.query,
            getattr(request.state, "locale", ""),
            request.headers.get("hx-request"),
            request.headers.get("hx-history-restore-request"),
            version,
        )
        hit = self.get(key)
        if hit is None:
            response = build()
            if response.status_code != 200:
                return response
            finished = conditional(request, response, last_modified=last_modified, check=False)
            hit = CachedPage(
                body=bytes(finished.body),
                headers=tuple(finished.raw_headers),
                etag=finished.headers["etag"],
            )
            with self._lock:
                self._entries[key] = hit
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return hit.response(request.headers.get("if-none-match", ""))


class PageCacheMiddleware:
    """Serve cached anonymous pages (and their 304s) before FastAPI runs: the exam-morning
    crowd then costs a dictionary lookup. Anything it cannot answer safely goes on to the
    app: signed-in or token requests, pending messages, or a data version not checked in
    the last seconds (the app re-checks it and renders)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: PageCache,
        prefixes: tuple[str, ...],
        version: Callable[[], object | None],
        locale: Callable[[str | None], str],
    ) -> None:
        self.app = app
        self.cache = cache
        self.prefixes = prefixes
        self.version = version
        self.locale = locale

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"].startswith(self.prefixes)
        ):
            session = scope.get("session") or {}
            headers = Headers(scope=scope)
            version = self.version()
            if (
                version is not None
                and "uid" not in session
                and "flash" not in session
                and "authorization" not in headers
            ):
                key = page_key(
                    scope["path"],
                    scope["query_string"].decode("latin-1"),
                    self.locale(session.get("lang")),
                    headers.get("hx-request"),
                    headers.get("hx-history-restore-request"),
                    version,
                )
                hit = self.cache.get(key)
                if hit is not None:
                    status = hit.status_for(headers.get("if-none-match", ""))
                    await send(
                        {
                            "type": "http.response.start",
                            "status": status,
                            "headers": hit.asgi_headers(status),
                        }
                    )
                    body = hit.body if status == 200 and scope["method"] == "GET" else b""
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)
