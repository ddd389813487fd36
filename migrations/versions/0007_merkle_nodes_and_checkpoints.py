"""audit log: stored Merkle nodes and signed checkpoints, append-only

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("log_nodes", "log_checkpoints")


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION seleksi_log_is_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION seleksi_log_is_append_only()"
        )
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only")
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )


def _backfill() -> None:
    """Nodes for entries logged before this revision (same hashing as proctoring.merkle)."""
    bind = op.get_bind()
    nodes: dict[tuple[int, int], bytes] = {}
    rows = []
    for index, leaf in bind.execute(
        sa.text('SELECT "index", leaf_hash FROM log_entries ORDER BY "index"')
    ):
        level, i, h = 0, index, bytes(leaf)
        nodes[(0, i)] = h
        rows.append({"level": 0, "idx": i, "hash": h})
        while i & 1:
            h = hashlib.sha256(b"\x01" + nodes[(level, i - 1)] + h).digest()
            level, i = level + 1, i >> 1
            nodes[(level, i)] = h
            rows.append({"level": level, "idx": i, "hash": h})
    if rows:
        bind.execute(
            sa.text("INSERT INTO log_nodes (level, idx, hash) VALUES (:level, :idx, :hash)"), rows
        )


def upgrade() -> None:
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_log_nodes")),
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_log_checkpoints")),
    )
    _backfill()
    for table in TABLES:
        _append_only(table)
    if op.get_bind().dialect.name == "postgresql":
        # Nobody but the owner may change the log; an application role gets SELECT and
        # INSERT only (docs/operations.md).
        op.execute(
            "REVOKE UPDATE, DELETE, TRUNCATE ON log_entries, log_nodes, log_checkpoints FROM PUBLIC"
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
