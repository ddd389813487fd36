"""The audit log's append path and its append-only enforcement, on SQLite and PostgreSQL."""

import asyncio
import hashlib

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from exam.adapters import database
from proctoring import checkpoints, log, merkle
from proctoring.canonical import CanonicalError, canonical
from proctoring.note import Signer, open_checkpoint
from proctoring.web import log_feed


def event(i: int) -> dict:
    return {"type": "test", "exam": "DEMO", "t": 1_700_000_000_000 + i, "n": i}


def test_append_numbers_entries_gaplessly_and_hashes_the_canonical_bytes(session_maker):
    with session_maker() as session, session.begin():
        assert log.append(session, [event(0), event(1)]) == [0, 1]
    with session_maker() as session, session.begin():
        assert log.append(session, [event(2)]) == [2]
    with session_maker() as session:
        rows = log.entries(session, 0, 10)
        assert [r.index for r in rows] == [0, 1, 2] and log.size(session) == 3
        assert rows[2].entry == '{"exam":"DEMO","n":2,"t":1700000000002,"type":"test"}'
        assert rows[2].leaf_hash == hashlib.sha256(b"\x00" + rows[2].entry.encode()).digest()


def test_a_rolled_back_append_leaves_no_gap(session_maker):
    with session_maker() as session:
        session.begin()
        log.append(session, [event(0)])
        session.rollback()
    with session_maker() as session, session.begin():
        assert log.append(session, [event(1)]) == [0]


def test_entries_need_the_required_fields_and_no_floats():
    with pytest.raises(CanonicalError):
        canonical({"type": "x", "exam": "E", "t": 1, "theta": 0.5})
    assert canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


def test_the_database_refuses_to_change_or_delete_entries(session_maker, settings):
    with session_maker() as session, session.begin():
        log.append(session, [event(0)])
    with session_maker() as session, session.begin():
        log.build_tree(session)
        checkpoints.sign(session, Signer.generate("test.example/log"), "test.example/log", "test")
    statements = [
        f"{verb} {table}"
        for table in ("log_entries", "log_nodes", "log_checkpoints")
        for verb in ("DELETE FROM",)
    ] + [
        "UPDATE log_entries SET entry = 'x'",
        "UPDATE log_nodes SET hash = hash",
        "UPDATE log_checkpoints SET note = 'x'",
    ]
    for statement in statements:
        with (
            session_maker() as session,
            pytest.raises((IntegrityError, OperationalError, DBAPIError), match="append-only"),
        ):
            session.execute(text(statement))
            session.commit()
    if settings.database_url:  # PostgreSQL: TRUNCATE too, even as a replica session
        for table in ("log_entries", "log_nodes", "log_checkpoints"):
            with session_maker() as session, pytest.raises(DBAPIError, match="append-only"):
                session.execute(text("SET session_replication_role = replica"))
                session.execute(text(f"TRUNCATE {table}"))
                session.commit()
    with session_maker() as session:
        assert log.size(session) == 1 and log.entries(session, 0, 1)[0].entry.startswith("{")


def test_stored_nodes_give_the_rfc_root_and_proofs_as_the_log_grows(session_maker):
    texts = []
    for batch in ([0], [1, 2], [3], [4, 5, 6, 7, 8], [9], list(range(10, 23))):
        with session_maker() as session, session.begin():
            log.append(session, [event(i) for i in batch])
        texts += [canonical(event(i)) for i in batch]
    leaves = [merkle.leaf_hash(t.encode()) for t in texts]
    nodes = merkle.nodes_for_leaves(leaves)

    def node(level, i):
        return nodes[(level, i)]

    with session_maker() as session:
        for size in (1, 2, 7, 16, 23):
            assert log.root(session, size) == merkle.root(size, node)
        assert log.inclusion_proof(session, 5, 23) == merkle.inclusion_proof(5, 23, node)
        assert log.consistency_proof(session, 9, 23) == merkle.consistency_proof(9, 23, node)


def test_the_tree_built_in_parts_gives_the_same_roots_and_proofs(session_maker):
    """Appends may leave the inner nodes to a later build (PostgreSQL does): proofs past
    the built tree are computed from the leaf hashes, and a build stores exactly the whole
    tree's nodes, each once."""
    texts = []

    def grow(batches):
        for batch in batches:
            with session_maker() as session, session.begin():
                log.append(session, [event(i) for i in batch])
            texts.extend(canonical(event(i)) for i in batch)

    grow([[0, 1, 2], [3, 4]])
    with session_maker() as session, session.begin():
        log.build_tree(session)
    grow([[5], list(range(6, 13))])
    nodes = merkle.nodes_for_leaves(log.leaf_hash(t) for t in texts)

    def node(level, i):
        return nodes[(level, i)]

    with session_maker() as session:
        assert log.root(session, 13) == merkle.root(13, node)
        assert log.inclusion_proof(session, 11, 13) == merkle.inclusion_proof(11, 13, node)
        assert log.consistency_proof(session, 5, 13) == merkle.consistency_proof(5, 13, node)
    for _ in range(2):  # the second build finds nothing left to store
        with session_maker() as session, session.begin():
            log.build_tree(session)
    with session_maker() as session:
        stored = session.execute(text("SELECT level, idx, hash FROM log_nodes")).all()
        assert sorted((lv, i) for lv, i, _ in stored) == sorted(nodes)
        assert {(lv, i): bytes(h) for lv, i, h in stored} == nodes
        assert log.build_tree(session) == 0


def test_indexed_rows_record_the_first_entry_index_in_the_same_transaction(session_maker):
    from sqlalchemy import Column, Integer, MetaData, String, Table

    table = Table(
        "indexed_probe",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("note", String(16)),
        Column("log_index", Integer),
    )
    with session_maker() as session, session.begin():
        table.create(session.connection())
        log.append(session, [event(0)])
    with session_maker() as session, session.begin():
        assert log.append(session, [event(1), event(2)], [(table, {"note": "a"})]) == [1, 2]
    with session_maker() as session:
        session.begin()
        log.append(session, [event(3)], [(table, {"note": "rolled back"})])
        session.rollback()
    with session_maker() as session:
        assert session.execute(text("SELECT note, log_index FROM indexed_probe")).all() == [
            ("a", 1)
        ]
        assert log.size(session) == 3


def test_updated_rows_change_only_their_row_in_the_appends_transaction(session_maker):
    from datetime import UTC, datetime

    from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, String, Table, select

    table = Table(
        "updated_probe",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("note", String(16)),
        Column("blob", LargeBinary),
        Column("at", DateTime(timezone=True)),
    )
    at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    with session_maker() as session, session.begin():
        table.create(session.connection())
        session.execute(table.insert(), [{"id": 1, "note": "one"}, {"id": 2, "note": "two"}])
    with session_maker() as session, session.begin():
        change = (table, 2, {"note": "changed", "blob": b"\x00\x01", "at": at})
        assert log.append(session, [event(0)], updated_rows=[change]) == [0]
    with session_maker() as session:
        session.begin()
        log.append(session, [event(1)], updated_rows=[(table, 1, {"note": "rolled back"})])
        session.rollback()
    with session_maker() as session:
        rows = session.execute(select(table).order_by(table.c.id))
        [(_, one, none, never), (_, two, blob, when)] = rows.all()
        assert (one, none, never) == ("one", None, None)
        assert (two, bytes(blob)) == ("changed", b"\x00\x01")
        assert when.replace(tzinfo=when.tzinfo or UTC) == at
        assert log.size(session) == 1


def test_a_signed_checkpoint_commits_to_the_root(session_maker):
    signer = Signer.generate("test.example/log")
    with session_maker() as session, session.begin():
        log.append(session, [event(i) for i in range(5)])
        note = checkpoints.sign(session, signer, "test.example/log", "exam_open")
    with session_maker() as session:
        cp = open_checkpoint(note, signer.verifier, "test.example/log")
        assert cp.size == 5 and cp.root == log.root(session, 5)
        assert checkpoints.latest(session).note == note
    with session_maker() as session, session.begin():  # nothing new: the same checkpoint
        assert checkpoints.sign(session, signer, "test.example/log", "periodic") == note


def test_the_migration_computes_nodes_for_entries_logged_before_it(tmp_path):
    from exam.adapters import database, migrate
    from exam.adapters.settings import Settings

    engine = database.sync_engine(Settings(data_dir=tmp_path))
    migrate.upgrade(engine, "0006")
    texts = [canonical(event(i)) for i in range(13)]
    with engine.begin() as conn:
        for i, t in enumerate(texts):
            conn.execute(
                text(
                    'INSERT INTO log_entries ("index", entry, leaf_hash, appended_at) '
                    "VALUES (:i, :e, :h, CURRENT_TIMESTAMP)"
                ),
                {"i": i, "e": t, "h": log.leaf_hash(t)},
            )
        conn.execute(text("UPDATE log_head SET size = 13"))
    migrate.upgrade(engine)
    nodes = merkle.nodes_for_leaves(log.leaf_hash(t) for t in texts)
    with database.session_factory(engine)() as session:
        assert log.root(session, 13) == merkle.root(13, lambda lv, i: nodes[(lv, i)])
        assert log.append(session, [event(13)]) == [13]
    engine.dispose()


def test_a_rolled_back_append_never_leaves_its_nodes_behind(session_maker):
    """The next append may reuse the tree's edge this process remembers; after a rollback
    at the same size, the new entries must still hash as the database has them."""
    with session_maker() as session, session.begin():
        log.append(session, [event(i) for i in range(5)])
    with session_maker() as session:
        session.begin()
        log.append(session, [event(100), event(101)])
        session.rollback()
    with session_maker() as session, session.begin():
        log.append(session, [event(5), event(6)])
    with session_maker() as session, session.begin():
        log.append(session, [event(7)])
    texts = [canonical(event(i)) for i in range(8)]
    nodes = merkle.nodes_for_leaves(log.leaf_hash(t) for t in texts)
    with session_maker() as session:
        assert log.root(session, 8) == merkle.root(8, lambda lv, i: nodes[(lv, i)])
        assert [e.entry for e in log.entries(session, 0, 8)] == texts


def test_a_proof_meets_a_build_that_commits_while_it_reads(pg_server, pg_migrated, monkeypatch):
    """PostgreSQL leaves the nodes to a build: a proof that found them missing, then saw a
    build commit before it looked for what to compute, still gets every node it needs."""
    from exam.adapters import database
    from exam.adapters.settings import Settings
    from tests.conftest import _fresh_pg_database

    url, drop = _fresh_pg_database(pg_server, template=pg_migrated)
    engine = database.sync_engine(Settings(database_url=url))
    maker = database.session_factory(engine)
    try:
        with maker() as session, session.begin():
            log.append(session, [event(i) for i in range(8)])
        with maker() as session, session.begin():
            log.build_tree(session)
        with maker() as session, session.begin():
            log.append(session, [event(i) for i in range(8, 16)])
        unbuilt = log._unbuilt

        def build_first(session, size):
            monkeypatch.setattr(log, "_unbuilt", unbuilt)  # once, and not for the build
            with maker() as other, other.begin():
                assert log.build_tree(other) > 0
            return unbuilt(session, size)

        monkeypatch.setattr(log, "_unbuilt", build_first)
        nodes = merkle.nodes_for_leaves(log.leaf_hash(canonical(event(i))) for i in range(16))
        with maker() as session:
            proof = log.inclusion_proof(session, 15, 16)
        assert proof == merkle.inclusion_proof(15, 16, lambda lv, i: nodes[(lv, i)])
    finally:
        engine.dispose()
        drop()


def test_a_running_log_builds_its_tree_every_second_between_checkpoints(
    settings, session_maker, monkeypatch
):
    """On PostgreSQL an append leaves the nodes to a builder: the server builds them a
    second's entries at a time, not all of a checkpoint interval's at once (a long build
    holds the event loop); on SQLite the append stores them itself."""
    monkeypatch.setattr(log_feed, "TREE_BUILD_INTERVAL_S", 0.05)
    with session_maker() as session, session.begin():
        log.append(session, [event(0)])
    feed = log_feed.LogFeed(
        database.async_engine(settings), settings.log_signer(), settings.log_origin, 3600.0
    )

    def nodes() -> int:
        with session_maker() as session:
            return session.execute(text("SELECT count(*) FROM log_nodes")).scalar()

    async def run() -> tuple[int, int, set[str]]:
        await feed.start()  # signs the startup checkpoint: every node so far is built
        try:
            with session_maker() as session, session.begin():
                log.append(session, [event(i) for i in range(1, 9)])
            before = nodes()
            await asyncio.sleep(0.5)  # no checkpoint in between: the interval is an hour
            return before, nodes(), {t.get_name() for t in feed._tasks}
        finally:
            await feed.stop()
            await feed.engine.dispose()

    before, after, tasks = asyncio.run(run())
    assert after == len(
        merkle.nodes_for_leaves(log.leaf_hash(canonical(event(i))) for i in range(9))
    )
    if settings.database_url and settings.database_url.startswith("postgresql"):
        assert "log-tree" in tasks and before < after
    else:
        assert "log-tree" not in tasks and before == after
