"""The applicant path's pool does not ping a connection before each use (a round trip per
request). When PostgreSQL has dropped the connections (a restart), a request fails at its
first statement, before writing anything, and runs again once on a new connection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import anyio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from exam.adapters import database, migrate
from exam.adapters.settings import Settings
from exam.web.threaded import ThreadedDb
from proctoring import log
from tests.conftest import _fresh_pg_database


def _event(n: int) -> dict:
    return {"type": "test", "exam": "DEMO", "t": 1_700_000_000_000 + n, "n": n}


def _run(scenario) -> None:
    """``await scenario()`` on an event loop of its own, in a thread of its own (the test's
    thread may hold another test's loop)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, scenario).result()


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
    name = make_url(url).database
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    count = text("SELECT count(*) FROM log_entries")
    runs = []

    def append(session):
        runs.append(len(runs))
        return log.append(session, [_event(1)])

    async def scenario() -> None:
        db = ThreadedDb(settings)
        try:
            assert await db.run(lambda s: log.append(s, [_event(0)])) == [0]
            assert await db.read(lambda c: c.execute(count).scalar()) == 1
            assert _drop_connections(pg_server, name) >= 2  # the writer's and the reader's
            assert await db.run(append) == [1]
            # The first run met the dropped connection, the second wrote.
            assert runs == [0, 1]
            assert _drop_connections(pg_server, name) >= 1
            assert await db.read(lambda c: c.execute(count).scalar()) == 2
        finally:
            await db.dispose()

    try:
        _run(scenario)
    finally:
        drop()
