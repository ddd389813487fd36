"""test sites and rooms, exam pages' contact, proctors' rooms and room pauses

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(sa.Column("site", sa.String(length=64), server_default="", nullable=False))
        batch.add_column(sa.Column("room", sa.String(length=64), server_default="", nullable=False))
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("last_contact_at", DateTimeUTC(timezone=True), nullable=True))
    op.create_table(
        "contact_gaps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("started_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("ended_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("decided", sa.Boolean(), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_contact_gaps_attempt_id_attempts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_gaps")),
    )
    op.create_index("ix_contact_gaps_attempt_id", "contact_gaps", ["attempt_id"])
    op.create_index("ix_contact_gaps_decided", "contact_gaps", ["decided"])
    op.create_table(
        "proctor_rooms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_proctor_rooms_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proctor_rooms")),
        sa.UniqueConstraint(
            "user_id", "site", "room", name=op.f("uq_proctor_rooms_user_id_site_room")
        ),
    )
    op.create_index("ix_proctor_rooms_user_id", "proctor_rooms", ["user_id"])
    op.create_table(
        "room_pauses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("paused_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("resumed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["exams.id"], name=op.f("fk_room_pauses_exam_id_exams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_pauses")),
    )
    op.create_index("ix_room_pauses_exam_id", "room_pauses", ["exam_id"])


def downgrade() -> None:
    op.drop_index("ix_room_pauses_exam_id", table_name="room_pauses")
    op.drop_table("room_pauses")
    op.drop_index("ix_proctor_rooms_user_id", table_name="proctor_rooms")
    op.drop_table("proctor_rooms")
    op.drop_index("ix_contact_gaps_decided", table_name="contact_gaps")
    op.drop_index("ix_contact_gaps_attempt_id", table_name="contact_gaps")
    op.drop_table("contact_gaps")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("last_contact_at")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("room")
        batch.drop_column("site")
