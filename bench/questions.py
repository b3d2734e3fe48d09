"""Questions benchmark: submission throughput and the SLA sweep with 50,000 open questions.

`run(backend_url)` takes the URL of an empty database (SQLite or PostgreSQL), migrates it and:
- submission: `hub.questions.asking.ask()` called through the service layer, one transaction
  per question as a web request does (validation, analyzed text, audit row, outbox rows for
  the referents and the Teams channel), single thread; questions/s and latency percentiles;
- sweep: 50,000 open questions inserted in bulk (1% past the first-response target, 0.4%
  escalated and past the central team's target), then `escalation.sweep()` timed on the first
  pass (which escalates up to a batch) and on a steady-state pass (nothing new to do).
Next to the submissions, the ceiling of the same database: a trivial one-row INSERT committed
the same way (`session_scope`, one transaction each, single thread), so the ratio shows the
share of the hub's own work per question. `python -m bench` runs both parts on SQLite and
PostgreSQL (`--only questions,sweep`); standalone: `python -m bench.questions [URL]`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, insert, select
from sqlmodel import Session, col

from hub.business_hours import BRUSSELS
from hub.db import make_engine, session_scope
from hub.migrate import upgrade
from hub.models import Role, User
from hub.people import create_department, create_user, get_department
from hub.questions import asking, escalation
from hub.questions.models import Escalation, Question
from hub.settings import load_settings

OPEN_QUESTIONS = 50_000
SUBMISSIONS = 300
NOW = datetime(2026, 3, 4, 11, 0, tzinfo=BRUSSELS)  # a Wednesday morning: business hours


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


_ceiling_metadata = MetaData()
CEILING_TABLE = Table(  # not a hub table: created in the benchmark's private database only
    "bench_insert_ceiling",
    _ceiling_metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def insert_ceiling(engine: Any, count: int) -> dict[str, Any]:
    """One trivial row per transaction, committed as `ask()` is (session_scope: BEGIN
    IMMEDIATE on SQLite), single thread: what the database alone allows per second."""
    _ceiling_metadata.create_all(engine)
    latencies = []
    started = time.perf_counter()
    for n in range(count):
        begin = time.perf_counter()
        with session_scope(engine) as session:
            session.execute(insert(CEILING_TABLE).values(title=f"Question {n}", created_at=NOW))
        latencies.append((time.perf_counter() - begin) * 1000)
    elapsed = time.perf_counter() - started
    return {
        "inserts": count,
        "per_second": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(_percentile(latencies, 0.95), 2),
    }


def run(
    backend_url: str,
    *,
    open_questions: int = OPEN_QUESTIONS,
    submissions: int = SUBMISSIONS,
    submit: bool = True,
    sweep: bool = True,
) -> dict[str, Any]:
    """`submit`: the submission part (and its ceiling); `sweep`: the SLA sweep part."""
    engine = make_engine(backend_url)
    upgrade(engine)
    with tempfile.TemporaryDirectory(prefix="hub-bench-questions-") as data_dir:
        settings = load_settings(
            _env_file=None, env="test", data_dir=Path(data_dir), database_url=backend_url
        )
        with session_scope(engine) as session:
            for code in ("SCI", "LET", "ECO", "SAN", "ART"):
                create_department(session, code=code, name=f"Département {code}")
            teachers = [
                create_user(
                    session,
                    email=f"bench.teacher{n}@college.example",
                    name=f"Prof {n}",
                    role=Role.teacher,
                    departments=[("SCI", "LET", "ECO", "SAN", "ART")[n % 5]],
                )
                for n in range(20)
            ]
            for code in ("SCI", "LET", "ECO", "SAN", "ART"):
                create_user(
                    session,
                    email=f"bench.ref.{code.lower()}@college.example",
                    name=f"Référent {code}",
                    role=Role.referent,
                    departments=[code],
                )
            create_user(
                session, email="bench.team@college.example", name="Équipe", role=Role.elearning
            )
            teacher_ids = [t.id for t in teachers]

        submission: dict[str, Any] | None = None
        if submit:
            # 1. Submission throughput through the service layer.
            latencies = []
            started = time.perf_counter()
            for n in range(submissions):
                begin = time.perf_counter()
                with session_scope(engine) as session:
                    teacher = session.get(User, teacher_ids[n % len(teacher_ids)])
                    asking.ask(
                        session,
                        actor=teacher,
                        title=f"Moodle : le devoir {n} ne s'affiche pas pour mes étudiants",
                        body="Les étudiants ne voient pas le devoir dans le cours (ouverture ok).",
                        data_dir=settings.data_dir,
                        base_url=settings.base_url,
                    )
                latencies.append((time.perf_counter() - begin) * 1000)
            elapsed = time.perf_counter() - started
            ceiling = insert_ceiling(engine, submissions)
            submission = {
                "questions": submissions,
                "per_second": round(submissions / elapsed, 1),
                "p50_ms": round(statistics.median(latencies), 2),
                "p95_ms": round(_percentile(latencies, 0.95), 2),
                "max_ms": round(max(latencies), 2),
                "ceiling": ceiling,
                "ratio_to_ceiling": round(submissions / elapsed / ceiling["per_second"], 3),
            }

        swept: dict[str, Any] | None = None
        if sweep:
            # 2. 50,000 open questions, bulk-inserted; a few overdue at each level.
            with session_scope(engine) as session:
                departments = [
                    get_department(session, c).id for c in ("SCI", "LET", "ECO", "SAN", "ART")
                ]
                session.execute(Question.__table__.delete().where(Question.__table__.c.id > 0))  # type: ignore[attr-defined]
            fresh = NOW - timedelta(minutes=30)
            overdue = NOW - timedelta(days=3)
            rows = []
            for n in range(open_questions):
                late = n % 100 == 0
                escalated = n % 250 == 1
                when = overdue if (late or escalated) else fresh - timedelta(seconds=n % 1500)
                rows.append(
                    {
                        "department_id": departments[n % len(departments)],
                        "asker_name": f"Prof {n % 20}",
                        "asker_email": f"bench.teacher{n % 20}@college.example",
                        "title": f"Question de charge {n}",
                        "body": "Texte de la question.",
                        "status": "open",
                        "priority": "urgent" if n % 50 == 0 else "normal",
                        "source": "web",
                        "level": 1 if escalated else 0,
                        "search_text": "question charg",
                        "clock_started_at": when,
                        "last_activity_at": when,
                        "created_at": when,
                    }
                )
            began = time.perf_counter()
            with session_scope(engine) as session:
                for start in range(0, len(rows), 5000):
                    session.execute(insert(Question), rows[start : start + 5000])
            with session_scope(engine) as session:
                escalated_ids = (
                    session.execute(select(col(Question.id)).where(col(Question.level) == 1))
                    .scalars()
                    .all()
                )
                session.execute(
                    insert(Escalation),
                    [
                        {
                            "question_id": qid,
                            "level": 1,
                            "reason": "bench",
                            "automatic": True,
                            "created_at": overdue,
                        }
                        for qid in escalated_ids
                    ],
                )
            load_seconds = time.perf_counter() - began
            with Session(engine) as session:
                open_count = session.execute(
                    select(func.count()).select_from(Question).where(col(Question.status) == "open")
                ).scalar_one()

            timings = []
            reports = []
            for minutes in (0, 5, 10):
                begin = time.perf_counter()
                report = escalation.sweep(engine, NOW + timedelta(minutes=minutes), settings)
                timings.append(round((time.perf_counter() - begin) * 1000, 1))
                reports.append(report)
            swept = {
                "open_questions": int(open_count),
                "bulk_load_seconds": round(load_seconds, 2),
                "first_pass_ms": timings[0],
                "first_pass_escalated": len(reports[0].escalated),
                "first_pass_central_overdue": len(reports[0].central_overdue),
                "second_pass_ms": timings[1],
                "second_pass_escalated": len(reports[1].escalated),
                "steady_pass_ms": timings[2],
                "steady_pass_escalated": len(reports[2].escalated),
                "batch": escalation.BATCH,
            }
    engine.dispose()
    return {"backend": engine.dialect.name, "submission": submission, "sweep": swept}


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.stdout.write(repr(run(sys.argv[1])) + "\n")
    else:
        with tempfile.TemporaryDirectory(prefix="hub-bench-") as directory:
            sys.stdout.write(repr(run(f"sqlite:///{directory}/bench.sqlite3")) + "\n")
