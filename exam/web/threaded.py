"""Use cases on a synchronous SQLAlchemy session, run where they cost the least: on
PostgreSQL and on SQLite on the event loop itself, on SQLite in a worker thread only while
another process holds the database.

The applicant's requests (start, read, answer, events, pages) call the pure core and a few
SQL statements. The use cases are plain synchronous functions of a ``Session``; where they
run is decided here.

PostgreSQL: on the event loop, through asyncpg. ``AsyncSession.run_sync`` runs the
synchronous use case in a greenlet, and each statement waits for the database without
holding up the loop. Measured under load (benchmarks/load.py, 500 applicants, 1 worker) this
served 40 % more answers than worker threads: a thread waiting for its next statement's
reply also waited for the interpreter lock, held by the loop or another thread, before it
could go on. Every statement is a round trip, so none is spent that a request does not
need: reads (one statement each) run without BEGIN and ROLLBACK, and a connection is not
pinged before each use. A connection that a database restart broke fails at its first
statement instead, inside a transaction that wrote nothing, and the request runs again once
on a new connection.

SQLite: on the event loop, with the synchronous driver (a local SQLite statement takes
microseconds; aiosqlite's thread hand-off per statement cost more than the statement). SQLite has
one writer at a time, so the writers of a process take turns anyway; in worker threads each
turn also waited for the interpreter lock after every statement, which stretched every
writer's turn and so limited the answers per second. The use cases take the process's write
queue (``database.write_queue``, shared with the asynchronous engine's writers) before they
begin, so no writer of this process holds SQLite's lock meanwhile. The connection never
waits for SQLite's lock (busy timeout 0): when another process holds it, the use case is
rolled back and run again in a worker thread, which may wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import anyio
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from exam.adapters import database
from exam.adapters.settings import Settings

T = TypeVar("T")

#: How long a request may wait for a pooled connection (an hour: in effect, its turn).
_WAIT_S = 3600.0
#: How long a read tries again to connect while the database restarts.
_RECONNECT_S = 15.0
logger = logging.getLogger("exam.web")


class ThreadedDb:
    def __init__(self, settings: Settings) -> None:
        self.async_engine = self.async_read_engine = self.loop_engine = None
        if database.sync_url(settings.resolved_database_url).get_backend_name() == "postgresql":
            url = database.async_url(settings.resolved_database_url)
            # Under overload a request waits its turn for a connection, however long: the
            # client gives up on its own and sends the same (idempotent) request again. With
            # SQLAlchemy's default of 30 s it got a 500 instead (benchmarks/load.py, 2,000
            # applicants).
            wait = {"pool_timeout": _WAIT_S}
            # Every answer's transaction ends on the log's head row, one after another;
            # more transactions at once only wait for that row inside PostgreSQL, holding
            # their connections (measured: 10 or 20 served fewer answers than 4).
            self.async_engine = create_async_engine(url, pool_size=4, max_overflow=0, **wait)
            # A read is one statement: a transaction around it would cost two round trips.
            # Reads have connections of their own, so they never wait behind the writers.
            self.async_read_engine = create_async_engine(
                url, pool_size=8, max_overflow=0, isolation_level="AUTOCOMMIT", **wait
            )
            # The session store's own writes (login, logout) do not run again after a
            # broken connection, so their connections are pinged before use.
            self.store_engine = database.sync_engine(settings, pool_size=5)
            return
        # SQLite. One use case at a time runs on the loop: two connections are plenty.
        self.loop_engine = database.sync_engine(settings, pool_size=2, busy_ms=0)
        self.loop_sessions = database.session_factory(self.loop_engine)
        self.queue = database.write_queue(self.loop_engine)
        # Worker threads wait for another process's write (and run the session store).
        self.store_engine = database.sync_engine(settings, serialize_writers=True, pool_size=20)
        self.sessions = database.session_factory(self.store_engine)
        self.limiter = anyio.CapacityLimiter(4)

    async def run(
        self, use_case: Callable[[Session], T], commit_on: tuple[type[Exception], ...] = ()
    ) -> T:
        """``use_case(session)``, then commit. An exception rolls back, except those in
        ``commit_on``: what the use case changed before refusing (say, finishing an
        attempt whose deadline passed) is committed, then it is raised."""
        if self.async_engine is not None:
            return await self._on_loop(use_case, commit_on)
        async with self.queue.lock():
            try:
                return self._work(self.loop_sessions, use_case, commit_on)
            except OperationalError as exc:
                if not _locked(exc):
                    raise
            # Another process writes: wait for it in a worker thread (still first in this
            # process's queue).
            return await anyio.to_thread.run_sync(
                self._work, self.sessions, use_case, commit_on, limiter=self.limiter
            )

    async def write(
        self, use_case: Callable[[Session], T], commit_on: tuple[type[Exception], ...] = ()
    ) -> T:
        """``run`` as a writer: the transaction begins as one (``database.begin_write``:
        BEGIN IMMEDIATE on SQLite), so the use case's first read already holds the write
        lock and no other writer comes between its reads and its writes."""
        return await self.run(_as_writer(use_case), commit_on)

    async def read(self, query: Callable[[Connection], T]) -> T:
        """``query(connection)``, a read of one statement (on PostgreSQL it runs outside a
        transaction). On SQLite on the event loop without the write queue: a reader never
        waits for a writer."""
        if self.async_read_engine is not None:
            for retry in (True, False):
                connection = await self._read_connection()
                try:
                    return await connection.run_sync(query)
                except DBAPIError as exc:
                    if not (retry and exc.connection_invalidated):
                        raise
                finally:
                    await connection.close()
        try:
            return self._read(self.loop_engine, query)
        except OperationalError as exc:
            if not _locked(exc):
                raise
        return await anyio.to_thread.run_sync(
            self._read, self.store_engine, query, limiter=self.limiter
        )

    async def _read_connection(self) -> AsyncConnection:
        """A connection for a read. While PostgreSQL restarts, a new connection is refused
        (by the socket, or by the server while it starts or stops); nothing ran yet, so it
        is tried again, waiting longer each time, for up to ``_RECONNECT_S``. The session
        store reads on every request: without this, the requests of a restart's seconds
        got 500."""
        delay, waited = 0.05, 0.0
        while True:
            connection = self.async_read_engine.connect()
            try:
                return await connection.start()
            except (OSError, DBAPIError) as exc:
                if waited >= _RECONNECT_S:
                    raise
                logger.warning("database connect failed, trying again: %s", exc)
            await anyio.sleep(delay)
            waited += delay
            delay = min(2 * delay, 1.0)

    @staticmethod
    def _read(engine: Engine, query):
        with engine.connect() as connection:
            return query(connection)

    async def _on_loop(self, use_case, commit_on):
        for retry in (True, False):
            async with AsyncSession(self.async_engine, expire_on_commit=False) as session:
                try:
                    return await session.run_sync(_once, _marking_broken(use_case), commit_on)
                except _BrokenBeforeCommitError as exc:
                    if not retry:
                        raise exc.__cause__ from None
        raise AssertionError("unreachable")

    @staticmethod
    def _work(sessions, use_case, commit_on):
        with sessions() as session:
            return _once(session, use_case, commit_on)

    async def dispose(self) -> None:
        self.store_engine.dispose()
        if self.loop_engine is not None:
            self.loop_engine.dispose()
        for engine in (self.async_engine, self.async_read_engine):
            if engine is not None:
                await engine.dispose()


class _BrokenBeforeCommitError(Exception):
    """The use case's connection broke (the database restarted) before the commit: its
    transaction wrote nothing, so it may run again."""


def _marking_broken(use_case: Callable[[Session], T]) -> Callable[[Session], T]:
    """``use_case``, raising ``_BrokenBeforeCommitError`` where its connection broke; the
    commit that follows is outside it, and is never run again (it may have happened)."""

    def run(session: Session) -> T:
        try:
            return use_case(session)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise _BrokenBeforeCommitError from exc
            raise

    return run


def _as_writer(use_case):
    def begin_then(session: Session):
        database.begin_write(session)
        return use_case(session)

    return begin_then


def _once(session: Session, use_case, commit_on):
    """``use_case(session)`` and the commit (see ``ThreadedDb.run``)."""
    try:
        result = use_case(session)
    except commit_on:
        session.commit()
        raise
    session.commit()
    return result


def _locked(exc: OperationalError) -> bool:
    """SQLite's "database is locked" (or busy): nothing was written."""
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text
