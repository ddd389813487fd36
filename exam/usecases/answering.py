"""One answer, whichever door it comes through: the item page (htmx form) and the JSON API
call the same use case, so what the load benchmark measures is what the browser runs.

The use case reads everything the answer needs in one statement (``_ANSWERING``: the
attempt, locked on PostgreSQL, the applicant's pseudonym, what finds the compiled exam and
the answer already stored at the step, only if the attempt is the user's), calls
``submit_answer`` (the engine's step, the response and the log append in the
caller's transaction) and returns what either door shows next. A refusal (an answered step,
the deadline) is returned, not raised, so what it changed (finishing an attempt whose time
is up) is committed with the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, Enrollment, Exam, Response
from exam.adapters.runtime import ExamRuntime
from exam.cat import engine, fixed
from exam.cat.plan import SectionPlan
from exam.errors import Kind
from exam.usecases import delivery
from exam.usecases.delivery import DeliveryError, _finish, _serve_next
from exam.usecases.events import Events, ms
from proctoring import log

# -- the store ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AnswerReply:
    """An accepted answer: its log index (known once its transaction commits) and the
    step that follows (None when the attempt has finished)."""

    accepted: bool
    logged: int | log.Recorded
    next_step: int | None

    @property
    def log_index(self) -> int:
        return self.logged if isinstance(self.logged, int) else self.logged.index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AnswerReply):
            return NotImplemented
        mine, theirs = (self.accepted, self.log_index, self.next_step), other
        return mine == (theirs.accepted, theirs.log_index, theirs.next_step)

    __hash__ = None  # type: ignore[assignment]


_ATTEMPTS = Attempt.__table__
_ATTEMPT_COLUMNS = tuple(c.key for c in _ATTEMPTS.c)


class AttemptRow:
    """An attempt read with a plain SQL statement (see ``ATTEMPT_COLUMNS``), with the
    attributes of ``Attempt``: the use cases read and change it alike, and
    ``submit_answer`` writes what changed with one UPDATE. The answer path uses it
    because the ORM's loading and unit of work cost more than its statements."""

    __slots__ = (*_ATTEMPT_COLUMNS, "_stored")

    def __init__(self, row) -> None:
        for key in _ATTEMPT_COLUMNS:
            setattr(self, key, row[key])
        self._stored = {key: row[key] for key in _ATTEMPT_COLUMNS}

    def changes(self) -> dict:
        return {
            key: getattr(self, key)
            for key in _ATTEMPT_COLUMNS
            if getattr(self, key) != self._stored[key]
        }

    def stored(self) -> None:
        self._stored = {key: getattr(self, key) for key in _ATTEMPT_COLUMNS}


#: The attempt's columns, labelled as ``AttemptRow`` reads them.
ATTEMPT_COLUMNS = tuple(c.label(c.key) for c in _ATTEMPTS.c)
_UPDATE_ATTEMPT = update(_ATTEMPTS).where(_ATTEMPTS.c.id == bindparam("attempt_key"))
_RESPONSES = Response.__table__
#: What the reply to an answer already stored is made of.
STORED_ANSWER_COLUMNS = (
    _RESPONSES.c.item_id,
    _RESPONSES.c.choice,
    _RESPONSES.c.log_index,
    _RESPONSES.c.next_step,
    _RESPONSES.c.id,
)
_PREVIOUS = select(*STORED_ANSWER_COLUMNS).where(
    _RESPONSES.c.attempt_id == bindparam("attempt"), _RESPONSES.c.step == bindparam("step")
)


@dataclass(frozen=True)
class StoredAnswer:
    """The answer stored at a step (``STORED_ANSWER_COLUMNS``)."""

    item_id: str
    choice: str
    log_index: int
    next_step: int | None
    id: int | None = None


#: ``submit_answer`` reads the stored answer itself.
UNREAD = object()
_ITEM_AT = select(_RESPONSES.c.item_id).where(
    _RESPONSES.c.attempt_id == bindparam("attempt"), _RESPONSES.c.step == bindparam("step")
)


def _write_attempt(session: Session, attempt: Attempt | AttemptRow) -> None:
    """Write the attempt's changes now (an ``Attempt`` is flushed)."""
    if not isinstance(attempt, AttemptRow):
        session.flush()
        return
    changed = attempt.changes()
    if changed:
        session.connection().execute(_UPDATE_ATTEMPT, {"attempt_key": attempt.id, **changed})
        attempt.stored()


def _attempt_update(session: Session, attempt: Attempt | AttemptRow) -> list:
    """The attempt's changes as ``log.append``'s ``updated_rows`` (an ``Attempt`` is
    flushed instead). A failed append fails the use case, which reads the attempt anew."""
    if not isinstance(attempt, AttemptRow):
        session.flush()
        return []
    changes = attempt.changes()
    attempt.stored()
    return [(_ATTEMPTS, attempt.id, changes)] if changes else []


def _answer_events(
    code: str,
    enrollment: Enrollment,
    plan: SectionPlan,
    step: int,
    answered: tuple[str, str, int],
    pilot: bool,
    since: datetime,
    now: datetime,
    changed: bool = False,
) -> Events:
    """The ``answer`` entry of (item, choice, scored category) at ``step``. The choice and
    its category are sealed: together, over many applicants, they give away the item's key
    (proctoring.seal). The category is sealed once more, inside: the applicant's own
    openings show their choice but not whether it was right, or changing a fixed-section
    answer and reading its outcome would find the key. A changed answer of a fixed section
    says so in public."""
    item_id, choice, category = answered
    events = Events()
    events.sealed(
        "answer",
        code,
        now,
        {
            "item": item_id,
            "choice": choice,
            "response_ms": max(0, ms(now) - ms(since)),
        },
        {"category": category, "pilot": pilot},
        pseudonym=enrollment.pseudonym,
        section=plan.config.name,
        step=step,
        **({"changed": True} if changed else {}),
    )
    return events


def submit_answer(
    session: Session,
    rt: ExamRuntime,
    attempt: Attempt,
    enrollment: Enrollment,
    step: int,
    item_id: str,
    choice: str,
    now: datetime,
    stored: StoredAnswer | object | None = UNREAD,
    keep_open: bool = False,
) -> AnswerReply:
    """Store one answer, idempotently: the same answer to the same step returns the same
    reply; a different answer to an answered step of an adaptive section (or of a section
    that has ended), a wrong step or item, or an answer after the deadline is refused (409)
    with the reason. ``stored`` is the answer already stored at ``step`` (or None), when
    the caller read it with the attempt's row.

    In a running fixed section any of its items may be answered, and answered again (the
    last answer counts). Once every item has an answer the section ends, unless
    ``keep_open``: a client that lets the applicant review keeps it open until the
    applicant finishes it (``exam.usecases.navigation``) or its time is up."""
    previous = stored
    plan = rt.plans[attempt.section_index]
    in_form = attempt.status == "active" and plan.config.kind == "fixed"
    in_form = in_form and step >= attempt.section_step
    # A caller's read that found none may be older than the lock it waited for: a step
    # behind the attempt (or any of a fixed section's) was answered meanwhile (the same
    # answer, sent twice at once).
    if previous is UNREAD or (previous is None and (step < attempt.step or in_form)):
        previous = (
            session.connection().execute(_PREVIOUS, {"attempt": attempt.id, "step": step}).first()
        )
    if previous is not None:
        if previous.item_id == item_id and previous.choice == choice:
            return AnswerReply(True, previous.log_index, previous.next_step)
        if not in_form:
            raise DeliveryError(f"step {step} is already answered with another choice")
    if attempt.status != "active":
        raise DeliveryError("the attempt has finished")
    if now >= attempt.deadline_at:
        _finish(session, rt, attempt, enrollment, now, "deadline")
        _write_attempt(session, attempt)
        raise DeliveryError("the time is up: the deadline has passed")
    limit = plan.config.time_limit_s
    if limit is not None and (now - attempt.section_started_at).total_seconds() >= limit:
        # The section closed before this answer: it goes on to the next section.
        state = engine.loads(attempt.state)
        events = _serve_next(rt, attempt, enrollment, state, now, Events())
        log.record(session, events, indexed_rows=events.rows)
        _write_attempt(session, attempt)
        raise DeliveryError(f"the time for section {plan.config.name} is up")
    if in_form:
        return _answer_in_form(
            session, rt, attempt, enrollment, (step, item_id, choice), now, previous, keep_open
        )
    if step != attempt.step:
        raise DeliveryError(f"step {step} is not the current step ({attempt.step})")
    if item_id != attempt.served_item:
        raise DeliveryError(f"item {item_id} is not the item served at step {step}")
    content = rt.content(item_id)
    if choice not in {o.key for o in content.options}:
        raise DeliveryError(f"{choice!r} is not an option of item {item_id}", Kind.INVALID)
    category = content.category_of(choice)
    plan = rt.plans[attempt.section_index]
    state = engine.loads(attempt.state)
    if attempt.served_pilot:
        state = engine.answer_pilot(state, category)
    else:
        state = engine.answer(plan, state, plan.ids.index(item_id), category)
    served_at = attempt.served_at or now
    events = _answer_events(
        rt.code,
        enrollment,
        plan,
        step,
        (item_id, choice, category),
        attempt.served_pilot,
        served_at,
        now,
    )
    response = {
        "attempt_id": attempt.id,
        "step": step,
        "section": plan.config.name,
        "item_id": item_id,
        "item_version": rt.versions[item_id],
        "pilot": attempt.served_pilot,
        "choice": choice,
        "category": category,
        "served_at": served_at,
        "answered_at": now,
    }
    attempt.step = step + 1
    _serve_next(rt, attempt, enrollment, state, now, events)
    next_step = attempt.step if attempt.status == "active" else None
    # The attempt's changes and the response go in the append's own statement (the
    # response's log index is the answer's): one round trip, and the head is held for as
    # few statements as possible before the commit. The attempt's row is already locked.
    recorded = log.record(
        session,
        events,
        indexed_rows=[(_RESPONSES, {**response, "next_step": next_step}), *events.rows],
        updated_rows=_attempt_update(session, attempt),
    )
    return AnswerReply(True, recorded, next_step)


def _answer_in_form(
    session: Session,
    rt: ExamRuntime,
    attempt: Attempt,
    enrollment: Enrollment,
    given: tuple[int, str, str],
    now: datetime,
    previous,
    keep_open: bool,
) -> AnswerReply:
    """An answer, or a changed answer, to an item of the running fixed section: the
    section's state is rebuilt from its last answers (``exam.cat.fixed``), the response
    row holds the last answer, and a change is logged like a first answer, marked
    ``changed``. The response time is measured from the applicant's previous action."""
    step, item_id, choice = given
    plan = rt.plans[attempt.section_index]
    state = engine.loads(attempt.state)
    slots = fixed.layout(plan, state)
    position = step - attempt.section_step
    if position >= len(slots):
        raise DeliveryError(f"step {step} is not an item of section {plan.config.name}")
    slot = slots[position]
    if item_id != slot.item_id:
        raise DeliveryError(f"item {item_id} is not the item served at step {step}")
    content = rt.content(item_id)
    if choice not in {o.key for o in content.options}:
        raise DeliveryError(f"{choice!r} is not an option of item {item_id}", Kind.INVALID)
    category = content.category_of(choice)
    answers = {**fixed.answers_of(plan, state), position: category}
    state = fixed.with_answers(plan, state, answers)
    events = _answer_events(
        rt.code,
        enrollment,
        plan,
        step,
        (item_id, choice, category),
        slot.pilot,
        attempt.served_at or now,
        now,
        changed=previous is not None,
    )
    attempt.served_at = now
    unanswered = [p for p in range(len(slots)) if p not in answers]
    if unanswered or keep_open:
        # Forward clients go on to the next unanswered item, a reviewing one to the next.
        after = [p for p in unanswered if p > position] or unanswered
        target = min(position + 1, len(slots) - 1) if keep_open else after[0]
        attempt.state = engine.dumps(state)
        attempt.step = attempt.section_step + target
        attempt.served_item, attempt.served_pilot = slots[target].item_id, slots[target].pilot
    else:
        _serve_next(rt, attempt, enrollment, state, now, events, ended=engine.STOP_FORM_COMPLETE)
    next_step = attempt.step if attempt.status == "active" else None
    values = {"choice": choice, "category": category, "answered_at": now, "next_step": next_step}
    if previous is None:
        response = {
            "attempt_id": attempt.id,
            "step": step,
            "section": plan.config.name,
            "item_id": item_id,
            "item_version": rt.versions[item_id],
            "pilot": slot.pilot,
            "served_at": attempt.section_started_at,
            **values,
        }
        inserted, updated = [(_RESPONSES, response)], []
    else:
        inserted, updated = [], [(_RESPONSES, previous.id, values)]
    recorded = log.record(
        session,
        events,
        indexed_rows=[*inserted, *events.rows],
        updated_rows=[*updated, *_attempt_update(session, attempt)],
    )
    return AnswerReply(True, recorded, next_step)


def item_at(session: Session, attempt: Attempt, step: int | None) -> str | None:
    """The item served at ``step`` (answered or current), or None."""
    if step is None:
        return None
    if step == attempt.step:
        return attempt.served_item if attempt.status == "active" else None
    return session.connection().execute(_ITEM_AT, {"attempt": attempt.id, "step": step}).scalar()


# -- the use case ---------------------------------------------------------------------


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

    reply: AnswerReply | None
    refusal: delivery.DeliveryError | None
    view: delivery.AttemptView
    following: delivery.ItemView | None


def _answering_query(by_code: bool):
    where = Exam.code == bindparam("code") if by_code else Attempt.id == bindparam("attempt_id")
    return (
        select(
            *ATTEMPT_COLUMNS,
            Enrollment.pseudonym.label("pseudonym"),
            Enrollment.site.label("site"),
            Enrollment.room.label("room"),
            Exam.code.label("exam_code"),
            Exam.seed_hex.label("exam_seed_hex"),
            Exam.snapshot_sha256.label("snapshot_hash"),
            *(c.label(f"stored_{c.key}") for c in STORED_ANSWER_COLUMNS),
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
    keep_open: bool = False,
    paused: Callable[[int, str, str], bool] | None = None,
) -> Answered:
    """Store one answer of user ``user_id`` to their attempt (by ``attempt_id``, or their
    attempt at exam ``exam_code``). ``runtime_of`` finds the compiled exam; ``before`` is
    called with (session, exam code, pseudonym, current step) before the answer, to log
    what the request tells (a client change); ``keep_open`` as ``submit_answer``;
    ``paused(exam id, site, room)`` says whether a proctor has paused the attempt's room,
    whose answers then wait for the resume. Raises AttemptNotFoundError."""
    by_code = attempt_id is None
    params = {"user_id": user_id, "step": step}
    params.update({"code": exam_code} if by_code else {"attempt_id": attempt_id})
    row = session.connection().execute(_ANSWERING[by_code], params).one_or_none()
    if row is None:
        raise AttemptNotFoundError(f"no attempt {attempt_id or exam_code}")
    values = row._mapping
    stored = None
    if values["stored_log_index"] is not None:
        stored = StoredAnswer(*(values[f"stored_{c.key}"] for c in STORED_ANSWER_COLUMNS))
    key = ExamKey(
        values["exam_id"], values["exam_code"], values["exam_seed_hex"], values["snapshot_hash"]
    )
    rt = runtime_of(session, key)
    attempt, applicant = AttemptRow(values), _Applicant(values["pseudonym"])
    if before is not None:
        before(session, key.code, applicant.pseudonym, attempt.step)
    try:
        if paused is not None and paused(key.id, values["site"], values["room"]):
            raise delivery.DeliveryError("the room is paused by its proctor: wait for the resume")
        reply = submit_answer(
            session, rt, attempt, applicant, step, item_id, choice, now, stored, keep_open
        )
    except delivery.DeliveryError as refusal:
        return Answered(None, refusal, delivery.view(rt, attempt, now), None)
    following = item_at(session, attempt, reply.next_step)
    item = following and delivery.item_view(rt.content(following))
    return Answered(reply, None, delivery.view(rt, attempt, now), item)
