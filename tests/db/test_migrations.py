"""Migrations that carry data over, on both databases."""

from __future__ import annotations

import json
import uuid

import pytest
from advanced_alchemy.types import GUID
from sqlalchemy import bindparam, text

from exam.adapters import database, migrate
from exam.adapters.settings import Settings
from tests.conftest import _fresh_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request, tmp_path):
    """An engine on a database with no tables yet."""
    if request.param == "sqlite":
        engine = database.sync_engine(Settings(data_dir=tmp_path))
        yield engine
        engine.dispose()
        return
    url, drop = _fresh_pg_database(request.getfixturevalue("pg_server"))
    engine = database.sync_engine(Settings(data_dir=tmp_path, database_url=url))
    yield engine
    engine.dispose()
    drop()


def test_the_snapshot_hash_column_is_filled_for_exams_opened_before_it(empty_engine):
    migrate.upgrade(empty_engine, "0011")
    snapshot = {"items": [{"item_id": "TIU-1"}], "hash": "ab" * 32}
    insert = text(
        "INSERT INTO exams (code, title, status, definition, bank_snapshot, seed_hex, "
        "pseudonym_key_hex, created_at) VALUES (:code, 'T', :status, '{}', :snapshot, "
        "'00', '00', CURRENT_TIMESTAMP)"
    )
    with empty_engine.begin() as conn:
        conn.execute(insert, {"code": "OPEN", "status": "open", "snapshot": json.dumps(snapshot)})
        conn.execute(insert, {"code": "DRAFT", "status": "draft", "snapshot": None})
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT code, snapshot_sha256 FROM exams")).all())
    assert rows == {"OPEN": "ab" * 32, "DRAFT": None}


def test_sessions_open_during_the_upgrade_keep_their_account(empty_engine):
    migrate.upgrade(empty_engine, "0012")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, role, display_name, created_at)"
                " VALUES (7, 'peserta01', 'x', 'applicant', '', CURRENT_TIMESTAMP)"
            )
        )
        insert = text(
            "INSERT INTO web_sessions (id, key, namespace, value, expires_at) "
            "VALUES (:id, :key, 'sessions', :value, CURRENT_TIMESTAMP)"
        ).bindparams(bindparam("id", type_=GUID()))
        user = {"id": 7, "username": "peserta01", "role": "applicant", "display_name": ""}
        for n, (key, data) in enumerate(
            [("in", {"user": user}), ("anon", {"fresh_start": "X"}), ("junk", None)]
        ):
            value = json.dumps(data).encode() if data else b"\xff not json"
            conn.execute(insert, {"id": uuid.UUID(int=n + 1), "key": key, "value": value})
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT key, user_id, credentials_version FROM web_sessions ORDER BY key")
        ).all()
        version = conn.execute(text("SELECT credentials_version FROM users")).scalar()
    assert [tuple(r) for r in rows] == [("anon", None, None), ("in", 7, 0), ("junk", None, None)]
    assert version == 0
