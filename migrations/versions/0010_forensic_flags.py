"""forensic screening: settings, flags and their reviews

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forensic_settings",
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("compromised", sa.JSON(), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["exams.id"], name=op.f("fk_forensic_settings_exam_id_exams")
        ),
        sa.PrimaryKeyConstraint("exam_id", name=op.f("pk_forensic_settings")),
    )
    op.create_table(
        "forensic_flags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("section", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("pseudonyms", sa.JSON(), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("q_value", sa.Float(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["exams.id"], name=op.f("fk_forensic_flags_exam_id_exams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forensic_flags")),
        sa.UniqueConstraint(
            "exam_id",
            "kind",
            "section",
            "subject",
            name=op.f("uq_forensic_flags_exam_id_kind_section_subject"),
        ),
    )
    op.create_index(op.f("ix_forensic_flags_exam_id"), "forensic_flags", ["exam_id"])
    op.create_table(
        "flag_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["forensic_flags.id"], name=op.f("fk_flag_reviews_flag_id_forensic_flags")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_flag_reviews_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_reviews")),
    )
    op.create_index(op.f("ix_flag_reviews_flag_id"), "flag_reviews", ["flag_id"])


def downgrade() -> None:
    op.drop_table("flag_reviews")
    op.drop_table("forensic_flags")
    op.drop_table("forensic_settings")
