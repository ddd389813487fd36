"""Moving around a fixed section, as CAT BKN does: the section's numbered grid (answered,
not answered, ragu-ragu), marking an item ragu-ragu, and finishing the section.

Answering (and changing an answer) is ``exam.usecases.answering``, the one answer path;
this module reads what the grid shows and logs the marks. A mark is sealed like an answer
(``proctoring.seal``): it names the item, and which item sits at a step is sealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, Enrollment, Response
from exam.adapters.runtime import ExamRuntime
from exam.cat import engine, fixed
from exam.errors import Kind
from exam.usecases.delivery import DeliveryError, _finish, _serve_next
from exam.usecases.events import Events
from proctoring import log

ANSWERED, UNANSWERED, DOUBTFUL = "answered", "unanswered", "ragu-ragu"
#: Why a section ended when the applicant finished it.
FINISHED_BY_APPLICANT = "submitted"


@dataclass(frozen=True)
class Cell:
    """One numbered item of the grid."""

    number: int
    step: int
    answered: bool
    marked: bool
    #: The applicant's own last choice (shown when they come back to the item).
    choice: str | None

    @property
    def status(self) -> str:
        if self.marked:
            return DOUBTFUL
        return ANSWERED if self.answered else UNANSWERED


@dataclass(frozen=True)
class SectionProgress:
    name: str
    answered: int
    #: Items of the section (None for an adaptive section not yet over: its length
    #: depends on the answers).
    count: int | None
    current: bool
    done: bool


@dataclass(frozen=True)
class Grid:
    section: str
    navigable: bool
    cells: tuple[Cell, ...]
    progress: tuple[SectionProgress, ...]

    def unanswered(self) -> list[int]:
        return [c.number for c in self.cells if not c.answered]

    def doubtful(self) -> list[int]:
        return [c.number for c in self.cells if c.marked]


def _running(attempt: Attempt, now: datetime) -> None:
    if attempt.status != "active":
        raise DeliveryError("the attempt has finished")
    if now >= attempt.deadline_at:
        raise DeliveryError("the time is up: the deadline has passed")


def _fixed_slots(rt: ExamRuntime, attempt: Attempt) -> tuple[fixed.Slot, ...] | None:
    plan = rt.plans[attempt.section_index]
    if plan.config.kind != "fixed":
        return None
    return fixed.layout(plan, engine.loads(attempt.state))


def grid(session: Session, rt: ExamRuntime, attempt: Attempt) -> Grid:
    """The current section's grid and every section's progress. An adaptive section has
    no grid (it runs forward only): its cells are empty."""
    if attempt.status != "active":
        raise DeliveryError("the attempt has finished")
    slots = _fixed_slots(rt, attempt) or ()
    first = attempt.section_step
    rows = session.execute(
        select(Response.step, Response.choice, Response.section).where(
            Response.attempt_id == attempt.id
        )
    ).all()
    choices = {step: choice for step, choice, _ in rows}
    marked = set(attempt.marked or ())
    cells = tuple(
        Cell(k + 1, first + k, first + k in choices, first + k in marked, choices.get(first + k))
        for k in range(len(slots))
    )
    answered_per: dict[str, int] = {}
    for _, _, section in rows:
        answered_per[section] = answered_per.get(section, 0) + 1
    progress = []
    for k, plan in enumerate(rt.plans):
        cfg = plan.config
        done = k < attempt.section_index
        if k == attempt.section_index and slots:
            count = len(slots)
        elif done:
            count = (attempt.results or {}).get(cfg.name, {}).get("items")
        else:
            count = cfg.length if cfg.kind == "fixed" else None
        current = k == attempt.section_index
        progress.append(
            SectionProgress(cfg.name, answered_per.get(cfg.name, 0), count, current, done)
        )
    name = rt.plans[attempt.section_index].config.name
    return Grid(name, bool(slots), cells, tuple(progress))


def mark(
    session: Session,
    rt: ExamRuntime,
    attempt: Attempt,
    enrollment: Enrollment,
    step: int,
    marked: bool,
    now: datetime,
) -> log.Recorded:
    """Mark (or unmark) the item at ``step`` of the running fixed section ragu-ragu;
    returns the recorded mark."""
    _running(attempt, now)
    slots = _fixed_slots(rt, attempt)
    if slots is None:
        raise DeliveryError("an adaptive section has no items to mark: it runs forward only")
    position = step - attempt.section_step
    if not 0 <= position < len(slots):
        name = rt.plans[attempt.section_index].config.name
        raise DeliveryError(f"step {step} is not an item of section {name}", Kind.INVALID)
    steps = set(attempt.marked or ())
    events = Events()
    events.sealed(
        "item_marked",
        rt.code,
        now,
        {"item": slots[position].item_id, "marked": marked},
        pseudonym=enrollment.pseudonym,
        section=rt.plans[attempt.section_index].config.name,
        step=step,
    )
    attempt.marked = sorted(steps | {step} if marked else steps - {step})
    return log.record(session, events, indexed_rows=events.rows)


def finish_section(
    session: Session, rt: ExamRuntime, attempt: Attempt, enrollment: Enrollment, now: datetime
) -> log.Recorded:
    """End the running fixed section at the applicant's request: it is scored with its
    last answers and the next section (or the end) follows. Returns the recorded entries,
    ``section_finished`` the main one. An adaptive section ends by its own rules only."""
    if attempt.status == "active" and now >= attempt.deadline_at:
        _finish(session, rt, attempt, enrollment, now, "deadline")
        raise DeliveryError("the time is up: the deadline has passed")
    _running(attempt, now)
    if _fixed_slots(rt, attempt) is None:
        raise DeliveryError("an adaptive section ends by its own rules, not on request")
    state = engine.loads(attempt.state)
    events = _serve_next(rt, attempt, enrollment, state, now, Events(), ended=FINISHED_BY_APPLICANT)
    ended = next(k for k, e in enumerate(events) if e["type"] == "section_finished")
    return log.record(session, events, indexed_rows=events.rows, main=ended)
