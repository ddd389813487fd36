"""Use cases on a synchronous database session in a worker thread.

The applicant's requests (start, read, answer, events, pages) call the pure core and a few
SQL statements. Through the asynchronous drivers every statement is several hand-offs
between the event loop and a driver thread (aiosqlite) or a greenlet switch per await;
measured under load (benchmarks/load.py) that overhead cost more than the statements. Here
the whole use case runs in one worker thread on a plain synchronous connection (sqlite3,
psycopg): one hand-off per request. SQLite writers queue on a lock in this process
(``database.sync_engine(serialize_writers=True)``) rather than in SQLite's busy handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
from sqlalchemy.orm import Session

from exam import database
from exam.settings import Settings

T = TypeVar("T")


class ThreadedDb:
    def __init__(self, settings: Settings) -> None:
        self.engine = database.sync_engine(settings, serialize_writers=True, pool_size=20)
        self.sessions = database.session_factory(self.engine)
        self.limiter = anyio.CapacityLimiter(20)

    async def run(
        self, use_case: Callable[[Session], T], commit_on: tuple[type[Exception], ...] = ()
    ) -> T:
        """``use_case(session)`` in a worker thread, then commit. An exception rolls back,
        except those in ``commit_on``: what the use case changed before refusing (say,
        finishing an attempt whose deadline passed) is committed, then it is raised."""
        return await anyio.to_thread.run_sync(self._work, use_case, commit_on, limiter=self.limiter)

    def _work(self, use_case, commit_on):
        with self.sessions() as session:
            try:
                result = use_case(session)
            except commit_on:
                session.commit()
                raise
            session.commit()
            return result

    def dispose(self) -> None:
        self.engine.dispose()
