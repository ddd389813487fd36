"""Alembic environment: the application's metadata and the configured database."""

from alembic import context

from exam.adapters.database import sync_engine, sync_url
from exam.adapters.models import WebSession
from exam.adapters.settings import get_settings
from itembank.models import Base
from proctoring.models import LogBase

target_metadata = [Base.metadata, WebSession.metadata, LogBase.metadata]


def run_migrations_offline() -> None:
    context.configure(
        url=sync_url(get_settings().resolved_database_url),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sync_engine(get_settings())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
