"""Incident notes: an observer's or a committee member's note about an exam (and perhaps
one applicant, by pseudonym), itself an entry of the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.adapters.models import Exam
from exam.errors import Kind
from exam.usecases.delivery import DeliveryError
from exam.usecases.events import event
from proctoring import log


def add_note(
    session: Session, exam: str, by: int, role: str, text: str, pseudonym: str, now: datetime
) -> log.Recorded:
    """Log the note; returns its recorded entry. Refuses a note on an exam that does not exist."""
    if session.scalar(select(Exam.id).where(Exam.code == exam)) is None:
        raise DeliveryError(f"exam: no exam {exam}", Kind.INVALID)
    fields = {"by": by, "role": role, "text": text}
    if pseudonym.strip():
        fields["pseudonym"] = pseudonym.strip()
    return log.record(session, [event("incident_note", exam, now, **fields)])
