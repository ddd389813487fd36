"""failed logins per account and address, and registered test-site networks

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("last_failed_at", DateTimeUTC(timezone=True), nullable=True))
        batch.add_column(sa.Column("locked_at", DateTimeUTC(timezone=True), nullable=True))
    op.create_table(
        "login_address_failures",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("window_start", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_login_address_failures")),
    )
    op.create_table(
        "login_networks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("allowance", sa.Integer(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_networks")),
        sa.UniqueConstraint("cidr", name=op.f("uq_login_networks_cidr")),
    )


def downgrade() -> None:
    op.drop_table("login_networks")
    op.drop_table("login_address_failures")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locked_at")
        batch.drop_column("last_failed_at")
        batch.drop_column("failed_logins")
