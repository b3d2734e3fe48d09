"""search speed: a generation counter for the search vocabulary's freshness check

Revision ID: 0006a
Revises: 0006d
Create Date: 2026-11-22 16:10:00

Every search used to check with three queries whether published articles or synonyms had
changed since its cached vocabulary was built. Triggers now bump one counter on any change
of `article` or `synonym`, and a search reads that one row. The table's name contains
`_fts` so that autogenerate ignores it, like the FTS5 tables (hub.migrate.include_object):
it is part of the full-text index's machinery, not of the models.

Careful (as for the FTS5 triggers of 0002): a migration that rebuilds `article` or
`synonym` in batch mode on SQLite drops these triggers; recreate them there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006a"
down_revision: str | None = "0006d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("article", "synonym")
CREATE_COUNTER = [
    "CREATE TABLE search_fts_generation (id INTEGER PRIMARY KEY, generation BIGINT NOT NULL)",
    "INSERT INTO search_fts_generation (id, generation) VALUES (1, 1)",
]
BUMP = "UPDATE search_fts_generation SET generation = generation + 1 WHERE id = 1"


def _sqlite_triggers() -> list[str]:
    # SQLite has row triggers only: one bump per changed row (authoring changes few rows).
    return [
        f"CREATE TRIGGER {table}_fts_generation_{event.lower()} AFTER {event} ON {table} "
        f"BEGIN {BUMP}; END"
        for table in TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


def _postgres_triggers() -> list[str]:
    # One bump per statement (a bulk import bumps once per statement, not per row).
    statements = [
        "CREATE FUNCTION search_fts_generation_bump() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
    ]
    statements += [
        f"CREATE TRIGGER {table}_fts_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION search_fts_generation_bump()"
        for table in TABLES
    ]
    return statements


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in CREATE_COUNTER + (_sqlite_triggers() if sqlite else _postgres_triggers()):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_generation_{event}")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_generation ON {table}")
        op.execute("DROP FUNCTION IF EXISTS search_fts_generation_bump()")
    op.execute("DROP TABLE search_fts_generation")
