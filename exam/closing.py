"""Closing an exam: finish what is left, then reveal what the opening committed to.

At opening the log received SHA-256 commitments to the definition, the bank parameter
table and the seed (``delivery.open_exam``). Closing appends ``exam_closed`` and then
``exam_revealed`` with the values themselves. With the seed, every answer's sealed score
category opens (``randomness.open_category``), and anyone holding the log can check the
commitments and replay every attempt through the engine (``proctoring.verify``): which
items were served, each ability estimate and each score. No answer key and no item text
is published; but an answer's category and its choice together show whether that choice
was right, so after closing the administered items count as exposed: an exam is closed
once, after its last session, and the committee retires or revises its items before reuse.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.delivery import (
    DeliveryError,
    _canonical,
    definition_sha256,
    event,
    finish_on_deadline,
    ms,
)
from exam.models import Attempt, Enrollment, Exam
from exam.runtime import ExamRuntime
from proctoring import log


def close_exam(session: Session, exam: Exam, rt: ExamRuntime, by: int, now: datetime) -> int:
    """Close an open exam; returns the log index of the reveal. Attempts whose time has
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
    table = rt.bank.parameter_table()
    definition = _canonical(exam.definition)
    indices = log.append(
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
                parameter_table=table,
                bank_parameters_sha256=hashlib.sha256(table.encode()).hexdigest(),
                closed_at=ms(now),
            ),
        ],
    )
    return indices[-1]
