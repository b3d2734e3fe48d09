"""One scheduler per deployment: two worker processes on one database, only one runs jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hub.models import JobRun
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
