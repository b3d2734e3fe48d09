"""concepts: words and phrases that mean the same thing, searched every way round

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 08:00:00

A change of a concept changes what searches match, like a synonym: the same triggers bump
the search generation (migration 0010), so every process's vocabulary is rebuilt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = "UPDATE search_fts_generation SET generation = generation + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "concept",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("members", sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    if op.get_bind().dialect.name == "sqlite":
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER concept_fts_generation_{event.lower()} AFTER {event} "
                f"ON concept BEGIN {BUMP}; END"
            )
    else:
        op.execute(
            "CREATE TRIGGER concept_fts_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            "ON concept FOR EACH STATEMENT EXECUTE FUNCTION search_fts_generation_bump()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS concept_fts_generation_{event}")
    else:
        op.execute("DROP TRIGGER IF EXISTS concept_fts_generation ON concept")
    op.drop_table("concept")
