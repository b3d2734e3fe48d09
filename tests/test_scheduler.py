"""One scheduler per deployment: two worker processes on one database, only one runs jobs;
a lock taken away is seen as lost at once (the fencing check, hub/scheduler.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hub.models import JobRun
from hub.scheduler import make_lock, still_leader
from hub.settings import Settings

pytestmark = pytest.mark.slow
DEADLINE_SECONDS = 30


def _start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HUB_DATABASE_URL": settings.effective_database_url,
        "HUB_ENV": "test",
        "HUB_SCHEDULER_HEARTBEAT_SECONDS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "worker", "--retry-seconds", "0.5"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _heartbeat_pids(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(JobRun.pid).where(JobRun.job_id == "heartbeat").order_by(col(JobRun.id))
            ).all()
        )


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_run_each_job_once_and_fail_over(settings: Settings, engine: Engine) -> None:
    first, second = _start_worker(settings), _start_worker(settings)
    try:
        _wait_for(lambda: len(_heartbeat_pids(engine)) >= 4, "four heartbeats")
        pids = set(_heartbeat_pids(engine))
        assert len(pids) == 1, f"both workers ran the job: {pids}"
        leader = first if first.pid in pids else second
        standby = second if leader is first else first
        assert standby.poll() is None  # the other one is alive, standing by

        leader.send_signal(signal.SIGKILL)  # a crash: no clean release of the lock
        leader.wait(10)
        _wait_for(lambda: standby.pid in _heartbeat_pids(engine), "the standby to take over")
        after = _heartbeat_pids(engine)
        taken_over = after[after.index(standby.pid) :]
        assert set(taken_over) == {standby.pid}
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()


def test_worker_stops_cleanly_on_sigterm(settings: Settings, engine: Engine) -> None:
    worker = _start_worker(settings)
    try:
        _wait_for(lambda: len(_heartbeat_pids(engine)) >= 1, "a heartbeat")
    finally:
        worker.terminate()
        assert worker.wait(15) == 0
    with Session(engine) as session:
        runs = session.exec(select(JobRun)).all()
    assert runs and all(run.finished_at is not None and run.error is None for run in runs)


def test_a_lock_taken_away_is_no_longer_held(engine: Engine, tmp_path: Path) -> None:
    """What losing the lock means, seen by its holder: on PostgreSQL its session ends (the
    lock connection is killed), on SQLite its file is deleted or replaced; a newcomer then
    gets the lock, and the old holder's check says so at once."""
    holder, newcomer = make_lock(engine), make_lock(engine)
    try:
        assert holder.acquire() and holder.still_held()
        assert not newcomer.acquire()
        if engine.dialect.name == "sqlite":
            path = Path(f"{engine.url.database}.scheduler-lock")
            path.unlink()
            assert not holder.still_held()
            assert newcomer.acquire() and newcomer.still_held()
            assert not holder.still_held()
            replacement = tmp_path / "restored.scheduler-lock"
            replacement.touch()
            os.replace(replacement, path)  # e.g. a data directory restored from backup
            assert not newcomer.still_held()
        else:
            with engine.connect() as admin:
                admin.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = "
                        "'advisory' AND granted AND database = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database())"
                    )
                )
            assert not holder.still_held()
            assert newcomer.acquire() and newcomer.still_held()
            assert not holder.still_held()
    finally:
        holder.release()
        newcomer.release()


def test_jobs_called_outside_the_scheduler_are_not_fenced() -> None:
    assert still_leader()  # a CLI command or a test calling a job directly
