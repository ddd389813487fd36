"""Appending to the audit log, in the caller's transaction.

``append`` is called by every state change (login, attempt start, item served, answer,
committee changes …) inside the same transaction as the change, so the log never says
something happened that was rolled back, and nothing that happened is missing from it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import TextClause, event, insert, select, text
from sqlalchemy.orm import Session

from proctoring import merkle
from proctoring.canonical import canonical
from proctoring.models import LogEntry, LogHead, LogNode

#: PostgreSQL channel on which every append announces the new log size, on commit.
NOTIFY_CHANNEL = "seleksi_log"

#: Reserves ``n`` indices (see ``append``).
_RESERVE = text("UPDATE log_head SET size = size + :n WHERE id = 1 RETURNING size")
_INSERT_ENTRIES = insert(LogEntry.__table__)
_INSERT_NODES = insert(LogNode.__table__)
_NOTIFY = text("SELECT pg_notify(:channel, :size)")


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
    conn = session.connection()
    end = conn.execute(_RESERVE, {"n": len(texts)}).scalar_one()
    start = end - len(texts)
    leaves = [leaf_hash(text) for text in texts]
    # The new leaves read only the compact range of the tree before them: O(log n). This
    # process usually knows it already from its own last append (see _Frontiers).
    db = str(conn.engine.url)
    nodes = _FRONTIERS.get(db, start)
    if nodes is None:
        nodes = fetch_nodes(session, merkle.frontier(start))
    added = []
    for i, leaf in enumerate(leaves):
        for level, idx, h in merkle.new_nodes(start + i, leaf, lambda lv, k: nodes[(lv, k)]):
            nodes[(level, idx)] = h
            added.append({"level": level, "idx": idx, "hash": h})
    pending = session.info.setdefault(_PENDING, {})
    pending[db] = (end, {k: nodes[k] for k in merkle.frontier(end)})
    if conn.dialect.name == "postgresql":
        # One round trip while the head row is locked: entries, nodes and the wake-up for
        # the streams of every worker (pg_notify is delivered only if and when this
        # transaction commits; it carries the size only).
        conn.execute(
            _PG_APPEND,
            {
                "idx": list(range(start, end)),
                "txt": texts,
                "leaf": leaves,
                "lv": [a["level"] for a in added],
                "ix": [a["idx"] for a in added],
                "h": [a["hash"] for a in added],
                "channel": NOTIFY_CHANNEL,
                "size": str(end),
            },
        )
        return list(range(start, end))
    # Core statements on the session's connection: the ORM's paths cost more than the
    # statements themselves here, on every state change of every attempt.
    conn.execute(
        _INSERT_ENTRIES,
        [
            {"index": start + i, "entry": text, "leaf_hash": leaves[i]}
            for i, text in enumerate(texts)
        ],
    )
    conn.execute(_INSERT_NODES, added)
    return list(range(start, start + len(texts)))


_PG_APPEND = text(
    """
    WITH entries AS (
        INSERT INTO log_entries ("index", entry, leaf_hash, appended_at)
        SELECT i, t, l, now()
        FROM unnest(CAST(:idx AS bigint[]), CAST(:txt AS text[]), CAST(:leaf AS bytea[]))
            AS e(i, t, l)
    ), nodes AS (
        INSERT INTO log_nodes (level, idx, hash)
        SELECT lv, ix, h
        FROM unnest(CAST(:lv AS smallint[]), CAST(:ix AS bigint[]), CAST(:h AS bytea[]))
            AS n(lv, ix, h)
    )
    SELECT pg_notify(:channel, :size)
    """
)
_PENDING = "seleksi.log_frontier"


class _Frontiers:
    """The compact range of the log after this process's last committed append, per
    database. Used only when the next append starts exactly there (no other process or
    rollback came between); it is set after the commit, never before, so a rolled-back
    append can never leave nodes behind that the database does not have."""

    def __init__(self) -> None:
        self._by_db: dict[str, tuple[int, dict]] = {}
        self._lock = threading.Lock()

    def get(self, db: str, size: int) -> dict | None:
        with self._lock:
            known = self._by_db.get(db)
        if known is None or known[0] != size:
            return None
        return dict(known[1])

    def put(self, db: str, size: int, nodes: dict) -> None:
        # The latest commit wins. Two commits noted out of order leave a smaller size
        # here, which the next append merely misses; a database restored to an older
        # state is likewise never mistaken for the one remembered.
        with self._lock:
            self._by_db[db] = (size, nodes)


_FRONTIERS = _Frontiers()


@event.listens_for(Session, "after_commit")
def _remember_frontier(session: Session) -> None:
    for db, (size, nodes) in session.info.pop(_PENDING, {}).items():
        _FRONTIERS.put(db, size, nodes)


@event.listens_for(Session, "after_rollback")
def _forget_frontier(session: Session) -> None:
    session.info.pop(_PENDING, None)


def fetch_nodes(session: Session, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Stored nodes by (level, idx), in one query."""
    keys = list(keys)
    if not keys:
        return {}
    params = {}
    for k, (level, idx) in enumerate(keys):
        params[f"l{k}"], params[f"i{k}"] = level, idx
    conn = session.connection()
    rows = conn.execute(_nodes_query(conn.dialect.name, len(keys)), params)
    return {(level, idx): bytes(h) for level, idx, h in rows}


@functools.lru_cache(maxsize=256)
def _nodes_query(dialect: str, count: int) -> TextClause:
    """The query for ``count`` nodes, as plain SQL text built once per count: building the
    condition as an expression on every append costs more than running it."""
    if dialect == "sqlite":
        # SQLite scans the whole table for a row-value IN list; an OR of (level, idx)
        # equalities is one primary-key search per node.
        where = " OR ".join(f"(level = :l{k} AND idx = :i{k})" for k in range(count))
    else:
        pairs = ", ".join(f"(:l{k}, :i{k})" for k in range(count))
        where = f"(level, idx) IN ({pairs})"
    return text(f"SELECT level, idx, hash FROM log_nodes WHERE {where}")


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
