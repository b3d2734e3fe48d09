"""Migrations build the schema from empty on both databases, matching the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import hub.schema  # noqa: F401
from hub.db import make_engine
from hub.migrate import current_revision, downgrade, include_object, upgrade


def test_migrations_match_models_and_round_trip(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert current_revision(engine) is not None
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": include_object}
            )
            assert compare_metadata(context, SQLModel.metadata) == []
        tables = set(inspect(engine).get_table_names())
        assert {"user", "department", "department_referent", "api_token"} <= tables
    finally:
        engine.dispose()
