"""questions an article answers: typed phrasings, analyzed and indexed with a high weight

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-06 05:00:00

The full-text index gains a column: on SQLite the FTS5 table and its triggers are rebuilt
with `search_questions` (and the index rebuilt from the articles); on PostgreSQL the generated
tsvector is recreated with the phrasings at weight A, beside the title.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("search_title", "search_tags", "search_questions", "search_body")
OLD_COLUMNS = ("search_title", "search_tags", "search_body")


def _sqlite_fts(columns: Sequence[str]) -> list[str]:
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    return [
        f"CREATE VIRTUAL TABLE article_fts USING fts5({names}, "
        "content='article', content_rowid='id', tokenize='unicode61')",
        "CREATE TRIGGER article_fts_insert AFTER INSERT ON article BEGIN "
        f"INSERT INTO article_fts(rowid, {names}) VALUES (new.id, {new}); END",
        "CREATE TRIGGER article_fts_delete AFTER DELETE ON article BEGIN "
        f"INSERT INTO article_fts(article_fts, rowid, {names}) "
        f"VALUES ('delete', old.id, {old}); END",
        "CREATE TRIGGER article_fts_update AFTER UPDATE ON article BEGIN "
        f"INSERT INTO article_fts(article_fts, rowid, {names}) "
        f"VALUES ('delete', old.id, {old}); "
        f"INSERT INTO article_fts(rowid, {names}) VALUES (new.id, {new}); END",
        "INSERT INTO article_fts(article_fts) VALUES ('rebuild')",
    ]


def _drop_sqlite_fts() -> None:
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS article_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS article_fts")


def _postgres_vector(with_questions: bool) -> list[str]:
    questions = "setweight(to_tsvector('simple', search_questions), 'A') || "
    return [
        "DROP INDEX IF EXISTS ix_article_search_vector",
        "ALTER TABLE article DROP COLUMN IF EXISTS search_vector",
        "ALTER TABLE article ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('simple', search_title), 'A') || "
        + (questions if with_questions else "")
        + "setweight(to_tsvector('simple', search_tags), 'B') || "
        "setweight(to_tsvector('simple', search_body), 'C')) STORED",
        "CREATE INDEX ix_article_search_vector ON article USING GIN (search_vector)",
    ]


def upgrade() -> None:
    # Plain ADD COLUMNs (no batch rebuild of `article`, which would drop its triggers).
    op.add_column("article", sa.Column("questions", sa.Text(), nullable=False, server_default=""))
    op.add_column(
        "article", sa.Column("search_questions", sa.Text(), nullable=False, server_default="")
    )
    op.add_column(
        "article_revision", sa.Column("questions", sa.Text(), nullable=False, server_default="")
    )
    if op.get_bind().dialect.name == "sqlite":
        _drop_sqlite_fts()
        statements = _sqlite_fts(COLUMNS)
    else:
        statements = _postgres_vector(with_questions=True)
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _drop_sqlite_fts()
    else:
        for statement in _postgres_vector(with_questions=False)[:2]:
            op.execute(statement)
    # Plain DROP COLUMNs (SQLite 3.35+), never a batch rebuild: the other triggers on
    # `article` (search_fts_generation, migration 0010's file) must survive.
    op.drop_column("article_revision", "questions")
    op.drop_column("article", "search_questions")
    op.drop_column("article", "questions")
    if op.get_bind().dialect.name == "sqlite":
        for statement in _sqlite_fts(OLD_COLUMNS):
            op.execute(statement)
    else:
        for statement in _postgres_vector(with_questions=False)[2:]:
            op.execute(statement)
