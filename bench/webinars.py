"""Webinar registration burst: N people register at once for a session with fewer seats.

`run(database_url)` takes the URL of an empty database (SQLite or PostgreSQL), migrates it,
creates a 300-seat session and 500 teachers, then calls `webinars.registration.register`
from 16 threads at once, one transaction per registration as a web request does (seat taken
by a conditional UPDATE, registration row, invite or waitlist mail queued in the outbox).
It reports the wall time, registrations per second, latency percentiles, failed registrations
(counted, e.g. SQLite's "database is locked" after its 5 s busy timeout), and checks that
exactly `capacity` people got a seat (the counter and the rows agree) and the rest are on
the waitlist. `python -m bench --only webinars`, or `python -m bench.webinars [URL]`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import select

from hub.db import make_engine, session_scope
from hub.migrate import upgrade
from hub.models import Role, User, utcnow
from hub.people import create_department, create_user
from hub.settings import load_settings
from webinars.models import WebinarSession
from webinars.registration import counts, register
from webinars.sessions import SessionInput, create_session

CAPACITY = 300
PEOPLE = 500
THREADS = 16


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run(
    database_url: str, *, capacity: int = CAPACITY, people: int = PEOPLE, threads: int = THREADS
) -> dict[str, Any]:
    engine = make_engine(database_url)
    upgrade(engine)
    with tempfile.TemporaryDirectory(prefix="hub-bench-webinars-") as data_dir:
        settings = load_settings(
            _env_file=None, env="test", data_dir=Path(data_dir), database_url=database_url
        )
        with session_scope(engine) as session:
            department = create_department(session, code="SCI", name="Sciences")
            team = create_user(
                session, email="bench.team@college.example", name="Équipe", role=Role.elearning
            )
            session.execute(
                insert(User),
                [
                    {
                        "email": f"bench.teacher{n}@college.example",
                        "name": f"Enseignant {n}",
                        "role": Role.teacher,
                        "department_id": department.id,
                        "is_active": True,
                        "session_version": 1,
                        "created_at": utcnow(),
                    }
                    for n in range(people)
                ],
            )
            webinar = create_session(
                session,
                actor=team,
                data=SessionInput(
                    title="Webinaire de rentrée",
                    starts_at=utcnow() + timedelta(days=2),
                    duration_minutes=60,
                    capacity=capacity,
                ),
            )
            webinar_id = webinar.id or 0
            user_ids = [
                u.id for u in session.exec(select(User).where(User.role == Role.teacher)).all()
            ]

        barrier = threading.Barrier(threads)
        started = threading.local()
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def one(user_id: int | None) -> str:
            if not getattr(started, "done", False):
                barrier.wait()
                started.done = True
            begin = time.perf_counter()
            try:
                with session_scope(engine) as session:
                    user = session.get(User, user_id)
                    assert user is not None
                    status = register(session, webinar_id, actor=user, settings=settings).status
            except Exception as exc:  # counted (a web request would answer 503), not fatal
                with lock:
                    errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                return "error"
            with lock:
                latencies.append(time.perf_counter() - begin)
            return status

        begin = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            statuses = list(pool.map(one, user_ids))
        wall = time.perf_counter() - begin

        with session_scope(engine, write=False) as session:
            registered, waitlisted = counts(session, webinar_id)
            counter = session.get(WebinarSession, webinar_id).registered_count  # type: ignore[union-attr]
    engine.dispose()
    result = {
        "backend": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "capacity": capacity,
        "people": people,
        "threads": threads,
        "wall_seconds": round(wall, 3),
        "registrations_per_second": round(len(latencies) / wall, 1),
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_ms_p95": round(_percentile(latencies, 0.95) * 1000, 1) if latencies else None,
        "latency_ms_max": round(max(latencies) * 1000, 1) if latencies else None,
        "registered": registered,
        "waitlisted": waitlisted,
        "counter": counter,
        "seated_answers": statuses.count("registered"),
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        # every seat taken once, never more; everyone else on the waitlist; no failure
        "exact": registered == counter == capacity
        and waitlisted == people - capacity
        and not errors,
    }
    return result


if __name__ == "__main__":
    import json

    url = sys.argv[1] if len(sys.argv) > 1 else ""
    with tempfile.TemporaryDirectory(prefix="hub-bench-webinars-db-") as directory:
        print(json.dumps(run(url or f"sqlite:///{directory}/bench.sqlite3"), indent=2))  # noqa: T201
