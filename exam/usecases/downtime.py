"""Downtime is credited: an applicant gets back the exam time the service was down.

Every server process refreshes one heartbeat row every ``BEAT_S`` seconds. A process that
starts and finds the last beat older than ``GAP_S`` knows the service was down from that
beat until now (a crash, kill -9, a restart, a power cut), and in the same transaction:

- moves the deadline of every attempt that was running when the service went down (still
  active, deadline after the last beat) by the length of the gap, so the applicant resumes
  with the time they had then;
- appends one ``downtime_credited`` entry per exam to the audit log (from, to, credit in
  ms, the number of attempts), which ``seleksi log verify`` applies to the deadlines it
  checks answers against;
- refreshes the beat, so a second process starting at the same moment credits nothing.

The credit is the whole gap since the last beat: up to ``BEAT_S`` more than the outage,
in the applicant's favour.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from exam.adapters.database import begin_write
from exam.adapters.models import Attempt, Exam, Heartbeat
from exam.usecases.events import event, ms
from proctoring import log

BEAT_S = 1.0
#: A gap longer than this between beats is downtime (a few missed beats, not a slow one).
GAP_S = 2.5


def beat(session: Session, now: datetime) -> None:
    """Refresh the heartbeat."""
    begin_write(session)
    updated = session.execute(update(Heartbeat).where(Heartbeat.id == 1).values(beat_at=now))
    if updated.rowcount == 0:
        _first_beat(session, now)


def _first_beat(session: Session, now: datetime) -> None:
    """The heartbeat row, on a database that has none yet. Several processes starting
    together all find it missing: the first insert wins, the others wait for it and
    then insert nothing (a plain INSERT failed them on the primary key)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(Heartbeat).values(id=1, beat_at=now).on_conflict_do_nothing())


def credit(session: Session, now: datetime) -> dict[str, int]:
    """Credit the gap since the last beat to the attempts running then; returns the number
    of attempts credited per exam (empty when there was no downtime)."""
    begin_write(session)
    row = session.scalar(select(Heartbeat).where(Heartbeat.id == 1).with_for_update())
    if row is None:  # the first start on this database: no downtime yet
        _first_beat(session, now)
        return {}
    last = row.beat_at
    row.beat_at = now
    # Whole milliseconds, as the log records it, so a verifier moves deadlines alike.
    credit_ms = ms(now) - ms(last)
    if credit_ms <= GAP_S * 1000:
        return {}
    gap = timedelta(milliseconds=credit_ms)
    running = session.execute(
        select(Attempt, Exam.code)
        .join(Exam, Exam.id == Attempt.exam_id)
        .where(Attempt.status == "active", Attempt.deadline_at > last)
        .with_for_update(of=Attempt)
    ).all()
    credited: dict[str, int] = defaultdict(int)
    for attempt, code in running:
        attempt.deadline_at = attempt.deadline_at + gap
        credited[code] += 1
    if not credited:
        return {}
    log.record(
        session,
        [
            event(
                "downtime_credited",
                code,
                now,
                **{"from": ms(last)},
                to=ms(now),
                credit_ms=credit_ms,
                attempts=n,
            )
            for code, n in sorted(credited.items())
        ],
    )
    return dict(credited)
