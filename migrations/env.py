"""Alembic environment: the database URL comes from the caller or from HUB_* settings."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import hub.schema  # noqa: F401  (registers every table)
from hub.db import make_engine
from hub.migrate import include_object
from hub.models import UTCDateTime
from hub.settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def render_item(type_, obj, autogen_context):  # type: ignore[no-untyped-def]
    # Migrations must not import application code: our UTC type is a timezone-aware DateTime.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().effective_database_url
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `hub db upgrade`")
run_migrations_online()
