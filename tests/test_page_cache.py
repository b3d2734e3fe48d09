"""Cached anonymous exam pages: served before the framework, never to the wrong reader."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.models import Role
from hub.web.caching import CachedPage, PageCache, PageCacheMiddleware, page_key, previous_minute
from tests import html
from tests.exam_csv import load, row
from tests.factories import csrf_from, make_department, make_user, sign_in

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: in a test process where Playwright's sync API
    (e2e tests) keeps an event loop running, asyncio.run would refuse to start."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def test_cached_page_is_not_served_to_signed_in_staff(client: TestClient, db: Session) -> None:
    make_department(db, "SCI")
    load(db, [row("MATH101")])
    anonymous = client.get("/exams/1")
    assert anonymous.status_code == 200 and "Déplacer ou annuler" not in html.text(anonymous)
    again = client.get("/exams/1")  # answered from the cache
    assert again.text == anonymous.text and again.headers["etag"] == anonymous.headers["etag"]
    assert again.headers["cache-control"] == "public, max-age=30"
    assert "content-security-policy" in again.headers  # security headers on cached answers too

    sign_in(client, make_user(db, Role.elearning))
    staff = client.get("/exams/1")
    assert "Déplacer ou annuler" in html.text(staff, "details.manage summary")
    assert staff.headers["cache-control"] == "private, no-cache"


def test_cached_page_follows_a_change_at_once(client: TestClient, db: Session) -> None:
    make_department(db, "SCI")
    load(db, [row("MATH101")])
    first = client.get("/exams/1")
    assert "Examen annulé" not in html.text(first)
    assert (
        client.get("/exams/1", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    )
    staff = TestClient(client.app, follow_redirects=False)
    sign_in(staff, make_user(db, Role.elearning))
    token = csrf_from(staff.get("/exams/1").text)
    moved = staff.post(
        "/exams/1/status", data={"status": "cancelled", "note": "Grève.", "csrf_token": token}
    )
    assert moved.status_code == 303
    after = client.get("/exams/1", headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200 and "Examen annulé" in html.text(after, ".banner-cancelled")


def test_head_request_gets_headers_only(client: TestClient, db: Session) -> None:
    make_department(db, "SCI")
    load(db, [row("MATH101")])
    client.get("/exams/1")
    head = client.head("/exams/1")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 1000


# --- single flight: a cold or expired key is rendered once, whoever asks -----------------


def _request(path: str = "/exams/1") -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
        "scheme": "http",
        "server": ("hub.test", 80),
        "root_path": "",
        "session": {},
    }
    return Request(scope)


class SlowPage:
    """A page that takes a while to render, and counts its renders."""

    def __init__(self, seconds: float = 0.2) -> None:
        self.seconds = seconds
        self.renders = 0
        self._lock = threading.Lock()

    def __call__(self) -> Response:
        with self._lock:
            self.renders += 1
        time.sleep(self.seconds)
        return Response(f"<p>rendu {self.renders}</p>", media_type="text/html")


def test_threads_hitting_a_cold_cache_render_the_page_once() -> None:
    cache, page = PageCache(), SlowPage()
    readers = 12
    start = threading.Barrier(readers)

    def read() -> tuple[int, bytes]:
        start.wait()
        response = cache.page(_request(), lambda: 1, page)
        return response.status_code, bytes(response.body)

    with ThreadPoolExecutor(readers) as pool:
        answers = list(pool.map(lambda _: read(), range(readers)))
    assert page.renders == 1
    assert answers == [(200, b"<p>rendu 1</p>")] * readers


def test_a_failed_render_releases_the_waiters() -> None:
    cache = PageCache()
    key = page_key("/exams/1", "", "", None, None, 1)
    mine, future = cache.claim(key)
    assert mine and isinstance(future, Future)
    assert cache.claim(key) == (False, future)  # a second reader waits for the first
    cache.settle(key, future, None)  # the render failed or was not cacheable
    assert future.result(timeout=1) is None
    mine, again = cache.claim(key)
    assert mine and again is not future  # the next reader tries again


def _app_behind_the_middleware(cache: PageCache, page: SlowPage) -> tuple[Starlette, list[str]]:
    calls: list[str] = []

    def exam(request: Request) -> Response:  # a sync route, in the thread pool like ours
        calls.append(request.url.path)
        return cache.page(request, lambda: 1, page)

    inner = Starlette(routes=[Route("/exams/{exam_id}", exam)])
    app = PageCacheMiddleware(
        inner,
        cache=cache,
        accept=lambda scope: scope["path"].startswith("/exams"),
        version=lambda: 1,
        locale=lambda _: "",
    )
    return app, calls  # type: ignore[return-value]


def test_concurrent_misses_send_one_request_to_the_app() -> None:
    cache, page = PageCache(), SlowPage()
    app, calls = _app_behind_the_middleware(cache, page)

    async def crowd() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            return await asyncio.gather(*(client.get("/exams/1") for _ in range(20)))

    answers = run_async(crowd())
    assert calls == ["/exams/1"] and page.renders == 1
    assert {(a.status_code, a.text) for a in answers} == {(200, "<p>rendu 1</p>")}


def test_while_a_new_minute_renders_the_previous_minute_is_served() -> None:
    cache, page = PageCache(), SlowPage()
    app, calls = _app_behind_the_middleware(cache, page)
    key = page_key("/exams/1", "", "", None, None, 1)
    earlier = CachedPage(body=b"<p>minute d'avant</p>", headers=(), etag='"a"')
    mine, future = cache.claim(previous_minute(key))
    assert mine and isinstance(future, Future)
    cache.settle(previous_minute(key), future, earlier)
    mine, rendering = cache.claim(key)  # someone is rendering this minute's page
    assert mine

    async def read() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            return await client.get("/exams/1")

    assert run_async(read()).text == "<p>minute d'avant</p>"
    assert calls == [] and page.renders == 0
