"""Appeals ("sanggahan") against published results, and re-keying an item.

An applicant files an appeal within the window after the first publication (``appeal_hours``
of the exam's rules, 72 by default), citing log entries as evidence; the committee answers,
upheld or rejected. Both steps are logged, the texts by SHA-256 only (they may name people).
An upheld appeal may re-key an item: ``item_rekeyed`` carries the corrected scoring, every
finished attempt that answered the item is re-scored on the items it was served
(``exam.cat.replay.rescore_section``: the items seen are history, only what the answers earn
changes) and logged as ``attempt_rescored``. The committee then publishes a new version of
the results; the first stays visible, and the new one lists who changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.adapters.models import Appeal, Attempt, Enrollment, Exam, Publication, Response
from exam.adapters.runtime import ExamRuntime
from exam.cat.replay import rescore_section
from exam.errors import Kind
from exam.usecases.delivery import DeliveryError, _result_record
from exam.usecases.events import Events, event
from proctoring import log
from proctoring.canonical import text_sha256

DEFAULT_WINDOW_HOURS = 72
TEXT_LIMITS = (10, 4000)


def window(session: Session, exam: Exam) -> tuple[datetime, datetime] | None:
    """When appeals may be filed: from the first publication for ``appeal_hours``."""
    first = session.scalar(
        select(Publication.published_at)
        .where(Publication.exam_id == exam.id)
        .order_by(Publication.version)
        .limit(1)
    )
    if first is None:
        return None
    hours = int((exam.definition.get("rules") or {}).get("appeal_hours", DEFAULT_WINDOW_HOURS))
    return first, first + timedelta(hours=hours)


def file_appeal(
    session: Session,
    exam: Exam,
    enrollment: Enrollment,
    text: str,
    references: list[int],
    now: datetime,
) -> Appeal:
    text = text.strip()
    opened = window(session, exam)
    if opened is None:
        raise DeliveryError("the results are not published yet")
    if not opened[0] <= now <= opened[1]:
        raise DeliveryError(
            f"the appeal window closed at {opened[1].isoformat(timespec='minutes')}"
        )
    if not TEXT_LIMITS[0] <= len(text) <= TEXT_LIMITS[1]:
        raise DeliveryError(
            f"text: write {TEXT_LIMITS[0]}–{TEXT_LIMITS[1]} characters", Kind.INVALID
        )
    size = log.size(session)
    bad = [r for r in references if not 0 <= r < size]
    if bad:
        raise DeliveryError(f"references: no log entry {bad[0]}", Kind.INVALID)
    appeal = Appeal(
        exam_id=exam.id,
        enrollment_id=enrollment.id,
        text=text,
        references=references,
        status="filed",
        filed_at=now,
        log_index=-1,
    )
    session.add(appeal)
    session.flush()
    log.record(
        session,
        [
            event(
                "appeal_filed",
                exam.code,
                now,
                pseudonym=enrollment.pseudonym,
                appeal=appeal.id,
                text_sha256=text_sha256(text),
                references=references,
            )
        ],
        then=log.index_into(appeal),
    )
    return appeal


def answer_appeal(
    session: Session,
    rt: ExamRuntime,
    exam: Exam,
    appeal: Appeal,
    decision: str,
    answer: str,
    by: int,
    now: datetime,
    rekey: tuple[str, str] | None = None,
) -> list[str]:
    """Answer an appeal; an upheld one may re-key item ``rekey[0]`` so that option
    ``rekey[1]`` is the correct one. Returns the pseudonyms whose scores changed."""
    if appeal.status != "filed":
        raise DeliveryError(f"appeal {appeal.id} is already answered")
    if decision not in ("upheld", "rejected"):
        raise DeliveryError("decision: upheld or rejected", Kind.INVALID)
    if not answer.strip():
        raise DeliveryError("answer: write the committee's reasons", Kind.INVALID)
    if rekey and decision != "upheld":
        raise DeliveryError("only an upheld appeal re-keys an item", Kind.INVALID)
    enrollment = session.get(Enrollment, appeal.enrollment_id)
    appeal.status, appeal.answer, appeal.answered_at = decision, answer.strip(), now
    log.record(
        session,
        [
            event(
                "appeal_answered",
                exam.code,
                now,
                by=by,
                appeal=appeal.id,
                pseudonym=enrollment.pseudonym,
                decision=decision,
                answer_sha256=text_sha256(appeal.answer),
                references=[appeal.log_index],
            )
        ],
        then=log.index_into(appeal, "answer_log_index"),
    )
    return _rekey(session, rt, exam, appeal, *rekey, now) if rekey else []


def _rekey(
    session: Session, rt: ExamRuntime, exam: Exam, appeal: Appeal, item_id: str, key: str, now
) -> list[str]:
    item = rt.items.get(item_id)
    if item is None or item.polytomous:
        raise DeliveryError(f"item {item_id} is not a keyed item of this exam", Kind.INVALID)
    if key not in {o.key for o in item.options}:
        raise DeliveryError(f"{key!r} is not an option of item {item_id}", Kind.INVALID)
    scoring = {o.key: int(o.key == key) for o in item.options}
    # The corrected scoring is the item's key: sealed like the answers it re-scores.
    events = Events()
    events.sealed(
        "item_rekeyed",
        exam.code,
        now,
        {"item": item_id, "scoring": scoring},
        appeal=appeal.id,
        references=[appeal.answer_log_index],
    )
    log.record(session, events, indexed_rows=events.rows)
    # (The ids first: PostgreSQL has no equality on JSON columns for a DISTINCT of rows.)
    answered = select(Response.attempt_id).where(Response.item_id == item_id)
    affected = session.execute(
        select(Attempt, Enrollment)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .where(Attempt.exam_id == exam.id, Attempt.status == "finished", Attempt.id.in_(answered))
        .order_by(Attempt.id)
    ).all()
    changed = []
    for attempt, enrollment in affected:
        responses = list(
            session.scalars(
                select(Response).where(Response.attempt_id == attempt.id).order_by(Response.step)
            )
        )
        section = next(r.section for r in responses if r.item_id == item_id)
        for r in responses:
            if r.item_id == item_id:
                r.category = scoring[r.choice]
        plan = next(p for p in rt.plans if p.config.name == section)
        mine = [r for r in responses if r.section == section and not r.pilot]
        result = rescore_section(
            plan,
            rt.seed,
            enrollment.pseudonym,
            [r.item_id for r in mine],
            [r.category for r in mine],
        )
        record = _result_record(result, (attempt.results or {}).get(section, {}).get("stop"))
        before = (attempt.results or {}).get(section, {}).get("points")
        attempt.results = {**(attempt.results or {}), section: record}
        total = sum(r["points"] for r in attempt.results.values())
        log.record(
            session,
            [
                event(
                    "attempt_rescored",
                    exam.code,
                    now,
                    pseudonym=enrollment.pseudonym,
                    section=section,
                    points=record["points"],
                    theta=record["theta"],
                    se=record["se"],
                    total=total,
                    appeal=appeal.id,
                )
            ],
        )
        if before != record["points"]:
            changed.append(enrollment.pseudonym)
    return changed


def appeals_of(session: Session, exam: Exam) -> list[tuple[Appeal, Enrollment]]:
    return list(
        session.execute(
            select(Appeal, Enrollment)
            .join(Enrollment, Enrollment.id == Appeal.enrollment_id)
            .where(Appeal.exam_id == exam.id)
            .order_by(Appeal.id)
        ).all()
    )
