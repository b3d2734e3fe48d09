"""knowledge base

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 13:20:25.754119
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SQLITE_FTS = [
    # External-content FTS5 index over the analyzed columns, kept in sync by triggers.
    "CREATE VIRTUAL TABLE article_fts USING fts5(search_title, search_tags, search_body, "
    "content='article', content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER article_fts_insert AFTER INSERT ON article BEGIN "
    "INSERT INTO article_fts(rowid, search_title, search_tags, search_body) "
    "VALUES (new.id, new.search_title, new.search_tags, new.search_body); END",
    "CREATE TRIGGER article_fts_delete AFTER DELETE ON article BEGIN "
    "INSERT INTO article_fts(article_fts, rowid, search_title, search_tags, search_body) "
    "VALUES ('delete', old.id, old.search_title, old.search_tags, old.search_body); END",
    "CREATE TRIGGER article_fts_update AFTER UPDATE ON article BEGIN "
    "INSERT INTO article_fts(article_fts, rowid, search_title, search_tags, search_body) "
    "VALUES ('delete', old.id, old.search_title, old.search_tags, old.search_body); "
    "INSERT INTO article_fts(rowid, search_title, search_tags, search_body) "
    "VALUES (new.id, new.search_title, new.search_tags, new.search_body); END",
]
POSTGRES_FTS = [
    # A generated tsvector (config `simple`: the text is already analyzed in Python) + GIN.
    "ALTER TABLE article ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple', search_title), 'A') || "
    "setweight(to_tsvector('simple', search_tags), 'B') || "
    "setweight(to_tsvector('simple', search_body), 'C')) STORED",
    "CREATE INDEX ix_article_search_vector ON article USING GIN (search_vector)",
]


def upgrade() -> None:
    op.create_table(
        "search_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("normalized", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("clicked_slug", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_log_normalized"), ["normalized"], unique=False)
        batch_op.create_index("ix_search_log_zero", ["result_count", "created_at"], unique=False)

    op.create_table(
        "synonym",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("expansion", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("term"),
    )
    op.create_table(
        "article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "tutorial",
                "checklist",
                "video",
                "guide",
                name="article_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "audience",
            sa.Enum(
                "everyone",
                "student",
                "teacher",
                "referent",
                "elearning",
                name="article_audience",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "published",
                "archived",
                name="article_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("verified_on", sa.Date(), nullable=True),
        sa.Column("video_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("search_title", sa.Text(), nullable=False),
        sa.Column("search_tags", sa.Text(), nullable=False),
        sa.Column("search_body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_article_slug"), ["slug"], unique=True)

    op.create_table(
        "article_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("article_feedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_feedback_article_id"), ["article_id"], unique=False
        )

    op.create_table(
        "article_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "tutorial",
                "checklist",
                "video",
                "guide",
                name="article_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "audience",
            sa.Enum(
                "everyone",
                "student",
                "teacher",
                "referent",
                "elearning",
                name="article_audience",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "published",
                "archived",
                name="article_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("verified_on", sa.Date(), nullable=True),
        sa.Column("video_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "number"),
    )
    with op.batch_alter_table("article_revision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_revision_article_id"), ["article_id"], unique=False
        )

    op.create_table(
        "checklist_tick",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("ticked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "article_id", "item_key"),
    )

    statements = SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRES_FTS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS article_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS article_fts")
    op.drop_table("checklist_tick")
    with op.batch_alter_table("article_revision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_revision_article_id"))

    op.drop_table("article_revision")
    with op.batch_alter_table("article_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_feedback_article_id"))

    op.drop_table("article_feedback")
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_slug"))
        batch_op.drop_index(batch_op.f("ix_article_department_id"))

    op.drop_table("article")
    op.drop_table("synonym")
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.drop_index("ix_search_log_zero")
        batch_op.drop_index(batch_op.f("ix_search_log_normalized"))

    op.drop_table("search_log")
