"""publications: no "show names" choice; public pages never show a name

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("publications") as batch:
        batch.drop_column("show_names")


def downgrade() -> None:
    with op.batch_alter_table("publications") as batch:
        batch.add_column(
            sa.Column("show_names", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
