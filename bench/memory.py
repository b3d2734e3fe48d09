"""Peak memory of the processes a benchmark starts, and a `hub worker` to watch.

The figure is the kernel's RSS high-water mark of each process (`VmHWM` in
/proc/<pid>/status), read just before the process is stopped: the most memory it ever had
resident, whatever happened between two samples. Linux only (elsewhere: no figure).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from hub.db import make_engine
from hub.models import JobRun

Log = Callable[[str], None]


def process_group(pgid: int) -> list[int]:
    """Every process of a process group (a server and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:  # state, ppid, pgrp, ...
            pids.append(int(entry.name))
    return sorted(pids)


def process_figures(pid: int) -> dict[str, Any] | None:
    """Peak and current RSS (MB), CPU seconds and a short command line of one process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    kb = {
        line.split(":")[0]: int(line.split()[1])
        for line in status.splitlines()
        if line.startswith(("VmHWM:", "VmRSS:"))
    }
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "pid": pid,
        "peak_rss_mb": round(kb.get("VmHWM", 0) / 1024, 1),
        "rss_mb": round(kb.get("VmRSS", 0) / 1024, 1),
        "cpu_s": (int(stat[11]) + int(stat[12])) / ticks,  # utime + stime
        "cmd": cmdline.strip()[:120],
    }


class HubWorker:
    """`hub worker` (the scheduler: outbox, question sweep, reminders...) in its own process
    group, started before the web server so that it holds the scheduler lock."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, name: str) -> None:
        self.log_path = cwd / f"{name}.log"
        self._log_file = self.log_path.open("wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*command, "worker"],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.database_url = env.get("HUB_DATABASE_URL") or (
            f"sqlite:///{Path(env['HUB_DATA_DIR']) / 'hub.sqlite3'}"
        )

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_for_job(self, job_id: str, timeout: float = 600.0) -> dict[str, Any]:
        """Wait until the scheduler of this worker finished one run of `job_id` (job_run rows);
        returns its duration and error."""
        engine = make_engine(self.database_url)
        deadline = time.monotonic() + timeout
        query = (
            select(col(JobRun.started_at), col(JobRun.finished_at), col(JobRun.error))
            .where(
                col(JobRun.job_id) == job_id,
                col(JobRun.pid) == self.process.pid,
                col(JobRun.finished_at).is_not(None),
            )
            .order_by(col(JobRun.id))
            .limit(1)
        )
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"hub worker exited early:\n{self.tail()}")
                with engine.connect() as connection:
                    found = connection.execute(query).first()
                if found is not None:
                    started, finished, error = found
                    assert finished is not None  # the query asked for a finished run
                    return {
                        "seconds": round((finished - started).total_seconds(), 2),
                        "error": error,
                    }
                time.sleep(0.5)
        finally:
            engine.dispose()
        raise RuntimeError(f"hub worker: no finished {job_id} run after {timeout:.0f} s")

    def figures(self) -> dict[str, Any]:
        processes = [p for p in map(process_figures, process_group(self.process.pid)) if p]
        return {
            "processes": processes,
            "peak_rss_mb": round(sum(p["peak_rss_mb"] for p in processes), 1),
            "cpu_s": round(sum(p["cpu_s"] for p in processes), 2),
            "seconds_alive": round(time.monotonic() - self.started, 1),
        }

    def stop(self) -> dict[str, Any]:
        """Stop it; returns its figures read just before."""
        figures = self.figures()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        self._log_file.close()
        return figures


@contextlib.contextmanager
def hub_worker(
    command: list[str], env: dict[str, str], cwd: Path, name: str, log: Log
) -> Iterator[HubWorker]:
    worker = HubWorker(command, env, cwd, name)
    deadline = time.monotonic() + 60
    while "worker started" not in worker.log_path.read_text(errors="replace"):
        if worker.process.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"hub worker did not start:\n{worker.tail()}")
        time.sleep(0.2)
    log(f"{name}: hub worker started (pid {worker.process.pid})")
    try:
        yield worker
    finally:
        if worker.process.poll() is None:
            worker.stop()
