"""the openings of sealed log entries

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_openings",
        sa.Column("sealed", sa.String(length=64), nullable=False),
        sa.Column("exam", sa.String(length=64), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=True),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sealed", name=op.f("pk_log_openings")),
    )
    op.create_index("ix_log_openings_exam", "log_openings", ["exam"])
    op.create_index("ix_log_openings_pseudonym", "log_openings", ["pseudonym"])


def downgrade() -> None:
    op.drop_index("ix_log_openings_pseudonym", table_name="log_openings")
    op.drop_index("ix_log_openings_exam", table_name="log_openings")
    op.drop_table("log_openings")
