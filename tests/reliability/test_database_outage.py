"""The database goes away under load: the hub answers a clear 503 (never a 500) meanwhile,
/healthz says the database is unreachable, and once the database is back the same server
process answers normally again within seconds (its pool reconnects: pre-ping).

PostgreSQL: a private server of this test (initdb in a temporary directory), stopped with
`pg_ctl stop -m fast` and started again; the machine's shared server is never touched.
SQLite: the database locked by another writer beyond the busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import hub.db
from hub.models import Role
from hub.tokens import create_token
from tests import html
from tests.factories import csrf_from, make_department, make_user, sign_in
from tests.hub_server import free_port, http_client, hub_env
from tests.reliability.conftest import (
    HubProcesses,
    PrivatePostgres,
    prepare_database,
    serve_args,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reliability")]

RECOVERY_SECONDS = 10  # "within a few seconds", with room for a loaded CI machine
UNAVAILABLE = "base de données"  # in the French message of the 503


class Load:
    """A few threads of GETs and POSTs (API with a token, and an anonymous HTML page),
    recording (sent, answered, what, status) for every request; a lost connection is 0."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.results: list[tuple[float, float, str, int]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def _loop(self, what: str) -> None:
        auth = {"Authorization": f"Bearer {self.token}"}
        with http_client(self.base_url, timeout=10) as client:
            number = 0
            while not self.stop.is_set():
                number += 1
                sent = time.monotonic()
                try:
                    if what == "api-get":
                        response = client.get("/api/me", headers=auth)
                    elif what == "api-post":
                        response = client.post(
                            "/api/questions",
                            json={"title": f"Charge {number} en panne", "body": "Un essai."},
                            headers=auth,
                        )
                    else:
                        response = client.get("/webinars", headers={"Accept": "text/html"})
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                with self.lock:
                    self.results.append((sent, time.monotonic(), what, status))
                self.stop.wait(0.05)

    def start(self) -> None:
        for what in ("api-get", "api-get", "api-post", "page"):
            thread = threading.Thread(target=self._loop, args=(what,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)

    def between(self, start: float, end: float) -> list[tuple[float, float, str, int]]:
        """The requests sent and answered within [start, end)."""
        with self.lock:
            return [r for r in self.results if start <= r[0] and r[1] < end]


def test_postgresql_restart_gives_503_then_recovers_without_a_hub_restart(
    private_postgres: PrivatePostgres, tmp_path: Path, hub_processes: HubProcesses
) -> None:
    token = prepare_database(private_postgres.url)
    port = free_port()
    # The scheduler runs in the web process too: losing its lock connection must not hurt.
    env = hub_env(private_postgres.url, tmp_path / "var", scheduler_in_web="1")
    server = hub_processes(
        *serve_args(port), env=env, cwd=tmp_path, log_name="server.log", port=port
    ).start()
    pid = server.pid
    auth = {"Authorization": f"Bearer {token}"}
    load = Load(server.base_url, token)
    load.start()
    try:
        time.sleep(1.5)
        up_until = time.monotonic()
        private_postgres.stop()  # fast shutdown: every connection of the pool is cut
        down_since = time.monotonic()
        time.sleep(1.5)

        with http_client(server.base_url) as client:
            api = client.get("/api/me", headers=auth)
            assert api.status_code == 503, api.text
            assert UNAVAILABLE in api.json()["detail"]
            assert int(api.headers["Retry-After"]) > 0

            post = client.post(
                "/api/questions", json={"title": "Pendant la panne", "body": "?"}, headers=auth
            )
            assert post.status_code == 503, post.text
            assert set(post.json()) == {"detail"}

            page = client.get("/webinars", headers={"Accept": "text/html"})
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert UNAVAILABLE in html.text(page, "main") and html.select(page, "html")
            assert "Retry-After" in page.headers

            health = client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["status"] == "error"
            assert "database unreachable" in health.json()["error"]

        restarting_at = time.monotonic()
        private_postgres.start()
        back_at = time.monotonic()
        recovered: dict[str, float] = {}

        def everything_answers() -> bool:
            with http_client(server.base_url, timeout=5) as client:
                checks = {
                    "healthz": client.get("/healthz").status_code == 200,
                    "api": client.get("/api/me", headers=auth).status_code == 200,
                    "page": client.get("/webinars").status_code == 200,
                    "post": client.post(
                        "/api/questions",
                        json={"title": "Après la panne", "body": "Tout va bien ?"},
                        headers=auth,
                    ).status_code
                    == 201,
                }
            for name, ok in checks.items():
                if ok:
                    recovered.setdefault(name, time.monotonic() - back_at)
            return all(checks.values())

        wait_for(everything_answers, "the hub to answer again", timeout=RECOVERY_SECONDS)
        recovered_at = time.monotonic()
        time.sleep(1.0)  # the load keeps running on the recovered server
    finally:
        load.finish()

    assert server.alive() and server.pid == pid, "the hub was restarted or died"
    before = load.between(0, up_until)
    during = load.between(down_since, restarting_at)
    after = load.between(recovered_at, float("inf"))
    assert before and all(200 <= status < 300 for *_, status in before), before[-5:]
    assert during, "no request during the outage"
    statuses = {status for *_, status in load.results}
    assert 500 not in statuses, f"a 500 was answered: {sorted(statuses)}"
    assert {status for *_, status in during} == {503}, sorted(
        {(what, status) for *_, what, status in during}
    )
    assert after and all(200 <= status < 300 for *_, status in after), [
        r for r in after if not 200 <= r[3] < 300
    ][:5]


def test_sqlite_locked_beyond_the_busy_timeout_is_a_503(
    make_settings: Any,
    sqlite_template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "hub.sqlite3"
    path.write_bytes(sqlite_template.read_bytes())
    monkeypatch.setattr(hub.db, "SQLITE_BUSY_TIMEOUT_MS", 300)  # 5 s in production
    settings = make_settings(database_url=f"sqlite:///{path}")
    from hub.app import create_app

    app = create_app(settings)
    engine = app.state.engine
    from sqlmodel import Session

    with Session(engine, expire_on_commit=False) as db:
        make_department(db)
        teacher = make_user(db, Role.teacher)
        _token, secret = create_token(db, user=teacher)
        db.commit()
    auth = {"Authorization": f"Bearer {secret}"}
    question = {"title": "Le quiz ne s'ouvre pas", "body": "Depuis ce matin."}

    with TestClient(app, follow_redirects=False) as client:
        browser = TestClient(app, follow_redirects=False)
        sign_in(browser, teacher)
        form = browser.get("/questions/new")
        csrf = csrf_from(form.text)

        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock (a long import...)
        try:
            api = client.post("/api/questions", json=question, headers=auth)
            assert api.status_code == 503, api.text
            assert UNAVAILABLE in api.json()["detail"] and "Retry-After" in api.headers

            page = browser.post(
                "/questions/new",
                data={**question, "csrf_token": csrf},
                headers={"Accept": "text/html"},
            )
            assert page.status_code == 503, page.text[:500]
            assert page.headers["content-type"].startswith("text/html")
            assert UNAVAILABLE in html.text(page, "main")
            # The hub's own page, for the person signed in, rendered without the database
            # (before: the error page itself failed and left bare text).
            styles = [link.get("href") for link in html.select(page, "link[rel=stylesheet]")]
            assert "/static/hub.css" in styles, page.text
            assert "Mes questions" in html.text(page, "header nav"), page.text

            # Reading goes on meanwhile: a search writes nothing in its request.
            found = browser.get("/kb/suggest", params={"q": "quiz"})
            assert found.status_code == 200, found.text[:500]
            results = browser.get("/kb", params={"q": "quiz"})
            assert results.status_code == 200, results.text[:500]
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()

        again = client.post("/api/questions", json=question, headers=auth)
        assert again.status_code == 201, again.text
        browser.close()
