"""The log's live side in one process: wake-ups for streams, and periodic checkpoints.

The database is the source of truth; a wake-up only says "look again". Each process runs
one watcher that reads the log head: on PostgreSQL it is woken at once by the
``pg_notify`` that every append sends on commit (so an answer through one worker reaches a
stream on another), and it also polls every 5 s as a safety net; on SQLite (one machine) it polls
every 200 ms. Streams subscribe before they replay from the database, so no entry falls in
between (FIELD-NOTES).

The same process signs a checkpoint whenever the log has grown, at most every
``checkpoint_interval_s`` seconds. When the signer refuses (the database's tree does not
extend its last checkpoint, ``proctoring/signer_guard.py``), the loop appends one
``signer_refused`` entry with the evidence, if the log still takes appends, and keeps
refusing until an operator clears the alarm; the last good checkpoint stays served.
After each new checkpoint it asks the known witnesses to cosign it (``cosign``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from exam.adapters.database import begin_write
from proctoring import checkpoints, cosignatures, log
from proctoring.checkpoints import SignerRefusedError
from proctoring.cosignatures import Witness
from proctoring.log import NOTIFY_CHANNEL
from proctoring.models import LogCheckpoint, LogHead
from proctoring.note import Signer

if TYPE_CHECKING:
    from exam.web.threaded import ThreadedDb

logger = logging.getLogger(__name__)
T = TypeVar("T")
_SIZE = select(LogHead.size).where(LogHead.id == 1)

#: How long the log waits for a witness's answer.
WITNESS_TIMEOUT_S = 10.0
#: How often the tree's nodes are built on PostgreSQL (``LogFeed._build_loop``).
TREE_BUILD_INTERVAL_S = 1.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


#: How long a notified watcher waits for further appends before waking the streams.
COALESCE_S = 0.05


class Subscription:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """True when woken, False after ``timeout`` seconds without news."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True


class LogFeed:
    def __init__(
        self,
        engine: AsyncEngine,
        signer: Signer,
        origin: str,
        checkpoint_interval_s: float,
        db: ThreadedDb | None = None,
        signing: bool = True,
        witnesses: Sequence[Witness] = (),
        min_witnesses: int = 0,
    ) -> None:
        self.engine, self.signer, self.origin = engine, signer, origin
        # Off on a read replica: the primary's servers sign, and a replica cannot write.
        self.signing = signing
        self.db = db
        self.checkpoint_interval_s = checkpoint_interval_s
        self.witnesses = list(witnesses)
        #: The cosignatures results need by default (an exam may set its own).
        self.min_witnesses = min_witnesses
        self.size = 0
        self._subscribers: set[Subscription] = set()
        self._tasks: list[asyncio.Task] = []
        self._poke = asyncio.Event()
        self._listener = None
        self._notified_size = 0

    # -- subscriptions --------------------------------------------------------------------

    @contextlib.contextmanager
    def subscribe(self):
        sub = Subscription()
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    def _publish(self, size: int) -> None:
        if size > self.size:
            self.size = size
            for sub in list(self._subscribers):
                sub.wake()

    # -- background tasks -----------------------------------------------------------------

    async def start(self) -> None:
        self.size = await self.read_size()
        if self.signing:  # a replica neither signs nor hears NOTIFY: its watch polls
            with contextlib.suppress(SignerRefusedError):  # serve on, with the last good one
                await self.checkpoint_if_grown("startup")
            if self.engine.dialect.name == "postgresql":
                await self._listen()
        self._tasks = [asyncio.create_task(self._watch(), name="log-watch")]
        if self.signing:
            self._tasks.append(asyncio.create_task(self._checkpoint_loop(), name="log-checkpoints"))
            if self.engine.dialect.name == "postgresql":
                self._tasks.append(asyncio.create_task(self._build_loop(), name="log-tree"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()

    async def _listen(self) -> None:
        import asyncpg  # noqa: PLC0415 (PostgreSQL only)

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            self._listener = await asyncpg.connect(url)
            await self._listener.add_listener(NOTIFY_CHANNEL, self._notified)
        except Exception:  # the poll below still finds every entry, only later
            logger.exception("cannot LISTEN for log appends; polling only")
            self._listener = None

    def _notified(self, _connection, _pid, _channel, payload: str) -> None:
        # The notification carries the new size: no query per append (under load there
        # are hundreds a second, and every stream reads the log after each wake-up).
        try:
            self._notified_size = max(self._notified_size, int(payload))
        except ValueError:
            self._notified_size = -1  # unknown: read the head
        self._poke.set()

    async def read(self, query: Callable[[Connection], T]) -> T:
        """``query(connection)``, a read. Through ``db`` (``ThreadedDb.read``) where it has
        one: on the event loop, on connections the answers' transactions never hold, so
        the streams' reads do not wait behind them."""
        if self.db is not None:
            return await self.db.read(query)
        async with self.engine.connect() as connection:
            return await connection.run_sync(query)

    async def read_size(self) -> int:
        return await self.read(lambda c: c.execute(_SIZE).scalar() or 0)

    async def _watch(self) -> None:
        poll = 5.0 if self._listener is not None else 0.2 if self.signing else 1.0
        woken = False
        while True:
            try:
                if woken and self._notified_size > 0:
                    self._publish(self._notified_size)
                else:
                    self._publish(await self.read_size())
            except Exception:
                logger.exception("reading the log head failed")
            woken = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), poll)
                woken = True
                # Appends come in bursts under load: one wake-up of the streams per
                # COALESCE_S, not one per append (each wake-up is a query per stream).
                await asyncio.sleep(COALESCE_S)
            self._poke.clear()

    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(self.checkpoint_interval_s)
            try:
                await self.checkpoint_if_grown()
            except SignerRefusedError:
                pass  # logged by checkpoint_if_grown
            except Exception:
                logger.exception("signing a checkpoint failed")

    async def _build_loop(self) -> None:
        """On PostgreSQL, where an append leaves the tree's nodes to a builder: build them
        every ``TREE_BUILD_INTERVAL_S``, a second's entries at a time, rather than all of a
        checkpoint interval's at once. The build runs on the event loop (hashing, then one
        executemany); ten seconds of an exam day's entries held it for about 140 ms, long
        enough to show in the answers' p99."""
        while True:
            await asyncio.sleep(TREE_BUILD_INTERVAL_S)
            try:
                await self.build_tree()
            except Exception:
                logger.exception("building the log's tree failed")

    async def build_tree(self) -> None:
        """Store the nodes of the entries appended since the last build, in a transaction
        of its own (``log.build_tree``)."""
        async with AsyncSession(self.engine) as session:
            await session.run_sync(lambda s: (begin_write(s), log.build_tree(s)))
            await session.commit()

    async def checkpoint_if_grown(self, reason: str = "periodic") -> None:
        async with AsyncSession(self.engine) as session:
            last = await session.scalar(
                select(LogCheckpoint.size).order_by(LogCheckpoint.size.desc()).limit(1)
            )
            size = await session.scalar(select(LogHead.size).where(LogHead.id == 1))
            await session.rollback()
            if size and size != last:
                await self.build_tree()  # the nodes first, in a transaction of their own
                try:
                    await session.run_sync(
                        lambda s: (
                            begin_write(s),
                            checkpoints.sign(s, self.signer, self.origin, reason),
                        )
                    )
                except SignerRefusedError as exc:
                    await session.rollback()
                    logger.error("the log signer refused to sign: %s", exc.reason)
                    await self._enter_alarm(session)
                    raise
                await session.commit()
        await self.cosign()

    async def cosign(self) -> list[cosignatures.Outcome]:
        """Send the latest checkpoint to the witnesses that have not cosigned it
        (``proctoring.cosignatures``); what they answer is kept, never raised."""
        if not self.witnesses or not self.signing:
            return []
        import httpx  # noqa: PLC0415

        async def run(use_case, write: bool = False):
            async with AsyncSession(self.engine) as session:
                if write:
                    result = await session.run_sync(lambda s: (begin_write(s), use_case(s))[1])
                    await session.commit()
                    return result
                return await session.run_sync(use_case)

        async def write(use_case):
            return await run(use_case, write=True)

        try:
            async with httpx.AsyncClient(timeout=WITNESS_TIMEOUT_S) as client:
                return await cosignatures.collect(
                    self.witnesses, run, write, cosignatures.httpx_post(client), _utcnow
                )
        except Exception:
            logger.exception("collecting witness cosignatures failed")
            return []

    async def _enter_alarm(self, session: AsyncSession) -> None:
        """Append the standing alarm's ``signer_refused`` entry, once; the database may
        refuse appends too (then the alarm stays in the state file and the logs)."""
        try:
            await session.run_sync(
                lambda s: (
                    begin_write(s),
                    checkpoints.append_alarm(s, self.signer, int(time.time() * 1000)),
                )
            )
            await session.commit()
        except Exception:
            await session.rollback()
            logger.exception("cannot append the signer_refused entry to the log")
