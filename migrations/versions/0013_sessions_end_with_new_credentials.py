"""sessions end with new credentials

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_sessions = sa.table(
    "web_sessions",
    sa.column("key", sa.String()),
    sa.column("namespace", sa.String()),
    sa.column("value", sa.LargeBinary()),
    sa.column("user_id", sa.Integer()),
    sa.column("credentials_version", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("credentials_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("credentials_version", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_web_sessions_user_id"), ["user_id"], unique=False)
    # Sessions open during the upgrade stay open, under the account's first count. Their
    # account is inside the stored JSON, read here in Python: the two databases spell
    # JSON-in-bytes differently, and the table holds one row per live session.
    bind = op.get_bind()
    rows = bind.execute(sa.select(_sessions.c.key, _sessions.c.namespace, _sessions.c.value))
    for key, namespace, value in rows.all():
        try:
            user = json.loads(value).get("user") or {}
        except (ValueError, AttributeError):
            continue
        if isinstance(user, dict) and isinstance(user.get("id"), int):
            bind.execute(
                _sessions.update()
                .where(_sessions.c.key == key, _sessions.c.namespace == namespace)
                .values(user_id=user["id"], credentials_version=0)
            )


def downgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_index(batch.f("ix_web_sessions_user_id"))
        batch.drop_column("credentials_version")
        batch.drop_column("user_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("credentials_version")
