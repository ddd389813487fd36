"""Passwords, the logged-in user, and the guards that protect every route.

Passwords are hashed with argon2id (argon2-cffi), off the event loop. Guards are tiny
functions: an anonymous request gets 401 (from the session middleware), a wrong role 403.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exam.adapters.models import User, WebSession
from exam.adapters.settings import Settings


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user as handlers see it (no password hash)."""

    id: int
    username: str
    role: str
    display_name: str
    #: The account's ``User.credentials_version`` when this session logged in.
    credentials_version: int = 0


def password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib, parallelism=1
    )


#: How much lower the password threads' scheduling priority is than the server's (nice).
PASSWORD_NICENESS = 10


def _lower_priority() -> None:
    """Lower this thread's priority (on Linux ``setpriority`` on a thread id applies to
    that thread alone); where it cannot, the thread keeps the process's priority."""
    try:
        tid = threading.get_native_id()
        now = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, now + PASSWORD_NICENESS))
    except (AttributeError, OSError):
        pass


class PasswordChecker:
    """Checks passwords in worker threads of their own, as many at once as the process may
    use cores: argon2 is slow on purpose and releases the interpreter lock, so more at once
    would only hold more memory (``memory_cost`` each) and finish none sooner.

    The threads run at a lower priority than the event loop (``PASSWORD_NICENESS``): when a
    whole test site logs in while others already answer, the cores go to the answers first
    and the logins take what is left, instead of every request waiting behind the hashes.
    A login is slower then; an answer is not."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self.executor = ThreadPoolExecutor(
            max_workers=len(os.sched_getaffinity(0)),
            thread_name_prefix="passwords",
            initializer=_lower_priority,
        )
        self._dummy: str | None = None

    def _check(self, stored: str | None, password: str) -> bool:
        try:
            if stored is None:
                # Spend the same time as a real check, so a wrong username is not faster.
                if self._dummy is None:
                    self._dummy = self.hasher.hash("x")
                self.hasher.verify(self._dummy, password)
                return False
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """True when ``password`` matches the ``stored`` hash (None: no such account)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._check, stored, password)


#: The key of what the session store gives for a session that new credentials ended
#: (``exam.web.sessions.SessionStore``).
SESSION_ENDED = "ended"
SESSION_ENDED_DETAIL = (
    "session ended: the account's credentials were reset; log in with the new ones"
)


class SessionEndedError(NotAuthorizedException):
    """A request on a session that new credentials of its account ended (401)."""


def end_sessions(session: Session, users: Sequence[User]) -> list[int]:
    """End every live web session of ``users`` by moving their credentials count on (the
    caller's transaction; every worker sees it at the session's next request). Returns how
    many live sessions each account had.

    Sessions expire on the wall clock (the store's own), so that is what "live" means here."""
    now = datetime.now(UTC)
    counts = []
    for user in users:
        counts.append(
            session.scalar(
                select(func.count())
                .select_from(WebSession)
                .where(
                    WebSession.user_id == user.id,
                    WebSession.credentials_version == user.credentials_version,
                    WebSession.expires_at > now,
                )
            )
            or 0
        )
        user.credentials_version += 1
    return counts


async def user_from_session(
    session: dict[str, Any], _connection: ASGIConnection
) -> CurrentUser | None:
    """The session middleware's user lookup: the session holds the user's public fields,
    written at login, so no query runs on every request (the session store's read has
    already compared the account's credentials count, see ``exam.web.sessions``).

    Asynchronous, like the guards below, although neither awaits anything: Litestar runs a
    synchronous callback of either kind in a worker thread, a hop that cost more processor
    time per request than the lookup itself."""
    if session.get(SESSION_ENDED):
        raise SessionEndedError(SESSION_ENDED_DETAIL)
    data = session.get("user")
    if not data:
        return None
    return CurrentUser(**data)


def role_guard(*roles: str):
    """A guard admitting only the given roles."""

    async def guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if not isinstance(user, CurrentUser):
            raise NotAuthorizedException("login required")
        if user.role not in roles:
            raise PermissionDeniedException("not allowed for this account")

    guard.__name__ = f"requires_{'_or_'.join(roles)}"
    return guard


committee_only = role_guard("committee")
observer_or_committee = role_guard("observer", "committee")
applicant_only = role_guard("applicant")
