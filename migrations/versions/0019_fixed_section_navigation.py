"""fixed sections: the section's first step and the items marked ragu-ragu

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(
            sa.Column("section_step", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("marked", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("marked")
        batch.drop_column("section_step")
