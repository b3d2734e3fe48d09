"""Reliability fixtures: real `hub serve` / `hub worker` subprocesses, dedicated PostgreSQL
databases (and a private PostgreSQL server for the restart test), data arranged through the
hub's own services.

Every test here starts processes, so they are marked `slow` and share one xdist group
("reliability"): `make test` runs them on one worker, one at a time. Quick run:
`.venv/bin/pytest tests/reliability -p no:xdist -q`.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from hub.db import make_engine, session_scope
from hub.demo import DEMO_DOMAIN, load_demo
from hub.migrate import upgrade
from hub.people import require_user_by_email
from hub.tokens import create_token
from tests.conftest import POSTGRES_ADMIN_URL, REQUIRE_POSTGRES
from tests.hub_server import HubProcess, free_port

TEACHER_EMAIL = f"enseignant@{DEMO_DOMAIN}"  # a demo teacher of SCI (referents: SCI, backup)


def pytest_configure(config: pytest.Config) -> None:
    # Declared here too so that `--strict-markers` accepts it with `-p no:xdist`.
    config.addinivalue_line("markers", "xdist_group(name): run the marked tests on one worker")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


# --- databases ------------------------------------------------------------------------------


def _admin_connection() -> psycopg.Connection:
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {exc}".strip()
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (HUB_TEST_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(message + " (set HUB_TEST_POSTGRES_URL to run these tests)")


@contextmanager
def dedicated_postgres() -> Iterator[str]:
    """A database of its own on the shared PostgreSQL server (created empty, dropped after):
    several processes of the hub under test use it, so it cannot be the per-test truncated
    one of tests/conftest.py."""
    admin = _admin_connection()
    name = f"hub_rel_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def sqlalchemy_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def prepare_database(url: str) -> str:
    """Migrate, load the demo departments and accounts, and give the demo teacher an API
    token (what `hub db upgrade`, `hub demo load` and `hub tokens create` do). Returns the
    token's secret."""
    engine = make_engine(sqlalchemy_url(url))
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            load_demo(session, base_url="")
        with session_scope(engine) as session:
            teacher = require_user_by_email(session, TEACHER_EMAIL)
            _token, secret = create_token(session, user=teacher, name="reliability")
    finally:
        engine.dispose()
    return secret


# --- hub processes --------------------------------------------------------------------------


class HubProcesses:
    """A factory of hub processes; `stop_all` stops those still running."""

    def __init__(self) -> None:
        self.started: list[HubProcess] = []

    def __call__(
        self, *args: str, env: dict[str, str], cwd: Path, log_name: str, port: int = 0
    ) -> HubProcess:
        process = HubProcess(args=args, env=env, cwd=cwd, log_path=cwd / log_name, port=port)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()


@pytest.fixture
def hub_processes() -> Iterator[HubProcesses]:
    """Hub processes of one test; every one still running is stopped after it."""
    processes = HubProcesses()
    yield processes
    processes.stop_all()


def serve_args(port: int, workers: int = 1) -> tuple[str, ...]:
    return ("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers))


# --- a private PostgreSQL server (for stopping and starting it) ---------------------------


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PrivatePostgres:
    bin: Path
    data: Path
    port: int
    run_as: str | None  # initdb and postgres refuse to run as root

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/hub"

    def _run(self, *command: str, timeout: float = 60) -> None:
        argv = list(command)
        if self.run_as:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.data.parent
        )
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c max_connections=60"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.data.parent / "postgres.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test only (the machine's shared one is never restarted),
    trust auth on 127.0.0.1, with a `hub` database."""
    binaries = postgres_bin()
    if binaries is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (HUB_TEST_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(message)
    # Not under tmp_path: pytest's base directory is private to the user running pytest,
    # and the server runs as `postgres` when that user is root.
    root = Path(tempfile.mkdtemp(prefix="hub-reliability-pg-"))
    run_as = None
    if os.geteuid() == 0:
        run_as = "postgres"
        shutil.chown(root, user=run_as)
    server = PrivatePostgres(bin=binaries, data=root / "data", port=free_port(), run_as=run_as)
    server.init()
    server.start()
    try:
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{server.port}/postgres", autocommit=True
        ) as admin:
            admin.execute('CREATE DATABASE "hub"')
        yield server
    finally:
        if server.running():
            try:
                server.stop()
            except AssertionError:
                pass
        shutil.rmtree(root, ignore_errors=True)
