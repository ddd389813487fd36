"""Server-side sessions with a fresh session id at every login, ended by new credentials.

Litestar's server-side backend keeps the id a client brings; giving out a new one at login
(and forgetting the old one) closes session fixation: an id planted before login is
worthless after it.

A session row names its account and the account's credentials count at login
(``User.credentials_version``); the store's read compares it with the account's, so new
credentials end every older session in every worker, at once and for good: a request
already under way that rewrites its session writes the old count again.
"""

from __future__ import annotations

import copy
import json
import secrets
from datetime import UTC, datetime, timedelta

import anyio
from advanced_alchemy.extensions.litestar import SQLAlchemySyncConfig
from advanced_alchemy.extensions.litestar.store import SQLAlchemyStore, StoreModelMixin
from advanced_alchemy.operations import OnConflictUpsert
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Empty
from sqlalchemy import bindparam, select

from exam.adapters.models import User
from exam.adapters.security import SESSION_ENDED
from exam.web.threaded import ThreadedDb

SESSION_COOKIE = "seleksi_session"
SESSION_STORE = "sessions"
_ROTATED = "seleksi.session_id"
_LOADED = "seleksi.session_loaded"
#: What the store gives for a session that new credentials ended, instead of its data.
ENDED = json.dumps({SESSION_ENDED: "credentials_reset"}).encode()


class RotatingSessionBackend(ServerSideSessionBackend):
    """Renews the id at login (``rotate_session``) and writes the store only when the
    session changed: Litestar's backend rewrites it on every response, which would add a
    write to every request (and, on SQLite, wait behind the request's own transaction)."""

    def get_session_id(self, connection: ASGIConnection) -> str:
        return connection.scope.get(_ROTATED) or super().get_session_id(connection)  # type: ignore[return-value]

    async def load_from_connection(self, connection: ASGIConnection) -> dict:
        data = await super().load_from_connection(connection)
        connection.scope[_LOADED] = copy.deepcopy(data)  # type: ignore[literal-required]
        return data

    async def store_in_message(self, scope_session, message, connection: ASGIConnection) -> None:
        scope = connection.scope
        unchanged = (
            _ROTATED not in scope
            and connection.cookies.get(self.config.key)
            and scope_session is not Empty
            and scope.get(_LOADED) == scope_session
        )
        # An anonymous visitor with nothing in the session (the public pages, the log's API,
        # an observer's verifier) gets no session row: reads stay reads.
        nothing = (
            _ROTATED not in scope
            and not connection.cookies.get(self.config.key)
            and (scope_session is Empty or not scope_session)
        )
        if unchanged or nothing:
            return
        await super().store_in_message(scope_session, message, connection)


class SessionStore(SQLAlchemyStore):
    """advanced-alchemy's store on the synchronous engine, whose read (on every request)
    is one plain SELECT through ``ThreadedDb.read``: on SQLite on the event loop, with
    no hand-off to a thread; the ORM session and the thread hand-off of the store's own
    read cost more than the statement. Deletes and expiry are the store's own.

    The read joins the session's account, and gives ``ENDED`` for a session whose
    credentials count is not the account's; a write records the account and count the
    session holds (the store's own write knows only key and value)."""

    def __init__(self, db: ThreadedDb, model: type[StoreModelMixin], namespace: str) -> None:
        super().__init__(
            SQLAlchemySyncConfig(engine_instance=db.store_engine, create_all=False),
            model=model,
            namespace=namespace,
        )
        self._db = db
        self._table = table = model.__table__
        users = User.__table__
        self._read = (
            select(
                table.c.value,
                table.c.user_id,
                table.c.credentials_version,
                users.c.credentials_version.label("current"),
            )
            .select_from(table.outerjoin(users, users.c.id == table.c.user_id))
            .where(
                table.c.key == bindparam("key"),
                table.c.namespace == bindparam("namespace"),
                table.c.expires_at.is_(None) | (table.c.expires_at > bindparam("now")),
            )
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        params = {"key": key, "namespace": self.namespace, "now": datetime.now(UTC)}
        row = await self._db.read(lambda c: c.execute(self._read, params).first())
        if row is None:
            return None
        if row.user_id is not None and row.credentials_version != row.current:
            return ENDED  # (also when the account is gone: current is None)
        if renew_for:
            await super().get(key, renew_for)
        return row.value

    async def set(
        self, key: str, value: bytes | str, expires_in: int | timedelta | None = None
    ) -> None:
        data = value if isinstance(value, bytes) else value.encode()
        user = _account_of(data)
        if isinstance(expires_in, int):
            expires_in = timedelta(seconds=expires_in)
        row = {
            "key": key,
            "namespace": self.namespace,
            "value": data,
            "expires_at": datetime.now(UTC) + expires_in if expires_in else None,
            "user_id": user.get("id"),
            "credentials_version": user.get("credentials_version", 0) if user else None,
        }
        engine = self._db.store_engine
        upsert = OnConflictUpsert.create_upsert(
            table=self._table,
            values=row,
            conflict_columns=["key", "namespace"],
            update_columns=["value", "expires_at", "user_id", "credentials_version"],
            dialect_name=engine.dialect.name,
        )

        def write() -> None:
            with engine.begin() as connection:
                connection.execute(upsert)

        await anyio.to_thread.run_sync(write)


def _account_of(data: bytes) -> dict:
    """The ``user`` a serialized session holds (``exam.web.auth`` writes it at login)."""
    try:
        user = json.loads(data).get("user")
    except (ValueError, AttributeError):
        return {}
    return user if isinstance(user, dict) and isinstance(user.get("id"), int) else {}


class SessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend  # type: ignore[assignment]


async def rotate_session(request: Request) -> str:
    """Forget the client's current session and use a new id for the rest of the request;
    returns the new id."""
    old = request.cookies.get(SESSION_COOKIE)
    if old and old != "null":
        await drop_session(request, old)
    new = secrets.token_hex(32)
    request.scope[_ROTATED] = new  # type: ignore[literal-required]
    return new


async def drop_session(request: Request, session_id: str) -> None:
    """End a session wherever it is used (its next request is anonymous)."""
    await request.app.stores.get(SESSION_STORE).delete(session_id)
