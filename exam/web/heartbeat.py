"""The server's heartbeat task: credit downtime at startup, then beat every few seconds
(``exam.usecases.downtime``). The wall clock is used, not the app's test clock: downtime is real
time during which nobody could answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from exam.usecases import downtime
from exam.web.threaded import ThreadedDb

logger = logging.getLogger("seleksi.heartbeat")


class Heartbeat:
    def __init__(self, db: ThreadedDb) -> None:
        self.db = db
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        credited = await self.db.run(lambda s: downtime.credit(s, datetime.now(UTC)))
        for code, n in credited.items():
            logger.warning("downtime credited to %d running attempts of exam %s", n, code)
        self.task = asyncio.create_task(self._loop(), name="heartbeat")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(downtime.BEAT_S)
            try:
                await self.db.run(lambda s: downtime.beat(s, datetime.now(UTC)))
            except Exception:  # a failed beat (database restarting) is retried next time
                logger.exception("heartbeat failed")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
