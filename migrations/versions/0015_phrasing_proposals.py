"""phrasing proposals: question titles the hub learns as phrasings of an article, waiting
for a referent or the team to add them

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phrasing_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("normalized", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "normalized"),
    )
    with op.batch_alter_table("phrasing_proposal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_phrasing_proposal_article_id"), ["article_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_phrasing_proposal_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("phrasing_proposal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phrasing_proposal_status"))
        batch_op.drop_index(batch_op.f("ix_phrasing_proposal_article_id"))
    op.drop_table("phrasing_proposal")
