"""The deployment's one scheduler: APScheduler 3 jobs, run only by the process holding a lock.

APScheduler's job stores cannot be shared between processes, so the hub never shares one:
every process may *contend*, but only the holder of a lock runs jobs. PostgreSQL uses a
session-level advisory lock on a dedicated connection (released if the process dies);
SQLite uses a file lock beside the database file. Jobs keep their real state in our own
tables, so a job that runs late (after a restart) still does the right thing once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from filelock import FileLock, Timeout
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


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    seconds: Callable[[Settings], float]
    run: Callable[[Engine, Settings], object]


JOBS: dict[str, PeriodicJob] = {}


def register_job(job: PeriodicJob) -> PeriodicJob:
    """Add a periodic job; packages register theirs in `hub/jobs.py` at import time."""
    JOBS[job.id] = job
    return job


class SchedulerLock(Protocol):
    def acquire(self) -> bool: ...
    def still_held(self) -> bool: ...
    def release(self) -> None: ...


class FileSchedulerLock:
    """SQLite: an OS file lock beside the database (all processes share the file system)."""

    def __init__(self, path: Path) -> None:
        self.lock = FileLock(str(path))

    def acquire(self) -> bool:
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            return False
        return True

    def still_held(self) -> bool:
        return self.lock.is_locked

    def release(self) -> None:
        if self.lock.is_locked:
            self.lock.release(force=True)


class AdvisorySchedulerLock:
    """PostgreSQL: a session advisory lock, held by one dedicated connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None

    def acquire(self) -> bool:
        connection = self.engine.connect()
        try:
            won = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            ).scalar()
            connection.commit()
        except Exception:
            connection.close()
            raise
        if not won:
            connection.close()
            return False
        self.connection = connection
        return True

    def still_held(self) -> bool:
        if self.connection is None:
            return False
        try:
            self.connection.execute(text("SELECT 1"))
            self.connection.commit()
        except Exception:
            log.warning("scheduler lock connection lost")
            self.connection = None
            return False
        return True

    def release(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
            self.connection.commit()
        except Exception:  # the lock goes with the connection anyway
            log.debug("advisory unlock failed", exc_info=True)
        finally:
            self.connection.close()
            self.connection = None


def make_lock(engine: Engine) -> SchedulerLock:
    url = make_url(str(engine.url))
    if engine.dialect.name == "postgresql":
        return AdvisorySchedulerLock(engine)
    database = url.database or "memory"
    return FileSchedulerLock(Path(f"{database}.scheduler-lock"))


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
    """Contends for the lock in a thread; while holding it, runs every registered job."""

    def __init__(
        self, engine: Engine, settings: Settings, *, retry_seconds: float = LOCK_RETRY_SECONDS
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.retry_seconds = retry_seconds
        self.lock = make_lock(engine)
        self.stop_event = threading.Event()
        self.is_leader = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run_forever, name="hub-scheduler", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)

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

    def _lead(self) -> None:
        from hub import jobs  # noqa: F401  (registers the periodic jobs)

        log.info("pid %s holds the scheduler lock; running %d jobs", os.getpid(), len(JOBS))
        scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )
        now = datetime.now().astimezone()
        for job in JOBS.values():
            scheduler.add_job(
                _run_recorded,
                "interval",
                seconds=job.seconds(self.settings),
                args=(job, self.engine, self.settings),
                id=job.id,
                next_run_time=now,
            )
        scheduler.start()
        self.is_leader.set()
        try:
            check_every = min(self.retry_seconds, 5.0)
            while not self.stop_event.wait(check_every):
                if not self.lock.still_held():
                    log.warning("scheduler lock lost; standing down")
                    break
        finally:
            scheduler.shutdown(wait=True)
