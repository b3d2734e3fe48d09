"""teams: department channel, channel feed cache, kind words

Revision ID: 0006t
Revises: 0006w
Create Date: 2026-11-22 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006t"
down_revision: str | None = "0006w"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "teams_channel_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True
            )
        )

    op.create_table(
        "teams_feed",
        sa.Column("channel_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("channel_name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("channel_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("items_json", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("refresh_claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("channel_key"),
    )

    op.create_table(
        "kind_word",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("share_on_teams", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moderated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["moderated_by_id"], ["user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kind_word", schema=None) as batch_op:
        batch_op.create_index("ix_kind_word_status_created", ["status", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kind_word", schema=None) as batch_op:
        batch_op.drop_index("ix_kind_word_status_created")
    op.drop_table("kind_word")
    op.drop_table("teams_feed")
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.drop_column("teams_channel_id")
