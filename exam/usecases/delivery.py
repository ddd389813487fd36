"""Exam delivery use cases: open an exam, start or resume an attempt, serve, answer, finish.

Each function takes a database session, the clock reading ``now`` and plain values, calls
the pure engine, writes the change and appends its events to the audit log in the same
transaction; the caller commits. The server's clock is the only clock: the deadline, the
section time and response times are all measured here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, Enrollment, Exam
from exam.adapters.runtime import ExamRuntime, pseudonym, runtime, snapshot_hash
from exam.cat import engine, fixed, randomness
from exam.cat.blueprint import ExamConfig
from exam.cat.feasibility import check_exam
from exam.cat.outcome import section_result
from exam.cat.simulation import ExposureCapError, with_exposure_parameters
from exam.errors import DomainError, Kind
from exam.usecases.events import Events, event, ms
from itembank import repository
from itembank.content import ItemContent
from itembank.models import Item, ItemVersion
from proctoring import log
from proctoring.canonical import decimal


class DeliveryError(DomainError):
    """A request the exam's rules refuse: by default a conflict with the exam's state."""


# -- opening -----------------------------------------------------------------------------


def open_exam(
    session: Session, exam: Exam, now: datetime, *, exposure_tolerance: float = 0.0
) -> log.Recorded:
    """Freeze the bank, check the blueprint, derive exposure parameters and commit to all
    of it in the log; returns the commitment's recorded entry. Raises DeliveryError listing
    every problem (infeasible blueprint, class C items without a decision, an exposure cap
    r_max + ``exposure_tolerance`` that Sympson-Hetter cannot hold)."""
    if exam.status != "draft":
        raise DeliveryError(f"exam {exam.code} is {exam.status}, not draft")
    config = ExamConfig.from_dict(exam.definition)
    config.validate()
    domains = {s.domain for s in config.sections}
    items = repository.current_items(session, domains, ["operational", "pilot"])
    problems = [
        f"item {f.item_id}: DIF class {f.ets_class} ({f.attribute}: {f.focal}) has no "
        "committee decision"
        for f in repository.unresolved_dif(session, [i.item_id for i in items])
    ]
    operational = [i for i in items if i.status == "operational" and i.has_params]
    bank = repository.bank_table(operational, config.points_correct)
    problems += check_exam(config, bank)
    if problems:
        raise DeliveryError("; ".join(problems), Kind.INVALID)
    pilots = {
        d: tuple(i.item_id for i in items if i.status == "pilot" and i.domain == d) for d in domains
    }
    sections = []
    for section in config.sections:
        with_pilots = (
            dataclasses.replace(section, pilot_items=pilots[section.domain])
            if section.pilot_rate > 0
            else section
        )
        try:
            sections.append(
                with_exposure_parameters(
                    with_pilots, bank, seed=exam.id, tolerance=exposure_tolerance
                )
            )
        except ExposureCapError as exc:
            problems.append(str(exc))
    if problems:
        raise DeliveryError("; ".join(problems), Kind.INVALID)
    config = dataclasses.replace(config, sections=tuple(sections))
    versions = dict(
        session.execute(
            select(Item.id, Item.current_version).where(Item.id.in_([i.item_id for i in items]))
        ).all()
    )
    snapshot_items = [dict(i.canonical(), version=versions[i.item_id]) for i in items]
    exam.definition = config.to_dict()
    exam.snapshot_sha256 = snapshot_hash(snapshot_items)
    exam.bank_snapshot = {"items": snapshot_items, "hash": exam.snapshot_sha256}
    exam.status = "open"
    exam.opens_at = exam.opens_at or now
    for item_id, version in versions.items():
        session.execute(
            update(ItemVersion)
            .where(ItemVersion.item_id == item_id, ItemVersion.version == version)
            .values(administered=True)
        )
    rt = runtime(exam)
    # The parameter table holds every option's points (the keys) and the snapshot's hash
    # could be tried against guessed contents: both are sealed until the openings are
    # released (proctoring.openings).
    events = Events()
    events.sealed(
        "exam_committed",
        exam.code,
        now,
        {
            "parameter_table": rt.bank.parameter_table(),
            "bank_snapshot_sha256": exam.snapshot_sha256,
        },
        definition_sha256=definition_sha256(exam.definition),
        engine=engine.ENGINE_VERSION,
        seed_sha256=randomness.seed_commitment(rt.seed),
    )
    return log.record(session, events, indexed_rows=events.rows)


def definition_sha256(definition: dict) -> str:
    """What the log commits an exam's definition by (opening, committee changes, reveal)."""
    return hashlib.sha256(_canonical(definition).encode()).hexdigest()


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def new_exam(session: Session, config: ExamConfig) -> Exam:
    """A draft exam with fresh secrets (seed and pseudonym key)."""
    config.validate()
    exam = Exam(
        code=config.code,
        title=config.title,
        status="draft",
        definition=config.to_dict(),
        seed_hex=secrets.token_hex(32),
        pseudonym_key_hex=secrets.token_hex(32),
    )
    session.add(exam)
    session.flush()
    return exam


def enroll(
    session: Session,
    exam: Exam,
    user_id: int,
    registration_number: str,
    name: str,
    formation: str = "",
    track: str = "",
    attributes: dict | None = None,
    extra_time_s: int = 0,
    now: datetime | None = None,
    site: str = "",
    room: str = "",
) -> Enrollment:
    """Enroll one applicant and log it as the committee's enrollment does: the pseudonym
    with its formation and track, which the ranking checks its rows against."""
    row = Enrollment(
        exam_id=exam.id,
        user_id=user_id,
        registration_number=registration_number,
        name=name,
        formation=formation,
        track=track,
        attributes=attributes or {},
        extra_time_s=extra_time_s,
        site=site,
        room=room,
        pseudonym=pseudonym(bytes.fromhex(exam.pseudonym_key_hex), registration_number),
    )
    session.add(row)
    session.flush()
    log.record(session, [enrolled_event(exam.code, now or datetime.now(UTC), None, [row])])
    return row


def enrolled_event(code: str, now: datetime, by: int | None, rows: list[Enrollment]) -> dict:
    """``applicants_enrolled``: each new pseudonym with its extra time, formation and
    track (the ranking checks its rows against these), never a name."""
    return event(
        "applicants_enrolled",
        code,
        now,
        by=by,
        count=len(rows),
        pseudonyms=[r.pseudonym for r in rows],
        extra_time_s=[r.extra_time_s for r in rows],
        formations=[r.formation for r in rows],
        tracks=[r.track for r in rows],
    )


# -- attempts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemView:
    """What an applicant sees of an item: never the key or the option points."""

    item_id: str
    stem: str
    options: tuple[tuple[str, str], ...]
    #: Stem and options are sanitised markup (itembank.markup), not plain text.
    markup: bool = False


@dataclass(frozen=True)
class AttemptView:
    attempt_id: int
    status: str
    section: str | None
    step: int
    #: To the millisecond, for the item screen's countdown: from whole seconds (rounded
    #: down) it showed up to a second less than was left, and a reload put it back.
    remaining_ms: int
    deadline: datetime
    item: ItemView | None
    resumed: bool = False
    #: The item's number within its section ("Soal 3 dari 40"), and in a fixed section
    #: how many items it has (None in an adaptive one: its length depends on the answers).
    number: int = 0
    count: int | None = None

    @property
    def navigable(self) -> bool:
        """A fixed section: its items can be visited and answered again in any order."""
        return self.count is not None

    @property
    def remaining_seconds(self) -> int:
        return self.remaining_ms // 1000


def item_view(item: ItemContent) -> ItemView:
    return ItemView(
        item.item_id, item.stem, tuple((o.key, o.text) for o in item.options), item.markup
    )


def remaining_ms(attempt: Attempt, now: datetime) -> int:
    return max(0, (attempt.deadline_at - now) // timedelta(milliseconds=1))


def view(
    rt: ExamRuntime, attempt: Attempt, now: datetime, resumed: bool = False, step: int | None = None
) -> AttemptView:
    """The attempt as the applicant sees it: the current item, or in a fixed section the
    item at ``step`` when it is one of the section's."""
    active = attempt.status == "active" and attempt.served_item is not None
    if not active:
        return AttemptView(
            attempt.id, attempt.status, None, attempt.step, remaining_ms(attempt, now),
            attempt.deadline_at, None, resumed,
        )  # fmt: skip
    plan = rt.plans[attempt.section_index]
    shown, item_id, count = attempt.step, attempt.served_item, None
    if plan.config.kind == "fixed":
        slots = fixed.layout(plan, engine.loads(attempt.state))
        count = len(slots)
        if step is not None and 0 <= step - attempt.section_step < count:
            shown, item_id = step, slots[step - attempt.section_step].item_id
    return AttemptView(
        attempt.id,
        attempt.status,
        plan.config.name,
        shown,
        remaining_ms(attempt, now),
        attempt.deadline_at,
        item_view(rt.content(item_id)),
        resumed,
        number=shown - attempt.section_step + 1,
        count=count,
    )


def find_attempt(session: Session, enrollment: Enrollment, lock: bool = False) -> Attempt | None:
    query = select(Attempt).where(Attempt.enrollment_id == enrollment.id)
    return session.scalar(query.with_for_update() if lock else query)


def check_open(exam: Exam) -> None:
    """Refuse (409) an exam that is not open; call it before compiling the exam."""
    if exam.status != "open" or exam.snapshot_sha256 is None:
        raise DeliveryError(f"exam {exam.code} is not open")


def start_attempt(
    session: Session, rt: ExamRuntime, exam: Exam, enrollment: Enrollment, now: datetime
) -> AttemptView:
    """Start the attempt, or resume it: starting twice returns the same attempt."""
    check_open(exam)
    existing = find_attempt(session, enrollment, lock=True)
    if existing is not None:
        if existing.status == "active" and now >= existing.deadline_at:
            _finish(session, rt, existing, enrollment, now, "deadline")
        else:
            log.record(
                session,
                [
                    event(
                        "attempt_resumed",
                        rt.code,
                        now,
                        pseudonym=enrollment.pseudonym,
                        step=existing.step,
                    )
                ],
            )
        return view(rt, existing, now, resumed=True)
    if exam.closes_at is not None and now >= exam.closes_at:
        raise DeliveryError(f"exam {exam.code} has closed")
    if exam.opens_at is not None and now < exam.opens_at:
        raise DeliveryError(f"exam {exam.code} opens at {exam.opens_at.isoformat()}")
    duration = rt.config.duration_s + enrollment.extra_time_s
    plan = rt.plans[0]
    state = engine.start(plan, rt.seed, enrollment.pseudonym)
    attempt = Attempt(
        exam_id=exam.id,
        enrollment_id=enrollment.id,
        status="active",
        started_at=now,
        deadline_at=now + timedelta(seconds=duration),
        section_index=0,
        section_started_at=now,
        step=0,
        state=engine.dumps(state),
    )
    session.add(attempt)
    session.flush()
    events = Events(
        [
            event(
                "attempt_started",
                rt.code,
                now,
                pseudonym=enrollment.pseudonym,
                deadline=ms(attempt.deadline_at),
                extra_time_s=enrollment.extra_time_s,
            )
        ]
    )
    _serve_next(rt, attempt, enrollment, state, now, events)
    log.record(session, events, indexed_rows=events.rows)
    return view(rt, attempt, now)


def _serve_next(
    rt: ExamRuntime,
    attempt: Attempt,
    enrollment: Enrollment,
    state: engine.EngineState,
    now: datetime,
    events: Events,
    ended: str | None = None,
) -> Events:
    """Decide what comes next: an item of this section, the next section, or the end.
    Updates the attempt and adds the events to log to ``events``. ``ended`` ends the
    current (fixed) section for that reason first.

    Which item is served is sealed: in an adaptive section the next item's difficulty
    tells whether the last answer was right, and the item's content hash could be tried
    against each possible key. A fixed section serves its whole form at once
    (``exam.cat.fixed``): it ends when the applicant finishes it or its time is up."""
    while True:
        plan = rt.plans[attempt.section_index]
        elapsed = (now - attempt.section_started_at).total_seconds()
        if plan.config.kind == "fixed":
            limit = plan.config.time_limit_s
            reason = ended or (engine.STOP_TIME if limit is not None and elapsed >= limit else None)
            ended = None
            if reason is None:
                _serve_form(rt, attempt, enrollment, plan, state, now, events)
                return events
            # The next section's steps follow every step this one served.
            attempt.step = max(attempt.step, attempt.section_step + len(fixed.layout(plan, state)))
        else:
            decision = engine.decide(plan, state, rt.seed, enrollment.pseudonym, elapsed)
            reason = decision.stop_reason
            if decision.item_id is not None:
                attempt.state = engine.dumps(state)
                attempt.served_item, attempt.served_pilot = decision.item_id, decision.pilot
                attempt.served_at = now
                _served(
                    rt,
                    enrollment,
                    plan,
                    decision.item_id,
                    decision.pilot,
                    attempt.step,
                    now,
                    events,
                )
                return events
        attempt.state = engine.dumps(state)
        events.append(_section_finished(rt, attempt, enrollment, plan, state, reason, now))
        if attempt.section_index + 1 >= len(rt.plans):
            events += _finish_events(rt, attempt, enrollment, now, "completed")
            return events
        attempt.section_index += 1
        attempt.section_started_at = now
        attempt.section_step = attempt.step
        if attempt.marked:
            attempt.marked = None
        state = engine.start(rt.plans[attempt.section_index], rt.seed, enrollment.pseudonym)


def _served(rt, enrollment, plan, item_id: str, pilot: bool, step: int, now, events) -> None:
    events.sealed(
        "item_served",
        rt.code,
        now,
        {"item": item_id},
        # The content hash holds the key: tried against each option it finds it. Whether
        # the item is a pilot is sealed too: an applicant who knew would skip it, and the
        # pilot's calibration would be biased.
        {"item_sha256": rt.content_sha256(item_id), "pilot": pilot},
        pseudonym=enrollment.pseudonym,
        section=plan.config.name,
        step=step,
    )


def _serve_form(rt, attempt, enrollment, plan, state, now, events) -> None:
    """Serve every item of a fixed section at once, at consecutive steps."""
    slots = fixed.layout(plan, state)
    attempt.section_step = attempt.step
    for k, slot in enumerate(slots):
        _served(rt, enrollment, plan, slot.item_id, slot.pilot, attempt.step + k, now, events)
    attempt.state = engine.dumps(state)
    attempt.served_item, attempt.served_pilot = slots[0].item_id, slots[0].pilot
    attempt.served_at = now


def _section_finished(
    rt: ExamRuntime,
    attempt: Attempt,
    enrollment: Enrollment,
    plan,
    state: engine.EngineState,
    reason: str | None,
    now: datetime,
) -> dict:
    """Score a section into the attempt's results; returns its log event. A section
    without a single answer scores 0 points (not the prior's expected points)."""
    result = section_result(plan, state)
    if result.n_items == 0:
        result = dataclasses.replace(result, points=0, points_exact=0.0)
    attempt.results = {**(attempt.results or {}), plan.config.name: _result_record(result, reason)}
    return event(
        "section_finished",
        rt.code,
        now,
        pseudonym=enrollment.pseudonym,
        section=plan.config.name,
        reason=reason,
        items=result.n_items,
        theta=decimal(result.theta),
        se=decimal(result.se),
        points=result.points,
    )


def _result_record(result, stop_reason: str | None) -> dict:
    return {
        "points": result.points,
        "points_exact": decimal(result.points_exact, 4),
        "theta": decimal(result.theta),
        "se": decimal(result.se),
        "items": result.n_items,
        "method": result.method,
        "stop": stop_reason,
    }


def _finish_events(
    rt: ExamRuntime, attempt: Attempt, enrollment: Enrollment, now: datetime, reason: str
) -> list[dict]:
    attempt.status, attempt.finished_at, attempt.finish_reason = "finished", now, reason
    attempt.served_item, attempt.served_at = None, None
    results = attempt.results or {}
    total = sum(r["points"] for r in results.values())
    return [
        event(
            "attempt_finished",
            rt.code,
            now,
            pseudonym=enrollment.pseudonym,
            reason=reason,
            total=total,
            points={name: r["points"] for name, r in results.items()},
        )
    ]


def _finish(
    session: Session,
    rt: ExamRuntime,
    attempt: Attempt,
    enrollment: Enrollment,
    now: datetime,
    reason: str,
) -> log.Recorded:
    """End an attempt early (deadline, or the applicant asks): sections not reached score
    what the answers so far give."""
    state = engine.loads(attempt.state)
    events = []
    for k in range(attempt.section_index, len(rt.plans)):
        plan = rt.plans[k]
        if plan.config.name in (attempt.results or {}):
            continue
        st = (
            state
            if k == attempt.section_index
            else engine.start(plan, rt.seed, enrollment.pseudonym)
        )
        events.append(_section_finished(rt, attempt, enrollment, plan, st, reason, now))
    events += _finish_events(rt, attempt, enrollment, now, reason)
    return log.record(session, events)


def finish_on_deadline(
    session: Session, rt: ExamRuntime, attempt: Attempt, enrollment: Enrollment, now: datetime
) -> log.Recorded:
    """Finish an attempt whose deadline has passed (the exam auto-finishes)."""
    return _finish(session, rt, attempt, enrollment, now, "deadline")


def finish_attempt(
    session: Session, rt: ExamRuntime, attempt: Attempt, enrollment: Enrollment, now: datetime
) -> log.Recorded:
    """The applicant ends the exam before the deadline."""
    if attempt.status != "active":
        raise DeliveryError("the attempt has finished")
    return _finish(session, rt, attempt, enrollment, now, "submitted")


def log_applicant_access(
    session: Session, user_id: int, kind: str, now: datetime
) -> log.Recorded | None:
    """Log an applicant's ``login`` or ``logout`` in every open exam they are enrolled in
    (by pseudonym)."""
    rows = session.execute(
        select(Exam.code, Enrollment.pseudonym)
        .join(Enrollment, Enrollment.exam_id == Exam.id)
        .where(Enrollment.user_id == user_id, Exam.status == "open")
    ).all()
    if not rows:
        return None
    return log.record(session, [event(kind, code, now, pseudonym=p) for code, p in rows])


def log_proctoring_event(
    session: Session, exam: str, pseudonym: str, step: int, kind: str, client_ms: int, now
) -> log.Recorded:
    """A browser proctoring event (hidden, blur, copy …) for observers' review, never a
    sanction; returns its recorded entry."""
    entry = event(
        "proctoring", exam, now, pseudonym=pseudonym, event=kind, client_ms=client_ms, step=step
    )
    return log.record(session, [entry])


def log_client_change(
    session: Session, change: dict[str, bool], exam: str, pseudonym: str, step: int, now
) -> None:
    """``client_changed``: which of the address or the browser changed mid-exam, never
    the values."""
    log.record(
        session, [event("client_changed", exam, now, pseudonym=pseudonym, step=step, **change)]
    )
