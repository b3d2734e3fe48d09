"""Migrations build the schema from empty on both databases, matching the models exactly."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import hub.schema  # noqa: F401
from hub.db import make_engine
from hub.migrate import ROOT, current_revision, downgrade, include_object, upgrade


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


def test_migration_files_are_named_in_chain_order() -> None:
    """A newcomer reads migrations/versions/ in file order: it must be the order they run
    in (0006_search_speed.py ran after 0009_... before the files were renamed). Revision ids
    are kept (databases record them), only file names follow the chain."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1, "one line of migrations, no branches"
    chain = list(reversed(list(script.walk_revisions())))  # base first
    files = [Path(str(revision.path)).name for revision in chain]
    assert files == sorted(files), files
    numbers = [name.split("_", 1)[0] for name in files]
    assert len(set(numbers)) == len(numbers), f"two files with one number: {numbers}"
