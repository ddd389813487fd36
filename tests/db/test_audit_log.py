"""The audit log's append path and its append-only enforcement, on SQLite and PostgreSQL."""

import hashlib

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from proctoring import log
from proctoring.canonical import CanonicalError, canonical


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
    for statement in ("UPDATE log_entries SET entry = 'x'", "DELETE FROM log_entries"):
        with (
            session_maker() as session,
            pytest.raises((IntegrityError, OperationalError, DBAPIError), match="append-only"),
        ):
            session.execute(text(statement))
            session.commit()
    if settings.database_url:  # PostgreSQL: TRUNCATE too, even as a replica session
        with session_maker() as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("SET session_replication_role = replica"))
            session.execute(text("TRUNCATE log_entries"))
            session.commit()
    with session_maker() as session:
        assert log.size(session) == 1 and log.entries(session, 0, 1)[0].entry.startswith("{")
