"""audit log: append-only entries numbered from a locked head row

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION seleksi_log_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("appended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("index", name=op.f("pk_log_entries")),
    )
    op.create_table(
        "log_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_head")),
    )
    op.execute("INSERT INTO log_head (id, size) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER log_entries_append_only BEFORE UPDATE OR DELETE ON log_entries "
            "FOR EACH ROW EXECUTE FUNCTION seleksi_log_is_append_only()"
        )
        op.execute(
            "CREATE TRIGGER log_entries_no_truncate BEFORE TRUNCATE ON log_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION seleksi_log_is_append_only()"
        )
        # ENABLE ALWAYS: session_replication_role = replica does not switch them off.
        op.execute("ALTER TABLE log_entries ENABLE ALWAYS TRIGGER log_entries_append_only")
        op.execute("ALTER TABLE log_entries ENABLE ALWAYS TRIGGER log_entries_no_truncate")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER log_entries_no_{action.lower()} BEFORE {action} ON log_entries "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE log_entries")
        op.execute("DROP FUNCTION seleksi_log_is_append_only()")
    else:
        op.drop_table("log_entries")
    op.drop_table("log_head")
