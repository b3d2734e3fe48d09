"""The deployment's one scheduler: APScheduler 3 jobs, run only by the process holding a lock.

APScheduler's job stores cannot be shared between processes, so the hub never shares one:
every process may *contend*, but only the holder of a lock runs jobs. PostgreSQL uses a
session-level advisory lock on a dedicated connection (released if the process dies);
SQLite uses a file lock beside the database file. Jobs keep their real state in our own
tables, so a job that runs late (after a restart) still does the right thing once.

A holder can lose its lock while it stays alive (its lock connection killed, the server
restarted, the lock file deleted); another process may then take the lock at once. So jobs
are fenced: before each unit of work (each claimed outbox row, each reminder, each batch)
they call `still_leader()`, which verifies the lock there and then, and they stop when it
says False. A holder that lost its lock therefore starts nothing more, and stands down.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import col

from hub.db import session_scope
from hub.models import JobRun, utcnow
from hub.settings import Settings

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x4855_4253  # "HUBS": one advisory lock id for the hub's scheduler
MISFIRE_GRACE_SECONDS = 3600  # APScheduler's default (1 s) would silently drop late runs
LOCK_RETRY_SECONDS = 15.0  # how often a standby process tries to take over
LOCK_CHECK_SECONDS = 5.0  # how often an idle holder verifies its lock (jobs verify it too)


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    seconds: Callable[[Settings], float]
    run: Callable[[Engine, Settings], object]


# --- the fencing check ------------------------------------------------------------------

_running_for: ContextVar[Scheduler | None] = ContextVar("hub_scheduler_job", default=None)


def still_leader() -> bool:
    """The fencing check. Jobs call it before each unit of work and stop when it says False.

    In a job run by the scheduler, it verifies the lock there and then (one query on the
    lock's own connection on PostgreSQL, one `stat` of the lock file on SQLite): False once
    this process has lost the lock, or is stopping. Outside the scheduler (a CLI command, a
    test calling the job) there is no lock to lose: always True."""
    scheduler = _running_for.get()
    return scheduler is None or scheduler.check_lock()


# --- the locks --------------------------------------------------------------------------


class SchedulerLock(Protocol):
    def acquire(self) -> bool: ...
    def still_held(self) -> bool: ...
    def release(self) -> None: ...


class FileSchedulerLock:
    """SQLite: an OS file lock (`flock`) on a file beside the database.

    Held means: our descriptor holds the flock *and* the path still names that very file.
    If the file is deleted or replaced (a clean-up, a restored data directory), a newcomer
    opens a new file at the same path and locks it at once, so the lock counts as lost.
    `still_held` is two `stat` calls, no database round trip."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None
        self.guard = threading.Lock()  # the lead loop and the jobs check it concurrently

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False  # another process holds it
            raise
        with self.guard:
            self.fd = fd
        if not self.still_held():  # deleted or replaced between our open and our flock
            self.release()
            return False
        return True

    def still_held(self) -> bool:
        with self.guard:
            if self.fd is None:
                return False
            try:
                ours, named = os.fstat(self.fd), os.stat(self.path)
            except OSError:  # the file is gone
                return False
        return (ours.st_dev, ours.st_ino) == (named.st_dev, named.st_ino)

    def release(self) -> None:
        with self.guard:
            if self.fd is not None:
                os.close(self.fd)  # drops the flock; the file stays for the next holder
                self.fd = None


class AdvisorySchedulerLock:
    """PostgreSQL: a session advisory lock, held by one dedicated connection.

    The lock lives exactly as long as that connection's server session: it is lost when the
    session ends (pg_terminate_backend, idle_session_timeout, a server restart, a broken
    network), and another process can take it at once. `still_held` asks the server, on that
    same connection (autocommit, so no transaction is left open), whether this session still
    holds the lock; a failed query means the session is gone."""

    HELD = text(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND pid = pg_backend_pid() AND classid::bigint = :high AND objid::bigint = :low"
        " AND objsubid = 1)"
    )

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None
        self.guard = threading.Lock()  # one connection, used by the lead loop and the jobs

    def acquire(self) -> bool:
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            won = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            ).scalar()
        except Exception:
            connection.close()
            raise
        if not won:
            connection.close()
            return False
        with self.guard:
            self.connection = connection
        return True

    def still_held(self) -> bool:
        with self.guard:
            if self.connection is None:
                return False
            key = {"high": ADVISORY_LOCK_KEY >> 32, "low": ADVISORY_LOCK_KEY & 0xFFFF_FFFF}
            try:
                return bool(self.connection.execute(self.HELD, key).scalar())
            except Exception as exc:
                log.warning("scheduler lock connection lost: %s", getattr(exc, "orig", exc))
                self._drop()
                return False

    def release(self) -> None:
        with self.guard:
            if self.connection is None:
                return
            try:
                self.connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
            except Exception:  # the lock goes with the session anyway
                log.debug("advisory unlock failed", exc_info=True)
                self._drop()
                return
            self.connection.close()
            self.connection = None

    def _drop(self) -> None:
        """Discard a connection whose session is gone (never back into the pool)."""
        assert self.connection is not None
        try:
            self.connection.invalidate()
            self.connection.close()
        except Exception:
            log.debug("closing the lost lock connection failed", exc_info=True)
        self.connection = None


def make_lock(engine: Engine) -> SchedulerLock:
    url = make_url(str(engine.url))
    if engine.dialect.name == "postgresql":
        return AdvisorySchedulerLock(engine)
    database = url.database or "memory"
    return FileSchedulerLock(Path(f"{database}.scheduler-lock"))


# --- running jobs -----------------------------------------------------------------------


def _run_recorded(job: PeriodicJob, engine: Engine, settings: Settings) -> None:
    """Run a job and keep a JobRun row: who ran it, when, and how it ended."""
    with session_scope(engine) as session:
        run = JobRun(job_id=job.id, pid=os.getpid(), host=socket.gethostname(), started_at=utcnow())
        session.add(run)
        session.flush()
        run_id = run.id
    error: str | None = None
    try:
        job.run(engine, settings)
    except Exception:
        error = traceback.format_exc(limit=5)
        log.exception("scheduled job %s failed", job.id)
    with session_scope(engine) as session:
        session.execute(
            update(JobRun).where(col(JobRun.id) == run_id).values(finished_at=utcnow(), error=error)
        )


class Scheduler:
    """Contends for the lock in a thread; while holding it, runs every registered job.

    `is_leader` is set while this process holds the lock and may start work; it is cleared
    as soon as a check (`check_lock`, by the lead loop every few seconds or by a job through
    `still_leader()`) finds the lock lost, and the lead loop then stands down at once: it
    waits for the running jobs (which stop at their next check) and contends again."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        jobs: Sequence[PeriodicJob],
        *,
        retry_seconds: float = LOCK_RETRY_SECONDS,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.jobs = list(jobs)  # hub.jobs.periodic_jobs(), or a test's own
        self.retry_seconds = retry_seconds
        self.lock = make_lock(engine)
        self.stop_event = threading.Event()
        self.is_leader = threading.Event()
        self.wake = threading.Event()  # the lead loop: stop requested or lock lost
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run_forever, name="hub-scheduler", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def check_lock(self) -> bool:
        """May this process start a unit of work now? Verifies the lock (see `still_leader`)."""
        if not self.is_leader.is_set() or self.stop_event.is_set():
            return False
        if self.lock.still_held():
            return True
        if self.is_leader.is_set():
            log.warning("pid %s lost the scheduler lock; starting no further work", os.getpid())
        self.is_leader.clear()
        self.wake.set()
        return False

    def run_forever(self) -> None:
        while not self.stop_event.is_set():
            try:
                won = self.lock.acquire()
            except Exception:
                log.warning("scheduler lock unavailable; retrying", exc_info=True)
                won = False
            if won:
                try:
                    self._lead()
                finally:
                    self.is_leader.clear()
                    self.lock.release()
            self.stop_event.wait(self.retry_seconds)

    def _run(self, job: PeriodicJob) -> None:
        """One run of a job, fenced: not started once the lock is lost; inside it,
        `still_leader()` checks this scheduler's lock."""
        if not self.check_lock():
            return
        token = _running_for.set(self)
        try:
            _run_recorded(job, self.engine, self.settings)
        finally:
            _running_for.reset(token)

    def _lead(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        log.info("pid %s holds the scheduler lock; running %d jobs", os.getpid(), len(self.jobs))
        scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )
        now = datetime.now().astimezone()
        for job in self.jobs:
            scheduler.add_job(
                self._run,
                "interval",
                seconds=job.seconds(self.settings),
                args=(job,),
                id=job.id,
                next_run_time=now,
            )
        self.wake.clear()
        self.is_leader.set()  # before the first job starts: its checks read it
        scheduler.start()
        try:
            check_every = min(self.retry_seconds, LOCK_CHECK_SECONDS)
            while self.check_lock():
                self.wake.wait(check_every)
            if not self.stop_event.is_set():
                log.warning("pid %s standing down: the scheduler lock is lost", os.getpid())
        finally:
            self.is_leader.clear()  # running jobs stop at their next check
            scheduler.shutdown(wait=True)
