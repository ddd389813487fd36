"""Server-side sessions with a fresh session id at every login.

Litestar's server-side backend keeps the id a client brings; giving out a new one at login
(and forgetting the old one) closes session fixation: an id planted before login is
worthless after it.
"""

from __future__ import annotations

import copy
import secrets

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Empty

SESSION_COOKIE = "seleksi_session"
SESSION_STORE = "sessions"
_ROTATED = "seleksi.session_id"
_LOADED = "seleksi.session_loaded"


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
        if unchanged:
            return
        await super().store_in_message(scope_session, message, connection)


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
