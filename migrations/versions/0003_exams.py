"""exams

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 13:29:21.769085
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "short_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
        sa.UniqueConstraint("target"),
    )
    op.create_table(
        "exam_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("course_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "platform",
            sa.Enum("moodle", "teams", "other", name="platform", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("access_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("instructions_slug", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled", "moved", "cancelled", name="exam_status", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("status_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("previous_starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("course_code", "starts_at"),
    )
    with op.batch_alter_table("exam_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exam_session_course_code"), ["course_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exam_session_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_exam_session_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "exam_problem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("student_number", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["exam_id"],
            ["exam_session.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("exam_problem", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exam_problem_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index("ix_exam_problem_email_at", ["email", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_exam_problem_exam_id"), ["exam_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exam_problem", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exam_problem_exam_id"))
        batch_op.drop_index("ix_exam_problem_email_at")
        batch_op.drop_index(batch_op.f("ix_exam_problem_created_at"))

    op.drop_table("exam_problem")
    with op.batch_alter_table("exam_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exam_session_starts_at"))
        batch_op.drop_index(batch_op.f("ix_exam_session_department_id"))
        batch_op.drop_index(batch_op.f("ix_exam_session_course_code"))

    op.drop_table("exam_session")
    op.drop_table("short_link")
