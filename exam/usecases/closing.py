"""Closing an exam: finish what is left, then reveal the seed and the definition.

At opening the log received commitments to the definition and the seed, and a sealed
commitment to the bank parameter table (``delivery.open_exam``). Closing appends
``exam_closed`` and then ``exam_revealed`` with the seed and the definition. The parameter
table and every answer stay sealed in the public log: they hold the items' keys, and the
items may be served again in later exams. Logged-in observers get the openings now
(``proctoring.openings``) and can replay every attempt through the engine
(``proctoring.verify``); everyone gets them once the committee retires the exam's items
(``retire_items``).
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, Enrollment, Exam
from exam.adapters.runtime import ExamRuntime
from exam.usecases.delivery import DeliveryError, _canonical, definition_sha256, finish_on_deadline
from exam.usecases.events import event, ms
from itembank.models import Item
from proctoring import log
from proctoring.models import LogEntry


def close_exam(
    session: Session, exam: Exam, rt: ExamRuntime, by: int, now: datetime
) -> log.Recorded:
    """Close an open exam; returns the recorded reveal. Attempts whose time has
    run out are finished first; while anyone still has time left, closing is refused."""
    if exam.status != "open":
        raise DeliveryError(f"exam {exam.code} is {exam.status}, not open")
    active = session.execute(
        select(Attempt, Enrollment)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .where(Attempt.exam_id == exam.id, Attempt.status == "active")
        .with_for_update()
    ).all()
    running = [a.deadline_at for a, _ in active if a.deadline_at > now]
    if running:
        raise DeliveryError(
            f"{len(running)} applicants still have time; the last deadline is "
            f"{max(running).isoformat(timespec='seconds')}"
        )
    for attempt, enrollment in active:
        finish_on_deadline(session, rt, attempt, enrollment, now)
    exam.status, exam.closes_at = "closed", min(exam.closes_at or now, now)
    definition = _canonical(exam.definition)
    return log.record(
        session,
        [
            event("exam_closed", exam.code, now, by=by, finished_on_close=len(active)),
            event(
                "exam_revealed",
                exam.code,
                now,
                seed=rt.seed.hex(),
                definition=definition,
                definition_sha256=definition_sha256(exam.definition),
                closed_at=ms(now),
            ),
        ],
    )


def retire_items(
    session: Session, exam: Exam, rt: ExamRuntime, by: int, now: datetime
) -> log.Recorded:
    """Retire every item the closed exam could serve, and so release the openings of its
    sealed entries to everyone (``proctoring.openings``); returns the recorded
    ``items_retired``. Retired items are never served again, so their keys may be known."""
    if exam.status != "closed":
        raise DeliveryError(f"exam {exam.code} is {exam.status}: close it before retiring")
    if openings_released(session, rt):
        raise DeliveryError(f"the items of exam {exam.code} are already retired")
    ids = sorted(rt.items)
    for item in session.scalars(select(Item).where(Item.id.in_(ids))):
        item.status = "retired"
    return log.record(
        session, [event("items_retired", exam.code, now, by=by, count=len(ids), items=ids)]
    )


def openings_released(session: Session, rt: ExamRuntime) -> bool:
    """Whether the exam's openings are public: the log says the committee retired its
    items, and they are all still retired. The bank is asked first (one indexed query),
    so the log is searched only for an exam whose items are all retired: the public
    openings route cannot be made to scan the log at will."""
    in_use = session.scalar(
        select(Item.id).where(Item.id.in_(list(rt.items)), Item.status != "retired").limit(1)
    )
    if in_use is not None:
        return False
    return (
        session.scalar(
            select(LogEntry.index)
            .where(LogEntry.entry.like('%"type":"items_retired"%'))
            .where(LogEntry.entry.like(f'%"exam":{json.dumps(rt.code)}%'))
            .limit(1)
        )
        is not None
    )
