"""The audit log's tables: append-only entries and the head that numbers them.

Entries are numbered from the locked head row inside the appending transaction — not from a
sequence — so the index is gapless and entries commit in index order: a reader following
``index > last`` never misses one (FIELD-NOTES). Triggers refuse UPDATE and DELETE
(migration 0003); the signed checkpoints are what make tampering detectable.
"""

from __future__ import annotations

from datetime import UTC, datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, Integer, LargeBinary, MetaData, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class LogBase(DeclarativeBase):
    """The audit log's own metadata: the observer module owns these tables."""

    metadata = MetaData(naming_convention={"pk": "pk_%(table_name)s"})


class LogEntry(LogBase):
    __tablename__ = "log_entries"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    appended_at: Mapped[datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=lambda: datetime.now(UTC)
    )


class LogHead(LogBase):
    """One row (id 1): the number of entries so far."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
