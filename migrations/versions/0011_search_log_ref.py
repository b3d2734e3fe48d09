"""search logs written in batches: a random reference per search, known before the row exists

Revision ID: 0010
Revises: 0006a
Create Date: 2026-12-05 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0006a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch rebuild): the FTS triggers on other tables are untouched.
    op.add_column(
        "search_log",
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    )
    op.create_index("ux_search_log_ref", "search_log", ["ref"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_search_log_ref", table_name="search_log")
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.drop_column("ref")
