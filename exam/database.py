"""Database engines: SQLite (WAL) by default, PostgreSQL by URL.

The web app uses the asynchronous drivers (aiosqlite, asyncpg or psycopg), the command
line the synchronous ones (sqlite3, psycopg); both come from the one configured URL.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from exam.settings import Settings, get_settings

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


def _on_sqlite(engine: Engine, settings: Settings) -> None:
    """Pragmas on every SQLite connection; SQLAlchemy, not the driver, emits BEGIN, and
    emits BEGIN IMMEDIATE for writers (``begin_write``; SQLAlchemy's pysqlite recipe)."""
    if engine.url.get_backend_name() != "sqlite":
        return

    def on_connect(dbapi_connection, record) -> None:
        _sqlite_pragmas(dbapi_connection, record, settings.sqlite_busy_timeout_ms)
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself

    def on_begin(connection) -> None:
        write = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)


def sync_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    _prepare(settings)
    engine = create_engine(sync_url(settings.resolved_database_url), pool_pre_ping=True)
    _on_sqlite(engine, settings)
    return engine


def async_engine(settings: Settings | None = None) -> AsyncEngine:
    settings = settings or get_settings()
    _prepare(settings)
    engine = create_async_engine(async_url(settings.resolved_database_url), pool_pre_ping=True)
    _on_sqlite(engine.sync_engine, settings)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
