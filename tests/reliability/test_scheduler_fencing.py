"""Fencing: a scheduler holder that loses its lock but stays alive starts no further unit of
work, while another process takes the lock and carries on.

Two real `hub worker` processes share one database (SQLite and PostgreSQL); each mails
through its own slow SMTP server (aiosmtpd, 0.3 s per message), so every send is attributed
to the process that made it. A backlog of mail is queued; while the holder is in the middle
of a send, its lock is taken away:
- PostgreSQL: its lock connection is killed (`pg_terminate_backend`), which ends the session
  and so releases the advisory lock; the process itself stays alive;
- SQLite: the lock file beside the database is deleted, so the standby locks a new file at
  the same path.
The standby takes over; the old holder must start no send after that moment, and every
message is delivered exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from hub.db import make_engine, session_scope
from hub.models import JobRun
from hub.outbox import OutboxMessage, OutboxStatus, enqueue_mail
from hub.scheduler import ADVISORY_LOCK_KEY
from tests.hub_server import HubProcess, hub_env
from tests.reliability.conftest import HubProcesses, wait_for
from tests.smtp_server import Mailbox, SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reliability")]

BACKLOG = 24
SEND_SECONDS = 0.3  # each message takes this long to be accepted: a long delivery pass


class SlowMailbox(Mailbox):
    """Accepts mail slowly and notes when each one was started (MAIL FROM) and when its
    content began to arrive (DATA)."""

    def __init__(self) -> None:
        super().__init__()
        self.started_at: list[datetime] = []
        self.data_started = 0

    async def handle_MAIL(  # noqa: N802  (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: Any
    ) -> str:
        with self.lock:
            self.started_at.append(datetime.now(UTC))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        with self.lock:
            self.data_started += 1
        await asyncio.sleep(SEND_SECONDS)
        return await super().handle_DATA(server, session, envelope)


class SlowSmtpServer(SmtpServer):
    def __init__(self) -> None:
        super().__init__()
        self.mailbox: SlowMailbox = SlowMailbox()

    def started(self) -> list[datetime]:
        with self.mailbox.lock:
            return list(self.mailbox.started_at)

    def sending(self) -> bool:
        """A message is being accepted right now (its DATA has begun, not yet answered)."""
        with self.mailbox.lock:
            return self.mailbox.data_started > len(self.mailbox.messages)


def worker(
    hub_processes: HubProcesses, database_url: str, data_dir: Path, smtp: SmtpServer, name: str
) -> HubProcess:
    env = hub_env(
        database_url,
        data_dir,
        outbox_interval_seconds="1",
        smtp_host="127.0.0.1",
        smtp_port=str(smtp.port),
        smtp_security="none",
    )
    return hub_processes(
        "worker", "--retry-seconds", "0.5", env=env, cwd=data_dir.parent, log_name=f"{name}.log"
    ).start()


def take_the_lock_away(database_url: str) -> None:
    """What losing the lock means on each database, done to the live holder."""
    if database_url.startswith("sqlite"):
        Path(f"{make_url(database_url).database}.scheduler-lock").unlink()
        return
    with psycopg.connect(database_url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND objid::bigint = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (ADVISORY_LOCK_KEY,),
        ).fetchall()
    assert killed == [(True,)], killed


def test_a_holder_that_loses_its_lock_starts_no_further_send(
    database_url: str, tmp_path: Path, hub_processes: HubProcesses
) -> None:
    engine = make_engine(database_url)
    old_smtp, new_smtp = SlowSmtpServer(), SlowSmtpServer()
    old_smtp.start()
    new_smtp.start()
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    try:
        with session_scope(engine) as session:
            for number in range(BACKLOG):
                enqueue_mail(
                    session,
                    to=f"enseignant.{number}@college.example",
                    subject=f"Consigne {number}",
                    text="Bonjour,\nune consigne pour la reprise.",
                    kind="test.backlog",
                )
        recipients = {f"enseignant.{number}@college.example" for number in range(BACKLOG)}

        old = worker(hub_processes, database_url, data_dir, old_smtp, "old-holder")
        wait_for(lambda: len(old_smtp.started()) >= 1, "the holder's first send", timeout=60)
        new = worker(hub_processes, database_url, data_dir, new_smtp, "standby")
        wait_for(
            lambda: "waiting for the scheduler lock" in new.tail(), "the standby to contend", 60
        )
        assert not new_smtp.started(), "the standby sent mail while the holder held the lock"

        # In the middle of a long pass, during a send: take the lock away.
        wait_for(lambda: len(old_smtp.mailbox.messages) >= 2, "a few sends", timeout=30)
        wait_for(old_smtp.sending, "a send in progress", timeout=10)
        take_the_lock_away(database_url)
        lock_taken_at = datetime.now(UTC)

        def all_sent() -> bool:
            with Session(engine) as session:
                statuses = session.exec(select(OutboxMessage.status)).all()
            return statuses.count(OutboxStatus.sent.value) == BACKLOG

        wait_for(all_sent, "the whole backlog to be delivered", timeout=60)
        assert old.alive() and new.alive(), "both processes stay alive"

        with Session(engine) as session:
            runs = session.exec(select(JobRun).order_by(col(JobRun.started_at))).all()
            messages = session.exec(select(OutboxMessage)).all()
        new_runs = [run for run in runs if run.pid == new.pid]
        assert new_runs, f"the standby never took over:\n{new.tail()}"
        took_over_at = new_runs[0].started_at

        # The old holder started no send once its lock was gone (nor, a fortiori, once the
        # new holder had it); the send in progress at that moment was allowed to finish.
        old_started = old_smtp.started()
        late = [moment for moment in old_started if moment >= lock_taken_at]
        overlap = (max(old_started) - took_over_at).total_seconds()
        assert not late, (
            f"the old holder started {len(late)} sends after losing its lock "
            f"(its last one {overlap:.2f} s after the new holder's first job)"
        )
        assert max(old_started) < took_over_at
        assert new_smtp.started(), "the new holder delivered the rest"

        # Every message delivered exactly once, each claimed once.
        received = old_smtp.messages + new_smtp.messages
        assert Counter(str(mail["To"]) for mail in received) == Counter(recipients)
        assert len({str(mail["Message-ID"]) for mail in received}) == BACKLOG
        assert all(m.status == OutboxStatus.sent.value and m.attempts == 1 for m in messages)
    finally:
        hub_processes.stop_all()
        old_smtp.stop()
        new_smtp.stop()
        engine.dispose()
