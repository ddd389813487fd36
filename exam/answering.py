"""One answer, whichever door it comes through: the item page (htmx form) and the JSON API
call the same use case, so what the load benchmark measures is what the browser runs.

The use case reads everything the answer needs in one statement (``_ANSWERING``: the
attempt, locked on PostgreSQL, the applicant's pseudonym, what finds the compiled exam and
the answer already stored at the step, only if the attempt is the user's), calls
``delivery.submit_answer`` (the engine's step, the response and the log append in the
caller's transaction) and returns what either door shows next. A refusal (an answered step,
the deadline) is returned, not raised, so what it changed (finishing an attempt whose time
is up) is committed with the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from exam import delivery
from exam.models import Attempt, Enrollment, Exam, Response
from exam.runtime import ExamRuntime


class AttemptNotFoundError(LookupError):
    """No such attempt of this user (the same for another user's: ids reveal nothing)."""


@dataclass(frozen=True)
class ExamKey:
    """What finds a compiled exam without reading the exam's row (its largest columns)."""

    id: int
    code: str
    seed_hex: str
    snapshot_sha256: str


@dataclass(frozen=True)
class Answered:
    """The outcome of one answer: the reply (None when refused), the refusal, the attempt
    as it stands now (the page shows its item) and the item served next (the API's)."""

    reply: delivery.AnswerReply | None
    refusal: delivery.DeliveryError | None
    view: delivery.AttemptView
    following: delivery.ItemView | None


def _answering_query(by_code: bool):
    where = Exam.code == bindparam("code") if by_code else Attempt.id == bindparam("attempt_id")
    return (
        select(
            *delivery.ATTEMPT_COLUMNS,
            Enrollment.pseudonym.label("pseudonym"),
            Exam.code.label("exam_code"),
            Exam.seed_hex.label("exam_seed_hex"),
            Exam.snapshot_sha256.label("snapshot_hash"),
            *(c.label(f"stored_{c.key}") for c in delivery.STORED_ANSWER_COLUMNS),
        )
        .join_from(Attempt, Enrollment, Enrollment.id == Attempt.enrollment_id)
        .join(Exam, Exam.id == Attempt.exam_id)
        .outerjoin(
            Response, (Response.attempt_id == Attempt.id) & (Response.step == bindparam("step"))
        )
        .where(where, Enrollment.user_id == bindparam("user_id"))
        .with_for_update(of=Attempt)
    )


#: The answer's one read, by attempt id (the API) or by exam code (the item page).
_ANSWERING = {False: _answering_query(False), True: _answering_query(True)}


@dataclass(frozen=True)
class _Applicant:
    """What ``submit_answer`` needs of the enrollment."""

    pseudonym: str


def answer(
    session: Session,
    runtime_of: Callable[[Session, ExamKey], ExamRuntime],
    user_id: int,
    step: int,
    item_id: str,
    choice: str,
    now: datetime,
    *,
    attempt_id: int | None = None,
    exam_code: str | None = None,
    before: Callable[[Session, str, str, int], None] | None = None,
) -> Answered:
    """Store one answer of user ``user_id`` to their attempt (by ``attempt_id``, or their
    attempt at exam ``exam_code``). ``runtime_of`` finds the compiled exam; ``before`` is
    called with (session, exam code, pseudonym, current step) before the answer, to log
    what the request tells (a client change). Raises AttemptNotFoundError."""
    by_code = attempt_id is None
    params = {"user_id": user_id, "step": step}
    params.update({"code": exam_code} if by_code else {"attempt_id": attempt_id})
    row = session.connection().execute(_ANSWERING[by_code], params).one_or_none()
    if row is None:
        raise AttemptNotFoundError(f"no attempt {attempt_id or exam_code}")
    values = row._mapping
    stored = None
    if values["stored_log_index"] is not None:
        stored = delivery.StoredAnswer(
            *(values[f"stored_{c.key}"] for c in delivery.STORED_ANSWER_COLUMNS)
        )
    key = ExamKey(
        values["exam_id"], values["exam_code"], values["exam_seed_hex"], values["snapshot_hash"]
    )
    rt = runtime_of(session, key)
    attempt, applicant = delivery.AttemptRow(values), _Applicant(values["pseudonym"])
    if before is not None:
        before(session, key.code, applicant.pseudonym, attempt.step)
    try:
        reply = delivery.submit_answer(
            session, rt, attempt, applicant, step, item_id, choice, now, stored=stored
        )
    except delivery.DeliveryError as refusal:
        return Answered(None, refusal, delivery.view(rt, attempt, now), None)
    following = delivery.item_at(session, attempt, reply.next_step)
    item = following and delivery.item_view(rt.content(following))
    return Answered(reply, None, delivery.view(rt, attempt, now), item)
