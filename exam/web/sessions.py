"""Server-side sessions with a fresh session id at every login.

Litestar's server-side backend keeps the id a client brings; giving out a new one at login
(and forgetting the old one) closes session fixation: an id planted before login is
worthless after it.
"""

from __future__ import annotations

import secrets

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)

SESSION_COOKIE = "seleksi_session"
SESSION_STORE = "sessions"
_ROTATED = "seleksi.session_id"


class RotatingSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection) -> str:
        return connection.scope.get(_ROTATED) or super().get_session_id(connection)  # type: ignore[return-value]


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
