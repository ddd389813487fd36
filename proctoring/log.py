"""Appending to the audit log, in the caller's transaction.

``append`` is called by every state change (login, attempt start, item served, answer,
committee changes …) inside the same transaction as the change, so the log never says
something happened that was rolled back, and nothing that happened is missing from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import insert, select, text, tuple_, update
from sqlalchemy.orm import Session

from proctoring import merkle
from proctoring.canonical import canonical
from proctoring.models import LogEntry, LogHead, LogNode

#: PostgreSQL channel on which every append announces the new log size, on commit.
NOTIFY_CHANNEL = "seleksi_log"


def leaf_hash(entry: str) -> bytes:
    """RFC 6962 §2.1 leaf hash: SHA-256(0x00 ‖ entry bytes)."""
    return merkle.leaf_hash(entry.encode("utf-8"))


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
    leaves = [leaf_hash(text) for text in texts]
    # The new leaves read only the compact range of the tree before them: O(log n).
    nodes = fetch_nodes(session, merkle.frontier(start))
    added = []
    for i, leaf in enumerate(leaves):
        for level, idx, h in merkle.new_nodes(start + i, leaf, lambda lv, k: nodes[(lv, k)]):
            nodes[(level, idx)] = h
            added.append({"level": level, "idx": idx, "hash": h})
    session.execute(
        insert(LogEntry),
        [
            {"index": start + i, "entry": text, "leaf_hash": leaves[i]}
            for i, text in enumerate(texts)
        ],
    )
    session.execute(insert(LogNode), added)
    if session.get_bind().dialect.name == "postgresql":
        # Delivered only if and when this transaction commits: a wake-up for the streams
        # of every worker process (the size only; readers fetch the entries themselves).
        session.execute(
            text("SELECT pg_notify(:channel, :size)"), {"channel": NOTIFY_CHANNEL, "size": str(end)}
        )
    return list(range(start, start + len(texts)))


def fetch_nodes(session: Session, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Stored nodes by (level, idx), in one query."""
    keys = list(keys)
    if not keys:
        return {}
    rows = session.execute(
        select(LogNode.level, LogNode.idx, LogNode.hash).where(
            tuple_(LogNode.level, LogNode.idx).in_(keys)
        )
    )
    return {(level, idx): bytes(h) for level, idx, h in rows}


def _with_nodes(session: Session, compute: Callable[[merkle.NodeSource], Any]) -> Any:
    nodes = fetch_nodes(session, merkle.needed_nodes(compute))
    return compute(lambda level, idx: nodes[(level, idx)])


def root(session: Session, tree_size: int) -> bytes:
    """The Merkle root of the first ``tree_size`` entries."""
    return _with_nodes(session, lambda node: merkle.root(tree_size, node))


def inclusion_proof(session: Session, index: int, tree_size: int) -> list[bytes]:
    return _with_nodes(session, lambda node: merkle.inclusion_proof(index, tree_size, node))


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    return _with_nodes(session, lambda node: merkle.consistency_proof(first, second, node))


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
