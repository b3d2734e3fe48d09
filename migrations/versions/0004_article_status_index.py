"""index for the search vocabulary's freshness check

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 14:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE INDEX (no batch mode): rebuilding `article` would drop the FTS5 triggers.
    op.create_index("ix_article_status_updated_at", "article", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_article_status_updated_at", table_name="article")
