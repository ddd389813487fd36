"""log_openings: nested openings (an entry's inner part), never among an applicant's own

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("log_openings") as batch:
        batch.add_column(
            sa.Column("nested", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("log_openings") as batch:
        batch.drop_column("nested")
