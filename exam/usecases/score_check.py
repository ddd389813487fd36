"""The database's scores checked against the audit log, before anything shows them.

``attempts.results`` and the enrollments' formation and track are copies the database keeps
for speed; the log states the same facts publicly (``proctoring.logged_scores``). The live
board, the public ranking, an applicant's result and the committee's ranking and publication
read the stored rows through ``checked_rows``, which compares each with the log and reports
the rows that differ; those are never shown or published, and each difference is logged at
ERROR once per process.

The model of an exam's log is kept per process and brought up to date with only the
entries appended since the size it last saw (the board asks for it every half second).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from exam.adapters.database import WRITE
from exam.adapters.models import Attempt, Enrollment, Exam
from proctoring.logged_scores import (
    TYPES,
    LoggedScores,
    fold,
    placement_difference,
    result_differences,
)
from proctoring.models import LogEntry, LogHead

logger = logging.getLogger(__name__)

#: What an applicant is told instead of a score that differs from the log.
SCORE_MISMATCH = (
    "the stored score does not match the audit log; it is withheld and the committee has been told"
)

#: Per exam (by its random seed): the model of its log entries up to the size it states.
_MODELS: dict[str, LoggedScores] = {}
#: Differences already logged at ERROR (exam, pseudonym, reasons): once per process.
_REPORTED: set[tuple[str, str, tuple[str, ...]]] = set()
#: On PostgreSQL every statement of a read-committed transaction sees the commits before
#: it, so a row read just before a section finishes can lag the log read after it; a row
#: that differs is read again (with the log's newest entries) before it counts as differing.
_REREADS = 2


@dataclass(frozen=True)
class StoredRow:
    pseudonym: str
    formation: str
    track: str
    status: str  # not_started, active or finished
    results: dict


@dataclass(frozen=True)
class Checked:
    rows: list[StoredRow]
    logged: LoggedScores
    #: pseudonym → how its stored row differs from the log
    mismatches: dict[str, list[str]] = field(default_factory=dict)


def logged_scores(session: Session, exam: Exam) -> LoggedScores:
    """The exam's scores as its log states them, up to the log's current size. A writing
    transaction may read its own appends, which a rollback would undo: it starts from the
    kept model but does not keep what it read."""
    # A query of its own, not the session's LogHead object, which a re-read must not reuse.
    size = session.scalar(select(LogHead.size).where(LogHead.id == 1)) or 0
    model = _MODELS.get(exam.seed_hex, LoggedScores())
    if size < model.size:  # a smaller log (a restore): read it again
        model = LoggedScores()
    if size > model.size:
        code = exam.code
        texts = session.scalars(
            select(LogEntry.entry)
            .where(LogEntry.index >= model.size, LogEntry.index < size)
            .where(or_(*(LogEntry.entry.like(f'%"type":"{kind}"%') for kind in TYPES)))
            .where(LogEntry.entry.like(f'%"exam":"{code}"%'))
            .order_by(LogEntry.index)
        )
        entries = [e for e in map(json.loads, texts) if e["exam"] == code and e["type"] in TYPES]
        model = fold(model, entries, size)
        if not session.connection().get_execution_options().get(WRITE):
            _MODELS[exam.seed_hex] = model
    return model


def stored_rows(
    session: Session, exam: Exam, pseudonyms: Sequence[str] | None = None
) -> list[StoredRow]:
    """Every enrollment of the exam (or those of ``pseudonyms``) with its attempt."""
    query = (
        select(
            Enrollment.pseudonym,
            Enrollment.formation,
            Enrollment.track,
            Attempt.status,
            Attempt.results,
        )
        .outerjoin(Attempt, Attempt.enrollment_id == Enrollment.id)
        .where(Enrollment.exam_id == exam.id)
    )
    if pseudonyms is not None:
        query = query.where(Enrollment.pseudonym.in_(list(pseudonyms)))
    return [
        StoredRow(p, formation, track, status or "not_started", results or {})
        for p, formation, track, status, results in session.execute(query).all()
    ]


def _differences(row: StoredRow, logged: LoggedScores, placements: bool) -> list[str]:
    out = result_differences(row.status, row.results, logged.attempts.get(row.pseudonym))
    if placements:
        placed = placement_difference(row.pseudonym, row.formation, row.track, logged)
        if placed is not None:
            out.append(placed.removeprefix(f"{row.pseudonym}: "))
    return out


def checked_rows(
    session: Session,
    exam: Exam,
    pseudonyms: Sequence[str] | None = None,
    placements: bool = False,
) -> Checked:
    """The stored rows of the exam and the pseudonyms whose row differs from the log (the
    points, θ, SE and items of every finished section, whether the attempt finished and,
    with ``placements``, the formation and track). The rows are read before the log, so
    the log read covers every change the rows show."""
    rows = stored_rows(session, exam, pseudonyms)
    logged = logged_scores(session, exam)
    mismatches = {r.pseudonym: d for r in rows if (d := _differences(r, logged, placements))}
    for _ in range(_REREADS):
        if not mismatches:
            break
        again = {r.pseudonym: r for r in stored_rows(session, exam, list(mismatches))}
        logged = logged_scores(session, exam)
        rows = [again.get(r.pseudonym, r) for r in rows]
        mismatches = {p: d for p, r in again.items() if (d := _differences(r, logged, placements))}
    if pseudonyms is None:  # a finished attempt the log states must have its stored row
        stored = {r.pseudonym for r in rows}
        for p, a in logged.attempts.items():
            if a.finished and p not in stored:
                mismatches[p] = ["finished in the log, but no enrollment is stored"]
    for p, reasons in mismatches.items():
        key = (exam.code, p, tuple(reasons))
        if key not in _REPORTED:
            _REPORTED.add(key)
            logger.error(
                "exam %s: the stored row of %s does not match the audit log: %s",
                exam.code,
                p,
                "; ".join(reasons),
            )
    return Checked(rows, logged, mismatches)
