"""Two web workers (`hub serve --workers 2`, scheduler in web on) and a `hub worker` on one
PostgreSQL database, with short job intervals: the jobs run in one process at a time, each
webinar reminder is mailed exactly once, and when the leader is killed (SIGKILL) another
process takes over and still sends nothing twice.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hub.db import make_engine, session_scope
from hub.demo import DEMO_DOMAIN
from hub.models import JobRun, Role, utcnow
from hub.outbox import OutboxMessage, OutboxStatus
from hub.people import create_user, require_user_by_email
from hub.settings import load_settings
from tests.hub_server import free_port, hub_env
from tests.reliability.conftest import (
    HubProcesses,
    dedicated_postgres,
    prepare_database,
    serve_args,
    sqlalchemy_url,
    wait_for,
)
from tests.smtp_server import SmtpServer
from webinars import registration
from webinars.models import WebinarReminder
from webinars.sessions import SessionInput, create_session

# The invites' sender and links (settings of this test's seeding, not of a served hub).
MAIL_SETTINGS = load_settings(_env_file=None, env="test")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reliability")]

REGISTRANTS = 4
REMINDER = timedelta(minutes=1)  # HUB_WEBINAR_REMINDERS=1m
LEAD_TIME = REMINDER + timedelta(seconds=3)  # the reminder falls due 3 s after the setup


def webinar_with_registrants(engine: Engine, title: str) -> list[str]:
    """A session starting in a minute and a bit, with registrants (invites queued); returns
    their addresses. Its 1-minute reminder falls due a few seconds later."""
    with session_scope(engine) as session:
        team = require_user_by_email(session, f"equipe.elearning@{DEMO_DOMAIN}")
        webinar = create_session(
            session,
            actor=team,
            data=SessionInput(
                title=title,
                starts_at=utcnow() + LEAD_TIME,
                duration_minutes=30,
                capacity=50,
                description="Séance de test.",
            ),
        )
        webinar_id = webinar.id or 0
    addresses = []
    for number in range(REGISTRANTS):
        with session_scope(engine) as session:
            teacher = create_user(
                session,
                email=f"inscrit.{title.split()[-1].lower()}.{number}@college.example",
                name=f"Inscrit {number}",
                role=Role.teacher,
                departments=("SCI",),
            )
            registration.register(session, webinar_id, actor=teacher, settings=MAIL_SETTINGS)
            addresses.append(teacher.email)
    return addresses


def job_runs(engine: Engine) -> list[JobRun]:
    with Session(engine) as session:
        return list(session.exec(select(JobRun).order_by(col(JobRun.started_at))).all())


def leaders_in_turn(runs: list[JobRun]) -> list[int]:
    """The pids that ran jobs, in order, one entry per uninterrupted stretch."""
    turns: list[int] = []
    for run in runs:
        if not turns or turns[-1] != run.pid:
            turns.append(run.pid)
    return turns


def reminders(smtp: SmtpServer) -> Counter[tuple[str, str]]:
    return Counter(
        (str(m["To"]), str(m["Subject"]))
        for m in smtp.messages
        if str(m["Subject"]).startswith("Rappel")
    )


def test_two_web_workers_and_a_worker_run_each_job_and_reminder_once(
    tmp_path: Path, smtp_server: SmtpServer, hub_processes: HubProcesses
) -> None:
    with dedicated_postgres() as url:
        prepare_database(url)
        engine = make_engine(sqlalchemy_url(url))
        try:
            env = hub_env(
                url,
                tmp_path / "var",
                scheduler_in_web="1",
                scheduler_heartbeat_seconds="1",
                outbox_interval_seconds="1",
                webinar_reminder_interval_seconds="5",  # the shortest allowed
                questions_sweep_seconds="10",  # the shortest allowed
                webinar_reminders="1m",
                smtp_host="127.0.0.1",
                smtp_port=str(smtp_server.port),
                smtp_security="none",
            )
            first = webinar_with_registrants(engine, "Séance Alpha")
            port = free_port()
            web = hub_processes(
                *serve_args(port, workers=2), env=env, cwd=tmp_path, log_name="web.log", port=port
            ).start()
            wait_for(lambda: bool(job_runs(engine)), "a first job run", timeout=30)
            worker = hub_processes(
                "worker", "--retry-seconds", "0.5", env=env, cwd=tmp_path, log_name="worker.log"
            ).start()

            wait_for(
                lambda: {to for to, _ in reminders(smtp_server)} >= set(first),
                "the first session's reminders",
                timeout=40,
            )
            time.sleep(1.5)  # a few more passes of every job in every process
            pids = set(leaders_in_turn(job_runs(engine)))
            assert len(pids) == 1, f"more than one process ran jobs: {pids}"
            [leader] = pids
            assert leader != worker.pid and web.alive() and worker.alive()

            os.kill(leader, signal.SIGKILL)  # the leading web worker crashes
            killed_at = utcnow()
            second = webinar_with_registrants(engine, "Séance Bêta")  # due during the takeover
            wait_for(
                lambda: any(r.started_at > killed_at for r in job_runs(engine)),
                "another process to take over",
                timeout=30,
            )
            wait_for(
                lambda: sum(1 for to, _ in reminders(smtp_server) if to in second) >= REGISTRANTS,
                "the second session's reminders",
                timeout=40,
            )
            time.sleep(2.5)  # room for a duplicate to show up

            runs = job_runs(engine)
            turns = leaders_in_turn(runs)
            assert len(turns) == len(set(turns)), f"jobs ran in two processes at once: {turns}"
            assert turns[0] == leader and len(turns) >= 2, turns
            assert all(r.pid == leader for r in runs if r.started_at < killed_at)

            # Each reminder mailed exactly once; every mail received once.
            sent = reminders(smtp_server)
            assert sorted(to for to, _ in sent) == sorted(first + second)
            assert set(sent.values()) == {1}, sent
            message_ids = Counter(str(m["Message-ID"]) for m in smtp_server.messages)
            assert set(message_ids.values()) == {1}
            with Session(engine) as session:
                reminder_rows = session.exec(select(WebinarReminder)).all()
                mails = session.exec(
                    select(OutboxMessage).where(OutboxMessage.channel == "email")
                ).all()
            assert len(reminder_rows) == 2 * REGISTRANTS
            assert all(r.sent_at is not None and not r.skipped for r in reminder_rows)
            invites = [m for m in mails if m.kind == "webinar.invite"]
            assert len(invites) == 2 * REGISTRANTS
            delivered = [m for m in mails if m.status == OutboxStatus.sent.value]
            assert len(smtp_server.messages) == len(delivered)
            assert all(m.status == OutboxStatus.sent.value for m in invites)
        finally:
            hub_processes.stop_all()  # before the database is dropped
            engine.dispose()
