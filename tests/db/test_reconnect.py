"""The applicant path's pool does not ping a connection before each use (a round trip per
request). When PostgreSQL has dropped the connections (a restart), a request fails at its
first statement, before writing anything, and runs again once on a new connection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import anyio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from exam import database, migrate
from exam.settings import Settings
from exam.web.threaded import ThreadedDb
from proctoring import log
from tests.conftest import _fresh_pg_database


def _event(n: int) -> dict:
    return {"type": "test", "exam": "DEMO", "t": 1_700_000_000_000 + n, "n": n}


def _run(method, argument):
    """``await method(argument)`` on an event loop of its own, in a thread of its own (the
    test's thread may hold another test's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, method, argument).result()


def _drop_connections(admin_url: str, name: str) -> int:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        dropped = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        ).scalar()
    admin.dispose()
    return dropped


def test_a_request_on_a_dropped_connection_runs_again_once(pg_server, tmp_path):
    url, drop = _fresh_pg_database(pg_server)
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    db = ThreadedDb(settings)
    try:
        assert _run(db.run, lambda s: log.append(s, [_event(0)])) == [0]
        count = text("SELECT count(*) FROM log_entries")
        assert _run(db.read, lambda c: c.execute(count).scalar()) == 1
        assert _drop_connections(pg_server, make_url(url).database) >= 1

        runs = []

        def append(session):
            runs.append(len(runs))
            return log.append(session, [_event(1)])

        assert _run(db.run, append) == [1]
        assert runs == [0, 1]  # the first run met the dropped connection, the second wrote
        assert _drop_connections(pg_server, make_url(url).database) >= 1
        assert _run(db.read, lambda c: c.execute(count).scalar()) == 2
    finally:
        db.dispose()
        drop()
