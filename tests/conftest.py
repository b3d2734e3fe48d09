"""Shared fixtures: every database test runs on SQLite and PostgreSQL, each on its own data."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import hub.cache
import hub.schema  # noqa: F401  (every table, for truncation)
from hub.app import create_app
from hub.db import make_engine
from hub.migrate import upgrade
from hub.settings import Settings, load_settings

# An administrative connection used only to create and drop this run's own database.
POSTGRES_ADMIN_URL = os.environ.get(
    "HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("HUB_TEST_REQUIRE_POSTGRES") == "1"
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> Iterator[None]:
    """Argon2id at its production cost takes ~0.25 s a hash here; tests use the same algorithm
    at the lowest cost (as Django's test settings do), so the suite stays fast."""
    import argon2

    import hub.passwords

    production = hub.passwords._hasher
    hub.passwords._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    hub.passwords._hasher = production


@pytest.fixture(autouse=True)
def fresh_process_caches() -> Iterator[None]:
    """Per-process caches are keyed by database URL, and PostgreSQL tests share one URL:
    start and end every test with every cache empty (hub/cache.py knows them all)."""
    hub.cache.forget_all()
    yield
    hub.cache.forget_all()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"sqlite: {sqlite3.sqlite_version}",
        f"postgresql admin url: {POSTGRES_ADMIN_URL}"
        + (" (required)" if REQUIRE_POSTGRES else " (skipped if unreachable)"),
    ]


# --- PostgreSQL: one database per test run (per xdist worker), dropped at the end -----------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {exc}".strip()
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (HUB_TEST_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(message + " (set HUB_TEST_POSTGRES_URL to run these tests)")
    name = f"hub_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


# --- SQLite: a migrated template file, copied for every test --------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # checkpoints the WAL into the main file
    return path


# `make test-fast` sets HUB_TEST_BACKENDS=sqlite: the inner loop; `make test` runs both.
BACKENDS = [b for b in os.environ.get("HUB_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each backend, private to this test."""
    if request.param == "sqlite":
        path = tmp_path / "hub.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    _truncate_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def make_settings(tmp_path: Path) -> Any:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "_env_file": None,
            "env": "test",
            "secret_key": TEST_SECRET_KEY,
            "data_dir": tmp_path / "var",
            "scheduler_in_web": False,
        }
        values.update(overrides)
        return load_settings(**values)

    return factory


@pytest.fixture
def settings(make_settings: Any, database_url: str) -> Settings:
    return make_settings(database_url=database_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.effective_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session for arranging and checking data; commit what the app must see."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def app(settings: Settings) -> Any:
    return create_app(settings)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """A running SMTP server on 127.0.0.1 (tests/smtp_server.py); stop()/start() for outages."""
    from tests.smtp_server import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()
