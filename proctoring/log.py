"""Appending to the audit log, in the caller's transaction.

Every state change (login, attempt start, item served, answer, committee changes …)
``record``s its entries in its unit of work, the session's transaction. Just before that
transaction commits, the recorded entries are appended (``append``), as its last
statements: the log never says something happened that was rolled back, and nothing that
happened is missing from it. A rollback forgets what was recorded.

The head row that numbers the entries is locked from the append until the commit, so every
append waits for the one before it to commit. On PostgreSQL an append is therefore one
statement, the last before the commit: it reserves the indices, inserts the entries and
the caller's rows that record the index, and sends the wake-up. The tree's inner nodes
(``log_nodes``), which need the tree's edge, are built later from the entries' leaf hashes
(``build_tree``, in a transaction of its own before each periodic checkpoint); a root or
proof that reaches past them computes the rest from the leaf hashes. On SQLite, where one
process writes at a time, the append stores its nodes at once.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Table, TextClause, bindparam, event, func, insert, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from proctoring import merkle
from proctoring.canonical import canonical
from proctoring.models import LogEntry, LogHead, LogNode

#: PostgreSQL channel on which every append announces the new log size, on commit.
NOTIFY_CHANNEL = "seleksi_log"

#: Reserves ``n`` indices (see ``append``).
_RESERVE = text("UPDATE log_head SET size = size + :n WHERE id = 1 RETURNING size")
_ENTRIES, _NODES = LogEntry.__table__, LogNode.__table__
_INSERT_ENTRIES, _INSERT_NODES = insert(_ENTRIES), insert(_NODES)
#: How many entries the stored nodes cover: each build stores a whole range at once.
_BUILT = select(func.max(_NODES.c.idx) + 1).where(_NODES.c.level == 0)
_LEAVES = (
    select(_ENTRIES.c.leaf_hash)
    .where(_ENTRIES.c.index >= bindparam("start"), _ENTRIES.c.index < bindparam("end"))
    .order_by(_ENTRIES.c.index)
)


class Recorded:
    """The log indices of recorded entries, known once their transaction has appended
    them, just before it commits."""

    __slots__ = ("_indices", "_main")

    def __init__(self, main: int = 0) -> None:
        self._indices: list[int] | None = None
        self._main = main

    @property
    def indices(self) -> list[int]:
        if self._indices is None:
            raise RuntimeError("the entries are appended when their transaction commits")
        return self._indices

    @property
    def index(self) -> int:
        """The main entry's index: the first one's (an answer's receipt) unless the
        recording named another."""
        return self.indices[self._main]

    @property
    def last(self) -> int:
        return self.indices[-1]


#: ``Session.info`` key of the entries recorded in the session's transaction.
_RECORDED = "seleksi.log.recorded"


def record(
    session: Session,
    entries: Iterable[dict[str, Any]],
    indexed_rows: Sequence[tuple[Table, dict[str, Any]]] = (),
    updated_rows: Sequence[tuple[Table, Any, dict[str, Any]]] = (),
    then: Callable[[list[int]], None] | None = None,
    main: int = 0,
) -> Recorded:
    """Record entries (and the rows that go with them, as for ``append``) to be appended
    just before the session's transaction commits. ``then(indices)`` runs once they are
    appended, still inside the transaction: it may set a row's log index. ``main`` is
    the position of the entry whose index the returned ``Recorded.index`` gives."""
    entries = list(entries)
    if not all("type" in e and "exam" in e and "t" in e for e in entries):
        raise ValueError("a log entry needs the fields type, exam and t")
    recorded = Recorded(main)
    batch = (entries, list(indexed_rows), list(updated_rows), then, recorded)
    session.info.setdefault(_RECORDED, []).append(batch)
    return recorded


def index_into(row: Any, attribute: str = "log_index") -> Callable[[list[int]], None]:
    """A ``then`` for ``record`` that stores the first entry's index in ``row``."""
    return lambda indices: setattr(row, attribute, indices[0])


def append_recorded(session: Session) -> None:
    """Append what the transaction recorded, in order (``before_commit``). Pending ORM
    changes are flushed first, so the append stays the transaction's last statement."""
    batches = session.info.pop(_RECORDED, None)
    if not batches:
        return
    session.flush()
    for entries, indexed_rows, updated_rows, then, recorded in batches:
        recorded._indices = append(session, entries, indexed_rows, updated_rows)
        if then is not None:
            then(recorded._indices)


def _forget_recorded(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_RECORDED, None)


# The unit of work: every session appends what its transaction recorded just before it
# commits, and forgets it when the transaction ends otherwise.
event.listen(Session, "before_commit", append_recorded)
event.listen(Session, "after_transaction_end", _forget_recorded)


def _check(texts: Iterable[str]) -> None:
    for e in texts:
        if not all(f'"{k}":' in e for k in ("type", "exam", "t")):
            raise ValueError("a log entry needs the fields type, exam and t")


def leaf_hash(entry: str) -> bytes:
    """RFC 6962 §2.1 leaf hash: SHA-256(0x00 ‖ entry bytes)."""
    return merkle.leaf_hash(entry.encode("utf-8"))


def append(
    session: Session,
    entries: Iterable[dict[str, Any]],
    indexed_rows: Sequence[tuple[Table, dict[str, Any]]] = (),
    updated_rows: Sequence[tuple[Table, Any, dict[str, Any]]] = (),
) -> list[int]:
    """Append entries (each with at least ``type``, ``exam`` and ``t``) and return their
    log indices. The head row is locked until the caller's transaction ends.

    ``indexed_rows`` are rows to insert with the entries, each with its column
    ``log_index`` set to the first entry's index (an answer's receipt) when its table
    has one, and every other column given (on PostgreSQL no Python-side default is
    applied); the openings of sealed entries go here too. ``updated_rows`` are changes
    to rows the caller has already locked: (table, primary key, new values); a changed
    row of a table with ``log_index`` gets the first entry's index too. On
    PostgreSQL both go in the append's own statement, so the caller's transaction holds
    the head row for that one statement and the commit, and the change costs no round
    trip of its own; the append should be its last statement."""
    texts = [canonical(e) for e in entries]
    _check(texts)
    leaves = [leaf_hash(text) for text in texts]
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        params: dict[str, Any] = {
            "n": len(texts),
            "txt": texts,
            "leaf": leaves,
            "channel": NOTIFY_CHANNEL,
        }
        for k, (_, row) in enumerate(indexed_rows):
            params.update({f"r{k}_{column}": value for column, value in row.items()})
        for k, (_, key, values) in enumerate(updated_rows):
            params.update({f"u{k}_{column}": value for column, value in values.items()})
            params[f"u{k}__key"] = key
        shape = tuple((table, tuple(row)) for table, row in indexed_rows)
        changes = tuple((table, tuple(values)) for table, _, values in updated_rows)
        start = conn.execute(_pg_append(shape, changes), params).scalar_one()
        return list(range(start, start + len(texts)))
    # One statement both reserves the indices and locks the head row until the caller's
    # transaction ends, so appends are numbered without gaps and commit in order.
    end = conn.execute(_RESERVE, {"n": len(texts)}).scalar_one()
    start = end - len(texts)
    # The new leaves read only the compact range of the tree before them: O(log n). This
    # process usually knows it already from its own last append (see _Frontiers).
    db = str(conn.engine.url)
    nodes = _FRONTIERS.get(db, start)
    if nodes is None:
        nodes = fetch_nodes(session, merkle.frontier(start))
    added = _grow(nodes, start, leaves)
    session.info.setdefault(_PENDING, {})[db] = (end, {k: nodes[k] for k in merkle.frontier(end)})
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
    for table, key, values in updated_rows:
        [pk] = table.primary_key.columns
        indexed = {"log_index": start} if _indexed(table) else {}
        conn.execute(update(table).where(pk == key).values({**values, **indexed}))
    for table, row in indexed_rows:
        conn.execute(insert(table), {**row, "log_index": start} if _indexed(table) else row)
    return list(range(start, end))


def _grow(nodes: dict, start: int, leaves: Sequence[bytes]) -> list[dict]:
    """Add to ``nodes`` (which hold the tree's edge at ``start``) the nodes that appending
    ``leaves`` at ``start`` completes; returns them as rows."""
    added = []
    for i, leaf in enumerate(leaves):
        for level, idx, h in merkle.new_nodes(start + i, leaf, lambda lv, k: nodes[(lv, k)]):
            nodes[(level, idx)] = h
            added.append({"level": level, "idx": idx, "hash": h})
    return added


@functools.lru_cache(maxsize=256)
def _pg_append(
    shape: tuple[tuple[Table, tuple[str, ...]], ...],
    changes: tuple[tuple[Table, tuple[str, ...]], ...] = (),
) -> TextClause:
    """The PostgreSQL append as one statement, for rows of the given tables and columns
    (``shape``) and changes to the given columns of rows found by primary key
    (``changes``). It reserves the indices (locking the head row), inserts the entries and
    the indexed rows, updates the changed rows, and sends ``pg_notify`` with the new size,
    which is delivered only if and when the transaction commits. PostgreSQL runs every
    data-modifying part of a WITH exactly once, whether or not the query reads it."""
    parts = [
        """head AS (
            UPDATE log_head SET size = size + :n WHERE id = 1 RETURNING size - :n AS start
        )""",
        """entries AS (
            INSERT INTO log_entries ("index", entry, leaf_hash, appended_at)
            SELECT head.start + e.ord - 1, e.t, e.l, now()
            FROM head, unnest(CAST(:txt AS text[]), CAST(:leaf AS bytea[]))
                WITH ORDINALITY AS e(t, l, ord)
        )""",
    ]
    binds = []
    dialect = postgresql.dialect()
    quote = dialect.identifier_preparer.quote

    def cast(table: Table, column: str, bind: str) -> str:
        type_ = table.c[column].type
        binds.append(bindparam(bind, type_=type_))
        # The type without its length: a value too long for the column is refused when
        # it is stored, as a plain INSERT refuses it, not cut short by the cast.
        name = re.sub(r"\(\d+\)$", "", type_.compile(dialect=dialect))
        return f"CAST(:{bind} AS {name})"

    for k, (table, columns) in enumerate(changes):
        [pk] = table.primary_key.columns
        sets = [f"{quote(c)} = {cast(table, c, f'u{k}_{c}')}" for c in columns]
        source = ""
        if _indexed(table):
            sets, source = [*sets, "log_index = head.start"], " FROM head"
        parts.append(
            f"""upd{k} AS (
            UPDATE {quote(table.name)} SET {", ".join(sets)}{source}
            WHERE {quote(pk.name)} = {cast(table, pk.name, f"u{k}__key")}
        )"""
        )
    for k, (table, columns) in enumerate(shape):
        values = [cast(table, column, f"r{k}_{column}") for column in columns]
        names = [quote(c) for c in columns]
        if _indexed(table):
            names, values = [*names, "log_index"], [*values, "head.start"]
        parts.append(
            f"""row{k} AS (
            INSERT INTO {quote(table.name)} ({", ".join(names)})
            SELECT {", ".join(values)} FROM head
        )"""
        )
    sql = (
        "WITH "
        + ",\n".join(parts)
        + "\nSELECT start, pg_notify(:channel, CAST(start + :n AS text)) FROM head"
    )
    return text(sql).bindparams(*binds)


def _indexed(table: Table) -> bool:
    return "log_index" in table.c


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


def _with_nodes(
    session: Session, tree_size: int, compute: Callable[[merkle.NodeSource], Any]
) -> Any:
    needed = merkle.needed_nodes(compute)
    nodes = fetch_nodes(session, needed)
    if len(nodes) < len(needed):  # past the built tree: compute the rest, store nothing
        nodes.update(_unbuilt(session, tree_size))
        # A build that committed between the two reads stored what is still missing.
        nodes.update(fetch_nodes(session, needed - nodes.keys()))
    return compute(lambda level, idx: nodes[(level, idx)])


def _unbuilt(session: Session, size: int) -> dict[tuple[int, int], bytes]:
    """The nodes of the first ``size`` entries that ``log_nodes`` does not hold yet,
    computed from the entries' leaf hashes. The stored nodes always cover a prefix of the
    log, complete: each build stores all of a range's nodes in one transaction."""
    conn = session.connection()
    built = conn.execute(_BUILT).scalar() or 0
    if built >= size:
        return {}
    nodes = fetch_nodes(session, merkle.frontier(built))
    leaves = [bytes(h) for h in conn.execute(_LEAVES, {"start": built, "end": size}).scalars()]
    if len(leaves) != size - built:
        raise LookupError(f"the log holds fewer than {size} entries")
    return {(a["level"], a["idx"]): a["hash"] for a in _grow(nodes, built, leaves)}


def build_tree(session: Session) -> int:
    """Store the nodes of the entries appended since the last build (PostgreSQL appends
    leave them to this); returns how many were stored. Builders may run at once in several
    processes: the nodes are the same whoever computes them, so a conflict is skipped.

    Run it in a transaction of its own, never with an append: a builder waits for another
    builder's uncommitted nodes, and an append that waited for the head row meanwhile
    would close a cycle."""
    nodes = _unbuilt(session, size(session))
    if not nodes:
        return 0
    insert_ = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.connection().execute(
        insert_(_NODES).on_conflict_do_nothing(),
        [{"level": lv, "idx": i, "hash": h} for (lv, i), h in nodes.items()],
    )
    return len(nodes)


def root(session: Session, tree_size: int) -> bytes:
    """The Merkle root of the first ``tree_size`` entries."""
    return _with_nodes(session, tree_size, lambda node: merkle.root(tree_size, node))


def inclusion_proof(session: Session, index: int, tree_size: int) -> list[bytes]:
    return _with_nodes(
        session, tree_size, lambda node: merkle.inclusion_proof(index, tree_size, node)
    )


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    return _with_nodes(session, second, lambda node: merkle.consistency_proof(first, second, node))


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
