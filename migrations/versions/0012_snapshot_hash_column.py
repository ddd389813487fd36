"""the bank snapshot's hash in a column of its own

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_exams = sa.table("exams", sa.column("bank_snapshot", sa.JSON()), sa.column("snapshot_sha256"))


def upgrade() -> None:
    with op.batch_alter_table("exams") as batch:
        batch.add_column(sa.Column("snapshot_sha256", sa.String(length=64), nullable=True))
    # Exams opened before this revision: the hash their snapshot already holds.
    op.execute(
        _exams.update()
        .where(_exams.c.bank_snapshot.is_not(None))
        .values(snapshot_sha256=_exams.c.bank_snapshot["hash"].as_string())
    )


def downgrade() -> None:
    with op.batch_alter_table("exams") as batch:
        batch.drop_column("snapshot_sha256")
