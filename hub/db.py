"""The one way to reach the database: engine creation (SQLite pragmas included) and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 5000  # writers wait this long for the single SQLite write lock
POSTGRES_POOL_SIZE = 5  # sync routes run in a 40-thread pool, but most requests need no DB
POSTGRES_MAX_OVERFLOW = 10
WRITE_OPTION = "hub_write"  # execution option marking a session that will write


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 opens transactions lazily; let SQLAlchemy own BEGIN so that
    # `with session.begin()` really is one transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _on_sqlite_begin(connection: Any) -> None:
    # A transaction that will write takes the write lock up front (BEGIN IMMEDIATE): no
    # "database is locked" failure when a read-then-write transaction upgrades under load.
    # Read-only transactions stay deferred so readers never queue behind writers (WAL).
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)  # survive a database restart without a hub restart
    # Per process: 4 web workers x (5 + 10) = 60 connections stays under PostgreSQL's default
    # max_connections (100) with room for the worker and psql (30 each overflowed it: 500s).
    kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
    kwargs.setdefault("max_overflow", POSTGRES_MAX_OVERFLOW)
    return create_engine(url, **kwargs)


def backend_name(engine: Engine) -> str:
    return "postgresql" if engine.dialect.name == "postgresql" else "sqlite"


def writer(engine: Engine) -> Engine:
    """The same engine, marked so that its transactions take the write lock up front."""
    return engine.execution_options(**{WRITE_OPTION: True})


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """A session whose work is one transaction: committed on success, rolled back on error."""
    bind = writer(engine) if write else engine
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session
