"""Appending to the audit log, in the caller's transaction.

``append`` is called by every state change (login, attempt start, item served, answer,
committee changes …) inside the same transaction as the change, so the log never says
something happened that was rolled back, and nothing that happened is missing from it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from proctoring.canonical import canonical
from proctoring.models import LogEntry, LogHead


def leaf_hash(entry: str) -> bytes:
    """RFC 6962 §2.1 leaf hash: SHA-256(0x00 ‖ entry bytes)."""
    return hashlib.sha256(b"\x00" + entry.encode("utf-8")).digest()


def append(session: Session, entries: Iterable[dict[str, Any]]) -> list[int]:
    """Append entries (each with at least ``type``, ``exam`` and ``t``) and return their
    log indices. The head row is locked until the caller's transaction ends."""
    texts = [canonical(e) for e in entries]
    for e in texts:
        if not all(f'"{k}":' in e for k in ("type", "exam", "t")):
            raise ValueError("a log entry needs the fields type, exam and t")
    # One statement both reserves the indices and locks the head row until the caller's
    # transaction ends, so appends are numbered without gaps and commit in order.
    end = session.execute(
        update(LogHead)
        .where(LogHead.id == 1)
        .values(size=LogHead.size + len(texts))
        .returning(LogHead.size)
    ).scalar_one()
    start = end - len(texts)
    session.add_all(
        LogEntry(index=start + i, entry=text, leaf_hash=leaf_hash(text))
        for i, text in enumerate(texts)
    )
    session.flush()
    return list(range(start, start + len(texts)))


def size(session: Session) -> int:
    head = session.get(LogHead, 1)
    return 0 if head is None else head.size


def entries(session: Session, start: int, end: int) -> list[LogEntry]:
    """Entries with start ≤ index < end, in order."""
    return list(
        session.scalars(
            select(LogEntry)
            .where(LogEntry.index >= start, LogEntry.index < end)
            .order_by(LogEntry.index)
        )
    )
