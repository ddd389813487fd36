"""Shared fixtures: databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from exam.adapters import database, migrate
from exam.adapters.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "SELEKSI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any connection failure means: no PostgreSQL here
        return f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The admin URL of a reachable PostgreSQL; in CI its absence is a failure."""
    why = _pg_available()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return PG_ADMIN_URL


def _fresh_pg_database(admin_url: str, template: str | None = None) -> tuple[str, callable]:
    """A new, empty database (or a copy of ``template``) and the function that drops it."""
    name = f"seleksi_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(scope="session")
def pg_migrated(pg_server, tmp_path_factory) -> str:
    """A migrated PostgreSQL database that each test's database is copied from: a copy
    (CREATE DATABASE … TEMPLATE) takes a fraction of the time the migrations take."""
    url, drop = _fresh_pg_database(pg_server)
    engine = database.sync_engine(
        Settings(data_dir=tmp_path_factory.mktemp("template"), database_url=url)
    )
    migrate.upgrade(engine)
    engine.dispose()  # a template may have no connections while it is copied
    yield url.rsplit("/", 1)[1]
    drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path) -> Settings:
    """Settings for a fresh, migrated database of each kind."""
    if request.param == "sqlite":
        s = Settings(data_dir=tmp_path / "data")
        migrate.upgrade(database.sync_engine(s))
        yield s
        return
    admin = request.getfixturevalue("pg_server")
    url, drop = _fresh_pg_database(admin, template=request.getfixturevalue("pg_migrated"))
    yield Settings(data_dir=tmp_path / "data", database_url=url)
    drop()


@pytest.fixture
def session_maker(settings):
    engine = database.sync_engine(settings)
    yield database.session_factory(engine)
    engine.dispose()
