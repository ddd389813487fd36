"""Forensic screening of an exam: the recorded answers as the pure screening's input, the
flags it raises stored and committed to the audit log, and the human review of each flag.

The statistics are ``proctoring.screening`` (pure); here are only the edges: reading the
answers, storing flags, logging. Every flag's canonical document is hashed into the log
(``flag_raised``), as are the committee's settings, each screening run, and every note and
decision (by the SHA-256 of the text: it may name people). A flag is never a sanction: the
only decisions are "no further action" and "referred for examination", each with a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.adapters.models import (
    Attempt,
    Enrollment,
    Exam,
    FlagReview,
    ForensicFlag,
    ForensicSettings,
    Response,
)
from exam.adapters.runtime import RuntimeRegistry, compiled
from exam.errors import Kind
from exam.usecases.delivery import DeliveryError
from exam.usecases.events import event
from proctoring import log
from proctoring.canonical import canonical, decimal, text_sha256
from proctoring.screening import (
    OPTION_KEYS,
    Screening,
    ScreeningRules,
    SectionAnswers,
    screen,
)

#: Enrollment attributes that name the room or session an applicant sat in.
ROOM_ATTRIBUTES = ("room", "ruang", "session", "sesi")
DECISIONS = ("no_action", "referred")
TEXT_MAX = 2000


@dataclass(frozen=True)
class RunSummary:
    raised: int
    result: Screening
    logged: log.Recorded


def room_of(attributes: dict) -> str:
    for key in ROOM_ATTRIBUTES:
        if str(attributes.get(key, "")).strip():
            return str(attributes[key]).strip()
    return ""


def section_answers(
    session: Session, exam: Exam, runtimes: RuntimeRegistry | None = None
) -> list[SectionAnswers]:
    """Every operational answer of exam ``exam``, one ``SectionAnswers`` per section,
    scored by the exam's own definition (from ``runtimes`` if given)."""
    if exam.snapshot_sha256 is None:
        return []
    rt = compiled(exam, runtimes)
    rows = session.execute(
        select(
            Enrollment.pseudonym,
            Enrollment.attributes,
            Response.section,
            Response.item_id,
            Response.choice,
            Response.category,
            Response.step,
            Response.served_at,
            Response.answered_at,
        )
        .join(Attempt, Attempt.enrollment_id == Enrollment.id)
        .join(Response, Response.attempt_id == Attempt.id)
        .where(Attempt.exam_id == exam.id, Response.pilot.is_(False))
        .order_by(Enrollment.pseudonym, Response.step)
    ).all()
    out = []
    for plan in rt.plans:
        name = plan.config.name
        mine = [r for r in rows if r.section == name]
        if not mine:
            continue
        persons = sorted({r.pseudonym for r in mine})
        served = sorted({r.item_id for r in mine}, key=plan.ids.index)
        p_index = {p: i for i, p in enumerate(persons)}
        i_index = {item: j for j, item in enumerate(served)}
        shape = (len(persons), len(served))
        responses = np.full(shape, -1, dtype=np.int64)
        choices = np.full(shape, -1, dtype=np.int64)
        seconds = np.full(shape, np.nan)
        positions = np.full(shape, -1, dtype=np.int64)
        rooms = [""] * len(persons)
        for r in mine:
            i, j = p_index[r.pseudonym], i_index[r.item_id]
            keys = [o.key for o in rt.content(r.item_id).options]
            responses[i, j] = r.category
            choices[i, j] = keys.index(r.choice) if r.choice in keys else -1
            seconds[i, j] = max((r.answered_at - r.served_at).total_seconds(), 0.0)
            positions[i, j] = r.step
            rooms[i] = room_of(r.attributes or {})
        option_category = np.full((len(served), len(OPTION_KEYS)), -1, dtype=np.int64)
        for j, item_id in enumerate(served):
            content = rt.content(item_id)
            for k, option in enumerate(content.options[: len(OPTION_KEYS)]):
                option_category[j, k] = content.category_of(option.key)
        params = plan.params.subset(np.array([plan.ids.index(i) for i in served]))
        out.append(
            SectionAnswers(
                name,
                tuple(persons),
                tuple(served),
                params,
                responses,
                choices,
                option_category,
                seconds,
                positions,
                tuple(rooms),
            )
        )
    return out


def settings_of(session: Session, exam: Exam) -> ForensicSettings:
    found = session.get(ForensicSettings, exam.id)
    return found or ForensicSettings(exam_id=exam.id, level=0.05, compromised=[])


def served_items(session: Session, exam: Exam) -> list[str]:
    """The operational items the exam has served so far (what can be marked compromised)."""
    return sorted(
        session.scalars(
            select(Response.item_id)
            .join(Attempt, Attempt.id == Response.attempt_id)
            .where(Attempt.exam_id == exam.id, Response.pilot.is_(False))
            .distinct()
        )
    )


def set_settings(
    session: Session,
    exam: Exam,
    level: float,
    compromised: list[str],
    user_id: int,
    role: str,
    now: datetime,
    runtimes: RuntimeRegistry | None = None,
) -> log.Recorded:
    """Store and log the screening level and the items marked as possibly compromised."""
    if not 0.001 <= level <= 0.2:
        raise DeliveryError(
            "level: choose a false discovery rate between 0.001 and 0.2", Kind.INVALID
        )
    pool = set(compiled(exam, runtimes).items) if exam.snapshot_sha256 else set()
    unknown = sorted(set(compromised) - pool)
    if unknown:
        raise DeliveryError(
            f"compromised: not items of exam {exam.code}: {', '.join(unknown)}", Kind.INVALID
        )
    current = session.get(ForensicSettings, exam.id)
    if current is None:
        current = ForensicSettings(exam_id=exam.id)
        session.add(current)
    current.level, current.compromised, current.updated_at = level, sorted(set(compromised)), now
    return log.record(
        session,
        [
            event(
                "forensics_settings",
                exam.code,
                now,
                by=user_id,
                role=role,
                level=decimal(level, 3),
                compromised=current.compromised,
            )
        ],
    )


def inputs(
    session: Session,
    exam: Exam,
    now: datetime,
    n_boot: int = 200,
    runtimes: RuntimeRegistry | None = None,
) -> tuple[ScreeningRules, list[SectionAnswers]]:
    """The screening's input: the committee's rules and every answer so far."""
    if exam.status == "draft":
        raise DeliveryError(f"exam {exam.code} has not opened: there are no answers yet")
    settings = settings_of(session, exam)
    rules = ScreeningRules(
        level=settings.level,
        compromised=frozenset(settings.compromised),
        n_boot=n_boot,
        seed=int(exam.seed_hex[:8], 16) ^ int(now.timestamp()),
    )
    return rules, section_answers(session, exam, runtimes)


def run(
    session: Session,
    exam: Exam,
    user_id: int,
    role: str,
    now: datetime,
    n_boot: int = 200,
    runtimes: RuntimeRegistry | None = None,
) -> RunSummary:
    """Screen every answer so far; store and log the flags not raised before."""
    rules, sections = inputs(session, exam, now, n_boot, runtimes)
    return record(session, exam, rules, screen(sections, rules), user_id, role, now)


def record(
    session: Session,
    exam: Exam,
    rules: ScreeningRules,
    result: Screening,
    user_id: int,
    role: str,
    now: datetime,
) -> RunSummary:
    """Log a screening run and store and log the flags it raised that were not raised
    before (the screening itself may run outside the transaction: it is pure)."""
    known = set(
        session.execute(
            select(ForensicFlag.kind, ForensicFlag.section, ForensicFlag.subject).where(
                ForensicFlag.exam_id == exam.id
            )
        ).all()
    )
    fresh = [f for f in result.flags if (f.kind, f.section, "|".join(f.pseudonyms)) not in known]
    run = log.record(
        session,
        [
            event(
                "forensics_run",
                exam.code,
                now,
                by=user_id,
                role=role,
                level=decimal(rules.level, 3),
                compromised=sorted(rules.compromised),
                tested={f"{t.section}/{t.kind}": t.tested for t in result.tested},
                flagged=len(result.flags),
                raised=len(fresh),
            )
        ],
    )
    for flag in fresh:
        document = flag.document(exam.code)
        commitment = flag.commitment(exam.code)
        row = ForensicFlag(
            exam_id=exam.id,
            kind=flag.kind,
            section=flag.section,
            subject="|".join(flag.pseudonyms),
            pseudonyms=list(flag.pseudonyms),
            statistic=_finite(flag.statistic),
            p_value=_finite(flag.p_value),
            q_value=_finite(flag.q_value),
            document=canonical(document),
            commitment=commitment,
            raised_at=now,
            log_index=0,
        )
        session.add(row)
        session.flush()
        log.record(
            session,
            [
                event(
                    "flag_raised",
                    exam.code,
                    now,
                    flag=row.id,
                    statistic=flag.kind,
                    section=flag.section,
                    pseudonyms=list(flag.pseudonyms),
                    commitment=commitment,
                )
            ],
            then=log.index_into(row),
        )
    return RunSummary(len(fresh), result, run)


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def review(
    session: Session,
    flag: ForensicFlag,
    exam: Exam,
    text: str,
    decision: str,
    user_id: int,
    role: str,
    now: datetime,
) -> FlagReview:
    """A note on a flag (``decision`` empty), or the committee's decision with its reason.
    Either is logged with the text's SHA-256."""
    text = text.strip()
    if not text or len(text) > TEXT_MAX:
        raise DeliveryError(f"text: write 1–{TEXT_MAX} characters", Kind.INVALID)
    if decision and decision not in DECISIONS:
        raise DeliveryError(f"decision: one of {', '.join(DECISIONS)}", Kind.INVALID)
    if decision and role != "committee":
        raise DeliveryError("only the committee decides on a flag", Kind.FORBIDDEN)
    kind = "flag_decision" if decision else "flag_note"
    fields = {"flag": flag.id, "by": user_id, "role": role, "text_sha256": text_sha256(text)}
    if decision:
        fields["decision"] = decision
        flag.status = decision
    row = FlagReview(
        flag_id=flag.id,
        decision=decision,
        text=text,
        user_id=user_id,
        role=role,
        created_at=now,
        log_index=-1,
    )
    session.add(row)
    log.record(session, [event(kind, exam.code, now, **fields)], then=log.index_into(row))
    return row


def flags_of(session: Session, exam: Exam) -> list[tuple[ForensicFlag, list[FlagReview]]]:
    """The exam's flags, open ones first, each with its notes and decisions."""
    flags = list(
        session.scalars(
            select(ForensicFlag)
            .where(ForensicFlag.exam_id == exam.id)
            .order_by(ForensicFlag.status != "open", ForensicFlag.kind, ForensicFlag.id)
        )
    )
    reviews: dict[int, list[FlagReview]] = {f.id: [] for f in flags}
    if flags:
        for r in session.scalars(
            select(FlagReview).where(FlagReview.flag_id.in_(list(reviews))).order_by(FlagReview.id)
        ):
            reviews[r.flag_id].append(r)
    return [(f, reviews[f.id]) for f in flags]


def evidence(flag: ForensicFlag) -> dict:
    return json.loads(flag.document)
