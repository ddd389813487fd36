"""The applicant path's pool does not ping a connection before each use (a round trip per
request). When PostgreSQL has dropped the connections (a restart), a request fails at its
first statement, before writing anything, and runs again once on a new connection."""

from __future__ import annotations

import contextlib
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


class _Door:
    """A TCP relay to PostgreSQL that can be shut (every connection dropped, new ones
    refused, as while the server restarts) and opened again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        import socket

        self.target, self.socket = target, socket
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.listener = None
        self.open_sockets: list = []

    def open(self) -> None:
        import threading

        listener = self.socket.socket()
        listener.setsockopt(self.socket.SOL_SOCKET, self.socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = self.socket.create_connection(self.target)
            self.open_sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def shut(self) -> None:
        import socket

        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        for s in self.open_sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.open_sockets.clear()


def test_the_session_store_read_waits_for_a_restarting_database(pg_server, tmp_path):
    """While the database restarts its connections are dropped and new ones refused; the
    session store's read (on every request) tries again to connect until it is back."""
    import threading
    import time

    from exam.adapters.models import WebSession
    from exam.web.sessions import SessionStore

    url, drop = _fresh_pg_database(pg_server)
    real = make_url(url)
    door = _Door((real.host, real.port or 5432))
    door.open()
    relayed = real.set(host="127.0.0.1", port=door.port).render_as_string(hide_password=False)
    settings = Settings(data_dir=tmp_path / "data", database_url=relayed)
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    waited: list[float] = []

    async def scenario() -> None:
        db = ThreadedDb(settings)
        store = SessionStore(db, model=WebSession, namespace="sessions")
        try:
            await store.set("abc", b'{"x": 1}', expires_in=600)
            assert await store.get("abc") == b'{"x": 1}'
            door.shut()
            threading.Timer(1.0, door.open).start()
            start = time.monotonic()
            assert await store.get("abc") == b'{"x": 1}'
            waited.append(time.monotonic() - start)
        finally:
            await db.dispose()

    try:
        _run(scenario)
    finally:
        door.shut()
        drop()
    assert waited[0] >= 0.9  # it waited for the database rather than failing
