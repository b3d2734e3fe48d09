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
# The connection rule (docs/architecture.md, "Connections and threads"): a request holds at most
# one pooled connection, and takes it only inside a worker thread. So with as many pooled
# connections as worker threads, no request ever waits for a connection. Background threads
# (the scheduler's lock and jobs, the by-product flusher, the Teams feed refresher) draw on the
# overflow.
WEB_THREADS = 12  # default size of the thread pool that runs sync routes (HUB_WEB_THREADS)
BACKGROUND_CONNECTIONS = 8  # overflow for the scheduler's lock and jobs and the flusher
POOL_TIMEOUT_SECONDS = 10  # a wait here means the rule above was broken: fail, don't hang
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


def make_engine(url: str, *, threads: int = WEB_THREADS, **kwargs: Any) -> Engine:
    """Create an engine whose pool holds one connection per worker thread (`threads`) plus
    the background overflow; SQLite gets WAL, foreign keys and a busy timeout on every
    connection.

    PostgreSQL connections per deployment: web workers x (threads + 1 flusher) + the
    scheduler's process overflow; 4 workers x 13 + 8 = 60 under the default
    max_connections (100), with room for `hub worker` and psql."""
    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if not in_memory:
        kwargs.setdefault("pool_size", threads)
        kwargs.setdefault("max_overflow", BACKGROUND_CONNECTIONS)
        kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    if parsed.get_backend_name() == "sqlite":
        if not in_memory:
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)  # survive a database restart without a hub restart
    return create_engine(url, **kwargs)


def backend_name(engine: Engine) -> str:
    return "postgresql" if engine.dialect.name == "postgresql" else "sqlite"


def writer(engine: Engine) -> Engine:
    """The same engine, marked so that its transactions take the write lock up front."""
    return engine.execution_options(**{WRITE_OPTION: True})


AUTOCOMMIT = "AUTOCOMMIT"


def reader(engine: Engine) -> Engine:
    """The engine of the requests that only read (GET, HEAD): on PostgreSQL in autocommit,
    each statement on its own snapshot, as it already is in a READ COMMITTED transaction,
    without the BEGIN and ROLLBACK round trips around every request (two of the three round
    trips of an article page's render). An embedded SQLite keeps its deferred transactions
    (no round trip to save, and one snapshot per request). A write on this engine outside
    `begin_write` is refused (`_refuse_unplanned_write`): it would commit statement by
    statement."""
    if engine.dialect.name == "sqlite":
        return engine
    reading = engine.execution_options(isolation_level=AUTOCOMMIT)
    event.listen(reading, "before_cursor_execute", _refuse_unplanned_write)
    return reading


WRITES = ("INSERT", "UPDATE", "DELETE", "MERGE")


def _refuse_unplanned_write(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    if (
        statement.lstrip()[:6].upper().startswith(WRITES)
        and conn.get_execution_options().get("isolation_level") == AUTOCOMMIT
    ):
        raise RuntimeError(
            "a write in a read-only request outside begin_write(): it would not be atomic"
        )


def begin_write(session: Session) -> None:
    """End the session's read transaction and begin a write transaction on the same
    connection slot (SQLite: BEGIN IMMEDIATE, so the busy timeout applies): for the few GETs
    whose by-product must be visible at once (a form's suggestions, an API token's last use).
    Reads before this point are committed, never upgraded in place. A write transaction
    already begun is left as it is."""
    if session.in_transaction():
        if session.connection().get_execution_options().get(WRITE_OPTION):
            return  # already a write transaction
        session.commit()
    options: dict[str, object] = {WRITE_OPTION: True}
    bind = session.get_bind()
    if bind.get_execution_options().get("isolation_level") == AUTOCOMMIT:
        options["isolation_level"] = bind.dialect.default_isolation_level  # a real transaction
    session.connection(execution_options=options)


def begin_read(session: Session) -> None:
    """End the session's transaction and begin a read one (SQLite: deferred BEGIN, no lock),
    even in a writer's session: for the reads a request makes before slow work (a password
    hash check) or before deciding whether to write at all. The next transaction after it
    is the session's usual kind again (a writer's: BEGIN IMMEDIATE)."""
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={WRITE_OPTION: False})


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """A session whose work is one transaction: committed on success, rolled back on error."""
    bind = writer(engine) if write else engine
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session
