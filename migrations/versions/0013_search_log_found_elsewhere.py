"""search logs: how many matches the reader was sent to elsewhere (staff articles behind a
sign-in, an exam for a course code), so such a search is not a content gap

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 05:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch rebuild).
    op.add_column(
        "search_log",
        sa.Column("found_elsewhere", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("search_log", "found_elsewhere")
