"""Is what the database holds about an exam what its log says? Checked before results are
published, so that a row changed behind the application's back is caught before it counts.

- The exam's log entries, opened with the server's openings, replay through the engine to
  the logged items, abilities and points (``proctoring.verify.replay_exam``): a changed
  opening, a changed score in the log, an answer missing from it all show here.
- Every stored response is the answer its log entry commits to: the same item and choice
  at the same step of the same applicant.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, Enrollment, Exam, Response
from proctoring import openings
from proctoring.models import LogEntry
from proctoring.verify import replay_exam


def _of_exam(code: str):
    """The pattern matches only the entry's own ``exam`` field: a string value holding it
    would have its quotes escaped, and the closing quote keeps out codes that merely begin
    with ``code``."""
    return LogEntry.entry.like(f'%"exam":{json.dumps(code, ensure_ascii=False)}%')


def exam_entries(session: Session, code: str) -> list[tuple[int, str]]:
    """(index, text) of every log entry of exam ``code``, in order."""
    query = select(LogEntry.index, LogEntry.entry).where(_of_exam(code)).order_by(LogEntry.index)
    return [(index, text) for index, text in session.execute(query)]


def exam_log_end(session: Session, code: str) -> int:
    """The size of the log up to and with the last entry of exam ``code`` (0 for none): a
    checkpoint at least this large covers all of the exam's history."""
    last = session.scalar(select(func.max(LogEntry.index)).where(_of_exam(code)))
    return 0 if last is None else last + 1


def check_exam(session: Session, exam: Exam) -> list[str]:
    """Every way the exam's stored rows and its log disagree (empty when they agree)."""
    given = openings.of_exam(session, exam.code)
    report, entries = replay_exam(exam_entries(session, exam.code), given)
    problems = list(report.problems)
    if report.exams_sealed:
        problems.append(f"exam {exam.code}: some sealed entries have no stored opening")
    answered = {
        (e["pseudonym"], e["step"]): e for e in entries if e["type"] == "answer" and "item" in e
    }
    rows = session.execute(
        select(Enrollment.pseudonym, Response.step, Response.item_id, Response.choice)
        .join(Attempt, Attempt.id == Response.attempt_id)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .where(Attempt.exam_id == exam.id)
        .order_by(Enrollment.pseudonym, Response.step)
    )
    for pseudonym, step, item_id, choice in rows:
        logged = answered.pop((pseudonym, step), None)
        if logged is None:
            problems.append(f"{pseudonym}, step {step}: a stored answer the log does not have")
        elif (logged["item"], logged["choice"]) != (item_id, choice):
            problems.append(f"{pseudonym}, step {step}: the stored answer differs from the log's")
    for pseudonym, step in sorted(answered):
        problems.append(f"{pseudonym}, step {step}: an answer in the log that is not stored")
    return problems
