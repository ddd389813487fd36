"""Migrations that carry data over, on both databases."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from exam import database, migrate
from exam.settings import Settings
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
