"""witness cosignatures of checkpoints, and the cosignatures an exam's results need

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_cosignatures",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=300), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("cosigned_at", DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness", name=op.f("pk_log_cosignatures")),
    )
    op.create_table(
        "log_witnesses",
        sa.Column("witness", sa.String(length=300), nullable=False),
        sa.Column("cosigned_size", sa.BigInteger(), nullable=False),
        sa.Column("problem", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("problem_size", sa.BigInteger(), nullable=True),
        sa.Column("problem_at", DateTimeUTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("witness", name=op.f("pk_log_witnesses")),
    )
    with op.batch_alter_table("exams") as batch:
        batch.add_column(sa.Column("min_witnesses", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exams") as batch:
        batch.drop_column("min_witnesses")
    op.drop_table("log_witnesses")
    op.drop_table("log_cosignatures")
