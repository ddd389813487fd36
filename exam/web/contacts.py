"""The exam pages' contact, gathered in memory and written every few seconds.

A heartbeat per page every ``SELEKSI_HEARTBEAT_S`` seconds would be hundreds of writes a
second on exam day; each process keeps the latest contact per attempt instead and writes
them in one transaction every ``SELEKSI_CONTACT_FLUSH_S`` (``exam.usecases.rooms``), then
looks for site outages. It also keeps, from that pass, which rooms are paused and the
deadline of every running attempt whose page has beaten here, so a heartbeat costs no
query of its own after the first: its reply (the remaining time, moved by any credit, and
the pause) is at most one writing interval old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from exam.adapters.settings import Settings
from exam.usecases import rooms
from exam.web.threaded import ThreadedDb

logger = logging.getLogger("seleksi.contacts")


@dataclass
class AttemptFacts:
    """What a heartbeat needs of its running attempt: the owner, its place and its end."""

    user_id: int
    exam_id: int
    site: str
    room: str
    deadline: datetime


class ContactBook:
    def __init__(self, db: ThreadedDb, settings: Settings, clock) -> None:
        self.db, self.clock = db, clock
        self.rules = settings.outage_rules()
        self.gap = timedelta(milliseconds=self.rules.gap_ms)
        self.settle = timedelta(seconds=settings.outage_settle_s)
        self.interval = settings.contact_flush_s
        self.pending: dict[int, datetime] = {}
        self.paused: set[tuple[int, str, str]] = set()
        #: running attempt id → its facts: read at its first heartbeat in this process,
        #: then refreshed by every pass (and dropped when it no longer runs).
        self.facts: dict[int, AttemptFacts] = {}
        self.task: asyncio.Task | None = None

    def touch(self, attempt_id: int, at: datetime) -> None:
        """A contact of the attempt's page (a heartbeat or an answer)."""
        if self.pending.get(attempt_id, at) <= at:
            self.pending[attempt_id] = at

    def is_paused(self, exam_id: int, site: str, room: str) -> bool:
        return (exam_id, site, room) in self.paused

    async def flush(self) -> list[int]:
        """Write the contacts gathered, then credit the outages that have settled."""
        pending, self.pending = self.pending, {}
        now = self.clock()

        known = list(self.facts)

        def run(session):
            rooms.record_contacts(session, pending, self.gap)
            session.flush()
            recorded = rooms.credit_outages(session, now, self.rules, self.settle)
            return recorded, rooms.paused_rooms(session), rooms.deadlines(session, known)

        try:
            recorded, self.paused, ends = await self.db.write(run)
        except Exception:
            for attempt_id, at in pending.items():  # kept for the next pass
                self.touch(attempt_id, at)
            raise
        for attempt_id in known:
            deadline = ends.get(attempt_id)
            if deadline is None:  # no longer running: read afresh at its next heartbeat
                self.facts.pop(attempt_id, None)
            elif attempt_id in self.facts:
                self.facts[attempt_id].deadline = deadline
        indices = [index for entries in recorded for index in entries.indices]
        for index in indices:
            logger.warning("site outage credited (log entry %d)", index)
        return indices

    async def start(self) -> None:
        self.task = asyncio.create_task(self._loop(), name="contacts")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:  # a failed pass (database restarting) is retried next time
                logger.exception("writing the exam pages' contacts failed")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        with contextlib.suppress(Exception):
            await self.flush()
