"""Cheap answers for the exam-morning rush: conditional requests and short public caching."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime

from fastapi import Request
from fastapi.responses import Response

PUBLIC_MAX_AGE = 30  # seconds a browser or proxy may reuse a public page without asking
PAGE_CACHE_SIZE = 2048  # rendered pages per process (~10 kB each): ~20 MB at most


def conditional(
    request: Request, response: Response, *, last_modified: datetime | None = None
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
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        not_modified = Response(status_code=304, headers=headers)
        if vary:
            not_modified.headers["Vary"] = vary
        return not_modified
    response.headers.update(headers)
    return response


class PageCache:
    """Rendered anonymous pages kept in this process, so the rush costs no rendering.

    The key holds everything the page depends on: address, language, htmx partial or not,
    a version of the data (the timetable's) and the current minute (countdowns). Signed-in
    readers and pages with a message to show are never cached."""

    def __init__(self, size: int = PAGE_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[object, ...], tuple[bytes, str | None, str | None]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def page(self, request: Request, version: object, build: Callable[[], Response]) -> Response:
        if getattr(request.state, "user", None) is not None or request.scope.get("session", {}).get(
            "flash"
        ):
            return build()
        key = (
            request.url.path,
            request.url.query,
            getattr(request.state, "locale", ""),
            request.headers.get("hx-request"),
            request.headers.get("hx-history-restore-request"),
            version,
            int(time.time() // 60),
        )
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
        if hit is None:
            response = build()
            if response.status_code != 200:
                return response
            hit = (bytes(response.body), response.media_type, response.headers.get("vary"))
            with self._lock:
                self._entries[key] = hit
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        body, media_type, vary = hit
        response = Response(body, media_type=media_type)
        if vary:
            response.headers["Vary"] = vary
        return response
