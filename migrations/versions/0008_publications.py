"""published results: one row per version of an exam's results

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("table_csv", sa.Text(), nullable=False),
        sa.Column("table_sha256", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_root", sa.String(length=64), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("show_names", sa.Boolean(), nullable=False),
        sa.Column("published_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["exams.id"], name=op.f("fk_publications_exam_id_exams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publications")),
        sa.UniqueConstraint("exam_id", "version", name=op.f("uq_publications_exam_id_version")),
    )
    op.create_index(op.f("ix_publications_exam_id"), "publications", ["exam_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_publications_exam_id"), table_name="publications")
    op.drop_table("publications")
