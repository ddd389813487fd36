"""Database engines: SQLite (WAL) by default, PostgreSQL by URL.

The web app uses the asynchronous drivers (aiosqlite, asyncpg or psycopg), the command
line the synchronous ones (sqlite3, psycopg); both come from the one configured URL.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.util import await_only

from exam.adapters.settings import Settings

_SYNC = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}
_ASYNC = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def _with_driver(url: str, table: dict[str, str], keep: tuple[str, ...]) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in table:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    if parsed.drivername in keep:
        return parsed
    return parsed.set(drivername=table[backend])


def sync_url(url: str) -> URL:
    """The URL with a synchronous driver (psycopg for PostgreSQL)."""
    return _with_driver(url, _SYNC, ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"))


def async_url(url: str) -> URL:
    """The URL with an asynchronous driver (asyncpg unless psycopg was asked for)."""
    return _with_driver(
        url, _ASYNC, ("sqlite+aiosqlite", "postgresql+asyncpg", "postgresql+psycopg")
    )


def _sqlite_pragmas(dbapi_connection, _record, busy_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _prepare(settings: Settings) -> None:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)


WRITE = "seleksi_write"


def begin_write(session: Session) -> None:
    """Begin the session's transaction as a writer. On SQLite this is ``BEGIN IMMEDIATE``:
    a deferred transaction that reads, then writes, fails or races when another request
    wrote in between; taking the write lock at BEGIN serialises such requests. Must come
    before the session's first statement; PostgreSQL ignores it (rows are locked with
    SELECT … FOR UPDATE there)."""
    session.connection(execution_options={WRITE: True})


def _wrapped(exc: sqlite3.Error, statement: str) -> DBAPIError:
    """The SQLAlchemy exception for a driver error (as SQLAlchemy's execution raises)."""
    return DBAPIError.instance(statement, None, exc, sqlite3.Error)


def _on_sqlite(engine: Engine, settings: Settings, busy_ms: int | None = None) -> None:
    """Pragmas on every SQLite connection; SQLAlchemy, not the driver, emits BEGIN, and
    emits BEGIN IMMEDIATE for writers (``begin_write``; SQLAlchemy's pysqlite recipe)."""
    if engine.url.get_backend_name() != "sqlite":
        return
    busy_ms = settings.sqlite_busy_timeout_ms if busy_ms is None else busy_ms

    def on_connect(dbapi_connection, record) -> None:
        _sqlite_pragmas(dbapi_connection, record, busy_ms)
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself

    raw = engine.dialect.driver == "pysqlite"

    def on_begin(connection) -> None:
        begin = "BEGIN IMMEDIATE" if connection.get_execution_options().get(WRITE) else "BEGIN"
        if not raw:
            connection.exec_driver_sql(begin)
            return
        # On sqlite3's connection itself: BEGIN starts every request's transaction, and
        # SQLAlchemy's statement execution costs more than SQLite's.
        try:
            connection.connection.driver_connection.execute(begin)
        except sqlite3.Error as exc:
            raise _wrapped(exc, begin) from exc

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)


class _WriteQueue:
    """One SQLite writer at a time within this process, queued in asyncio (first come,
    first served) before ``BEGIN IMMEDIATE``.

    SQLite has one writer per database. Left to itself, a second writer waits in SQLite's
    busy handler, which sleeps in growing steps (up to 100 ms at a time), so under load the
    answers queue in sleeps rather than in order. Waiting here instead costs nothing while
    the first writer works, and the writer holding the queue is woken the moment its
    predecessor's connection is returned. Readers (WAL) never wait. Other processes on the
    same file still meet in SQLite's own lock."""

    def __init__(self) -> None:
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            return self._locks.setdefault(loop, asyncio.Lock())

    def lock(self) -> asyncio.Lock:
        """The queue as a lock for a coroutine to hold (``async with``) while it writes
        through a connection of its own."""
        return self._lock()

    def acquire(self, record) -> None:
        lock = self._lock()
        await_only(lock.acquire())
        record.info["seleksi_write_lock"] = (lock, asyncio.get_running_loop())

    @staticmethod
    def release(record) -> None:
        held = record.info.pop("seleksi_write_lock", None)
        if held is None:
            return
        lock, loop = held
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            lock.release()
        else:
            loop.call_soon_threadsafe(lock.release)


_QUEUES: dict[str | None, _WriteQueue] = {}
_QUEUES_GUARD = threading.Lock()


def write_queue(engine: Engine) -> _WriteQueue:
    """The write queue of a SQLite database file, one per process: every engine on the
    same file (asynchronous, or synchronous on the event loop) queues in it."""
    with _QUEUES_GUARD:
        return _QUEUES.setdefault(engine.url.database, _WriteQueue())


def _queue_sqlite_writers(engine: Engine) -> None:
    if engine.url.get_backend_name() != "sqlite":
        return
    queue = write_queue(engine)

    def on_begin(connection) -> None:
        if connection.get_execution_options().get(WRITE, False):
            queue.acquire(connection.connection._connection_record)

    def on_checkin(dbapi_connection, record) -> None:
        _WriteQueue.release(record)

    def on_reset(dbapi_connection, record, reset_state) -> None:
        _WriteQueue.release(record)

    # Runs before the BEGIN IMMEDIATE of _on_sqlite (listeners run in order of listening).
    event.listen(engine, "begin", on_begin)
    event.listen(engine.pool, "checkin", on_checkin)
    event.listen(engine.pool, "reset", on_reset)


class _ThreadWriteLock:
    """The same queue for writers in worker threads (``exam.web.threaded``): a plain
    lock, which a worker thread may block on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def acquire(self, record) -> None:
        self._lock.acquire()
        record.info["seleksi_thread_write_lock"] = self._lock

    @staticmethod
    def release(record) -> None:
        lock = record.info.pop("seleksi_thread_write_lock", None)
        if lock is not None:
            lock.release()


def _queue_thread_writers(engine: Engine) -> None:
    if engine.url.get_backend_name() != "sqlite":
        return
    queue = _ThreadWriteLock()

    def on_begin(connection) -> None:
        if connection.get_execution_options().get(WRITE, False):
            queue.acquire(connection.connection._connection_record)

    def on_checkin(dbapi_connection, record) -> None:
        _ThreadWriteLock.release(record)

    def on_reset(dbapi_connection, record, reset_state) -> None:
        _ThreadWriteLock.release(record)

    event.listen(engine, "begin", on_begin)
    event.listen(engine.pool, "checkin", on_checkin)
    event.listen(engine.pool, "reset", on_reset)


def sync_engine(
    settings: Settings,
    serialize_writers: bool = False,
    pool_size: int = 5,
    busy_ms: int | None = None,
) -> Engine:
    """The synchronous engine. ``serialize_writers`` queues SQLite writers of this process
    on a lock (for worker threads; see ``_WriteQueue`` for why); ``busy_ms`` replaces the
    configured SQLite busy timeout."""
    _prepare(settings)
    url = sync_url(settings.resolved_database_url)
    engine = create_engine(
        url,
        # A ping before each use finds PostgreSQL connections a restart broke; a SQLite
        # file cannot go away like that, and the ping cost a statement per request.
        pool_pre_ping=url.get_backend_name() != "sqlite",
        pool_size=pool_size,
        max_overflow=pool_size,
    )
    if serialize_writers:
        _queue_thread_writers(engine)
    _on_sqlite(engine, settings, busy_ms)
    return engine


def async_engine(settings: Settings) -> AsyncEngine:
    _prepare(settings)
    engine = create_async_engine(async_url(settings.resolved_database_url), pool_pre_ping=True)
    _queue_sqlite_writers(engine.sync_engine)
    _on_sqlite(engine.sync_engine, settings)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
