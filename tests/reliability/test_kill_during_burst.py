"""The server killed (SIGKILL) in the middle of a burst of questions: after a restart on the
same database, every question that got its 201 is there, whole, and nothing is half-written.

Whole means: the question row with the title and text sent, its "created" audit event, and
its notifications in the outbox (the referents' mails and the department's Teams post), all
written in the one transaction of the request. A request cut before its answer may or may
not have been committed; either way it must be complete or absent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from hub.db import make_engine
from hub.outbox import OutboxMessage
from hub.questions.models import Question, QuestionEvent
from tests.hub_server import free_port, http_client, hub_env
from tests.reliability.conftest import (
    HubProcesses,
    dedicated_postgres,
    prepare_database,
    serve_args,
    sqlalchemy_url,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reliability")]

THREADS = 8
KILL_AFTER_ACKNOWLEDGED = 30  # SIGKILL once this many questions got their 201
TITLE = "Fiabilité {thread}-{number} : le micro ne marche plus"
BODY = "Depuis ce matin, le micro coupe pendant le cours (essai {thread}-{number})."


@contextmanager
def database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'hub.sqlite3'}"
        return
    with dedicated_postgres() as url:
        yield url


class Burst:
    """Threads posting questions until told to stop; keeps what the server acknowledged."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.acknowledged: dict[int, tuple[str, str]] = {}  # id -> (title, body)
        self.unanswered = 0  # requests cut by the kill (committed or not: both are fine)
        self.unexpected: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def worker(self, thread: int) -> None:
        with http_client(self.base_url, timeout=15) as client:
            number = 0
            while not self.stop.is_set():
                number += 1
                title = TITLE.format(thread=thread, number=number)
                body = BODY.format(thread=thread, number=number)
                try:
                    response = client.post(
                        "/api/questions", json={"title": title, "body": body}, headers=self.headers
                    )
                except httpx.HTTPError:
                    with self.lock:
                        self.unanswered += 1
                    if self.stop.wait(0.05):
                        return
                    continue
                with self.lock:
                    if response.status_code == 201:
                        self.acknowledged[int(response.json()["id"])] = (title, body)
                    else:
                        self.unexpected.append(f"{response.status_code} {response.text[:200]}")

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def question_ids(url: str) -> set[int]:
    engine = make_engine(sqlalchemy_url(url))
    try:
        with Session(engine) as session:
            return {int(i) for i in session.exec(select(Question.id)).all() if i is not None}
    finally:
        engine.dispose()


def check_nothing_half_written(
    url: str, acknowledged: dict[int, tuple[str, str]], before: set[int]
) -> int:
    """Every acknowledged question is stored as sent; every new stored one is complete."""
    engine = make_engine(sqlalchemy_url(url))
    try:
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        with Session(engine) as session:
            stored = {
                int(q.id or 0): q
                for q in session.exec(select(Question)).all()
                if q.id not in before
            }
            created = {
                e.question_id
                for e in session.exec(
                    select(QuestionEvent).where(QuestionEvent.action == "created")
                ).all()
            }
            notified: dict[str, set[str]] = {"email": set(), "teams": set()}
            for message in session.exec(
                select(OutboxMessage).where(col(OutboxMessage.kind) == "question.new")
            ).all():
                notified[message.channel].add(message.link)
    finally:
        engine.dispose()

    missing = sorted(set(acknowledged) - set(stored))
    assert not missing, f"acknowledged with 201 but not in the database: {missing}"
    for question_id, (title, body) in acknowledged.items():
        question = stored[question_id]
        assert (question.title, question.body) == (title, body), question_id
    for question_id, question in stored.items():
        assert question.title.startswith("Fiabilité ") and question.body.startswith("Depuis")
        assert question_id in created, f"question {question_id} has no 'created' event"
        link = f"/questions/{question_id}"
        assert link in notified["email"], f"question {question_id}: referents' mail missing"
        assert link in notified["teams"], f"question {question_id}: Teams post missing"
    return len(stored)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_acknowledged_questions_survive_a_sigkill(
    backend: str, tmp_path: Path, hub_processes: HubProcesses
) -> None:
    with database(backend, tmp_path) as url:
        token = prepare_database(url)
        before = question_ids(url)  # the demo data has a few questions
        port = free_port()
        env = hub_env(url, tmp_path / "var", port=str(port))
        server = hub_processes(
            *serve_args(port), env=env, cwd=tmp_path, log_name="server.log", port=port
        ).start()

        burst = Burst(server.base_url, token)
        threads = [
            threading.Thread(target=burst.worker, args=(number,), daemon=True)
            for number in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        try:
            wait_for(
                lambda: burst.count() >= KILL_AFTER_ACKNOWLEDGED or not server.alive(),
                f"{KILL_AFTER_ACKNOWLEDGED} acknowledged questions",
                timeout=60,
            )
            assert server.alive(), server.tail()
            server.kill()  # mid-burst: requests are in flight in every thread
            time.sleep(0.3)  # the threads see refused connections meanwhile
        finally:
            burst.stop.set()
            for thread in threads:
                thread.join(20)
        assert not burst.unexpected, burst.unexpected[:5]
        assert burst.unanswered >= 1, "the kill cut no request: not a mid-burst kill"

        stored = check_nothing_half_written(url, burst.acknowledged, before)
        assert stored >= len(burst.acknowledged)

        # The same database, a new server: the questions are served as they were sent.
        server.start()
        with http_client(server.base_url) as client:
            for question_id, (title, body) in burst.acknowledged.items():
                response = client.get(f"/api/questions/{question_id}", headers=burst.headers)
                assert response.status_code == 200, response.text
                assert (response.json()["title"], response.json()["body"]) == (title, body)
            after = client.post(
                "/api/questions",
                json={"title": "Fiabilité après redémarrage", "body": "Depuis la reprise, ok ?"},
                headers=burst.headers,
            )
            assert after.status_code == 201, after.text
        server.stop()
