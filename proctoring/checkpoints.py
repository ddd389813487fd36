"""Signing checkpoints of the audit log and keeping them (the database edge).

A checkpoint is signed when the log has grown (at most every 10 s while it grows, by the
app's background task) and always at exam open, exam close and results publication. Each
is stored, so an observer can ask for a consistency proof between any two.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from proctoring import log
from proctoring.models import LogCheckpoint
from proctoring.note import Checkpoint, Signer


def latest(session: Session) -> LogCheckpoint | None:
    return session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1))


def at_least(session: Session, size: int) -> LogCheckpoint | None:
    """The first stored checkpoint covering ``size`` entries."""
    return session.scalar(
        select(LogCheckpoint)
        .where(LogCheckpoint.size >= size)
        .order_by(LogCheckpoint.size)
        .limit(1)
    )


def sign(session: Session, signer: Signer, origin: str, reason: str) -> str:
    """A signed checkpoint of the log as this transaction sees it; stored once per size
    (several workers may sign the same size at once: the first one is kept)."""
    size = log.size(session)
    existing = session.get(LogCheckpoint, size)
    if existing is not None:
        return existing.note
    root = log.root(session, size)
    note = signer.sign(Checkpoint(origin, size, root).text())
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(LogCheckpoint)
        .values(size=size, root=root, note=note, reason=reason, signed_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["size"])
    )
    return session.get(LogCheckpoint, size, populate_existing=True).note
