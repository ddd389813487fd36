"""The audit log's tables: append-only entries, the head that numbers them, the stored
Merkle nodes, and the signed checkpoints.

Entries are numbered from the locked head row inside the appending transaction — not from a
sequence — so the index is gapless and entries commit in index order: a reader following
``index > last`` never misses one (FIELD-NOTES). ``log_nodes`` keeps every perfect subtree
(level, index) of the RFC 6962 tree, written in the same transaction as its entries, so an
append costs O(log n) and proofs are read, not recomputed (``proctoring.merkle``). Triggers
refuse UPDATE and DELETE on entries, nodes and checkpoints (migrations 0003 and 0007); the
signed checkpoints are what make tampering detectable.
"""

from __future__ import annotations

from datetime import UTC, datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _now() -> datetime:
    return datetime.now(UTC)


class LogBase(DeclarativeBase):
    """The audit log's own metadata: the observer module owns these tables."""

    metadata = MetaData(naming_convention={"pk": "pk_%(table_name)s"})


class LogEntry(LogBase):
    __tablename__ = "log_entries"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    appended_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=_now)


class LogHead(LogBase):
    """One row (id 1): the number of entries so far."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)


class LogNode(LogBase):
    """The hash of the perfect subtree over entries [idx·2^level, (idx+1)·2^level)."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogCheckpoint(LogBase):
    """A signed checkpoint (C2SP signed note) of the log at ``size``."""

    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=_now)


class LogOpening(LogBase):
    """What opens a sealed entry (``proctoring.seal``): its salt and record, kept by the
    server and released by the rules of ``proctoring.openings``. Stored in the append that
    logs the entry; found by its commitment. A *nested* opening opens the inner part of
    another entry's record (``proctoring.seal.INNER``): what narrows an item's key, which
    the applicant's own openings never include."""

    __tablename__ = "log_openings"

    sealed: Mapped[str] = mapped_column(String(64), primary_key=True)
    exam: Mapped[str] = mapped_column(String(64), index=True)
    pseudonym: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    salt: Mapped[str] = mapped_column(String(64))
    record: Mapped[str] = mapped_column(Text)
    nested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LogCosignature(LogBase):
    """A witness's cosignature (c2sp.org/tlog-cosignature) on the checkpoint of ``size``:
    the signature line as the witness returned it, served with the checkpoint."""

    __tablename__ = "log_cosignatures"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: The witness's verifier key (name+hexid+base64), which identifies it.
    witness: Mapped[str] = mapped_column(String(300), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    cosigned_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class LogWitness(LogBase):
    """What the log knows of one witness: the size it last cosigned (the ``old`` of the
    next request) and its last refusal or failure, shown to the public until it cosigns
    again."""

    __tablename__ = "log_witnesses"

    witness: Mapped[str] = mapped_column(String(300), primary_key=True)
    cosigned_size: Mapped[int] = mapped_column(BigInteger, default=0)
    #: ``refused`` (the witness answered no: the evidence of a fork or a rewrite) or
    #: ``unreachable``; None while all is well.
    problem: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    problem_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    problem_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
