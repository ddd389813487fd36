"""Use cases on a synchronous database session: in a worker thread, or on SQLite on the
event loop itself.

The applicant's requests (start, read, answer, events, pages) call the pure core and a few
SQL statements. Through the asynchronous drivers every statement is several hand-offs
between the event loop and a driver thread (aiosqlite) or a greenlet switch per await;
measured under load (benchmarks/load.py) that overhead cost more than the statements. Here
the whole use case runs on a plain synchronous connection (sqlite3, psycopg).

PostgreSQL: in a worker thread, one hand-off per request; its statements wait on the
network and on row locks, which must not stop the event loop. Every statement is a round
trip, so none is spent that a request does not need: reads (one statement each) run
without BEGIN and ROLLBACK, and a connection is not pinged before each use. A connection
that a database restart broke fails at its first statement instead, inside a transaction
that wrote nothing, and the request runs again once on a new connection.

SQLite: on the event loop, with no hand-off at all. SQLite has one writer at a time, so
the writers of a process take turns anyway; in worker threads each turn also waited for
the interpreter lock (held by the event loop or another thread) after every statement,
which stretched every writer's turn and so limited the answers per second. A local SQLite
statement takes microseconds, and the use cases take the process's write queue
(``database.write_queue``, shared with the asynchronous engine's writers) before they
begin, so no writer of this process holds SQLite's lock meanwhile. The connection never
waits for SQLite's lock (busy timeout 0): when another process holds it, the use case is
rolled back and run again in a worker thread, which may wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from exam import database
from exam.settings import Settings

T = TypeVar("T")


class ThreadedDb:
    def __init__(self, settings: Settings) -> None:
        self.engine = database.sync_engine(
            settings, serialize_writers=True, pool_size=20, pre_ping=False
        )
        self.sessions = database.session_factory(self.engine)
        self.read_engine = self.store_engine = self.engine
        if self.engine.url.get_backend_name() == "postgresql":
            # A read is one statement: a transaction around it would cost two round trips.
            self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            # The session store's own writes (login, logout) do not run again after a
            # broken connection, so their connections are pinged before use.
            self.store_engine = database.sync_engine(settings, pool_size=5)
        self.limiter = anyio.CapacityLimiter(4)
        self.loop_engine = None
        if self.engine.url.get_backend_name() == "sqlite":
            # One use case at a time runs on the loop: two connections are plenty.
            self.loop_engine = database.sync_engine(settings, pool_size=2, busy_ms=0)
            self.loop_sessions = database.session_factory(self.loop_engine)
            self.queue = database.write_queue(self.loop_engine)

    async def run(
        self, use_case: Callable[[Session], T], commit_on: tuple[type[Exception], ...] = ()
    ) -> T:
        """``use_case(session)``, then commit. An exception rolls back, except those in
        ``commit_on``: what the use case changed before refusing (say, finishing an
        attempt whose deadline passed) is committed, then it is raised."""
        if self.loop_engine is not None:
            async with self.queue.lock():
                try:
                    return self._work(self.loop_sessions, use_case, commit_on)
                except OperationalError as exc:
                    if not _locked(exc):
                        raise
                # Another process writes: wait for it in a worker thread (still first in
                # this process's queue).
                return await self._in_thread(use_case, commit_on)
        return await self._in_thread(use_case, commit_on)

    async def read(self, query: Callable[[Connection], T]) -> T:
        """``query(connection)``, a read of one statement (on PostgreSQL it runs outside a
        transaction). On SQLite on the event loop without the write queue: a reader never
        waits for a writer."""
        if self.loop_engine is not None:
            try:
                return self._read(self.loop_engine, query)
            except OperationalError as exc:
                if not _locked(exc):
                    raise
        return await anyio.to_thread.run_sync(
            self._read, self.read_engine, query, limiter=self.limiter
        )

    @staticmethod
    def _read(engine: Engine, query):
        for retry in (True, False):
            with engine.connect() as connection:
                try:
                    return query(connection)
                except DBAPIError as exc:
                    if not (retry and exc.connection_invalidated):
                        raise
        raise AssertionError("unreachable")

    async def _in_thread(self, use_case, commit_on):
        return await anyio.to_thread.run_sync(
            self._work, self.sessions, use_case, commit_on, limiter=self.limiter
        )

    @staticmethod
    def _work(sessions, use_case, commit_on):
        for retry in (True, False):
            with sessions() as session:
                try:
                    result = use_case(session)
                except commit_on:
                    session.commit()
                    raise
                except DBAPIError as exc:
                    # A broken connection (the database restarted) before the commit: its
                    # transaction wrote nothing, so the use case runs again, once.
                    if retry and exc.connection_invalidated:
                        continue
                    raise
                session.commit()
                return result
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()
        if self.store_engine is not self.engine:
            self.store_engine.dispose()
        if self.loop_engine is not None:
            self.loop_engine.dispose()


def _locked(exc: OperationalError) -> bool:
    """SQLite's "database is locked" (or busy): nothing was written."""
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text
