"""A fixed section as CAT BKN runs it: every item of the drawn form is served at once, the
applicant answers them in any order and may change an answer until the section ends, and
the score counts the last answer to each item.

The section's *layout* is the form in its keyed order with the pilot items at their slots
(``exam.cat.pilots``), exactly the order the forward-only engine would serve them in. The
engine state of a running fixed section holds the last answers recorded in layout order
(``with_answer`` rebuilds it from a fresh start on every change), so the state after any
sequence of answers and changes depends only on the last answers: the server and an
observer's replay (``replay_fixed_section``) compute the same numbers by the same steps.
Pure functions of plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from exam.cat import engine
from exam.cat.engine import EngineState
from exam.cat.outcome import SectionResult, section_result
from exam.cat.plan import SectionPlan

UNANSWERED = -1


@dataclass(frozen=True)
class Slot:
    """One numbered place of a fixed section: a pool item (``index`` into the plan) or a
    pilot item (``index`` into ``config.pilot_items``)."""

    item_id: str
    pilot: bool
    index: int


def layout(plan: SectionPlan, st: EngineState) -> tuple[Slot, ...]:
    """The section's items in presentation order: the drawn form, each pilot item before
    the operational position its slot names (pilots whose slot lies past the form's end
    are never served, as in the forward engine)."""
    form = [int(i) for i in st.form[0] if i >= 0]
    pilots = [
        (int(slot), int(p))
        for slot, p in zip(st.pilot_slots[0], st.pilot_items[0], strict=True)
        if p >= 0
    ]
    out: list[Slot] = []
    j = 0
    for position, item in enumerate(form):
        while j < len(pilots) and pilots[j][0] <= position:
            out.append(Slot(plan.config.pilot_items[pilots[j][1]], True, pilots[j][1]))
            j += 1
        out.append(Slot(plan.ids[item], False, item))
    return tuple(out)


def answers_of(plan: SectionPlan, st: EngineState) -> dict[int, int]:
    """The last answer (category) at each answered position of the layout."""
    slots = layout(plan, st)
    operational = {int(i): int(r) for i, r in zip(st.items[0], st.responses[0], strict=True)}
    out = {}
    for position, slot in enumerate(slots):
        if slot.pilot:
            j = int(np.flatnonzero(st.pilot_items[0] == slot.index)[0])
            response = int(st.pilot_responses[0, j])
        else:
            response = operational.get(slot.index, UNANSWERED)
        if response != UNANSWERED:
            out[position] = response
    return out


def _fresh(plan: SectionPlan, st: EngineState) -> EngineState:
    """``st`` with no answer: the same form and pilot schedule, nothing recorded."""
    new = engine.initial_state(plan, 1)
    new.form[:] = st.form
    new.pilot_items[:] = st.pilot_items
    new.pilot_slots[:] = st.pilot_slots
    return new


def with_answers(plan: SectionPlan, st: EngineState, answers: Mapping[int, int]) -> EngineState:
    """A new state holding exactly ``answers`` (layout position → category), recorded in
    layout order. Pilot answers are kept beside the pilot they answer, never scored."""
    slots = layout(plan, st)
    new = _fresh(plan, st)
    last_pilot = -1
    for position in sorted(answers):
        slot, category = slots[position], int(answers[position])
        if slot.pilot:
            j = int(np.flatnonzero(new.pilot_items[0] == slot.index)[0])
            new.pilot_responses[0, j] = category
            last_pilot = max(last_pilot, j)
            continue
        if not 0 <= category < int(plan.params.n_categories[slot.index]):
            raise ValueError(f"item {slot.item_id}: response {category} is not a category")
        engine.record(
            plan, new, np.array([slot.index], dtype=np.int64), np.array([category], dtype=np.int64)
        )
    # The pilot responses stay beside their items; ``pilot_n`` covers the last answered.
    new.pilot_n[0] = last_pilot + 1
    return new


def with_answer(plan: SectionPlan, st: EngineState, position: int, category: int) -> EngineState:
    """A new state with the answer at ``position`` set (or changed) to ``category``."""
    if not 0 <= position < len(layout(plan, st)):
        raise ValueError(f"section {plan.config.name}: there is no position {position}")
    return with_answers(plan, st, {**answers_of(plan, st), position: category})


@dataclass(frozen=True)
class ReplayedFixed:
    result: SectionResult
    slots: tuple[Slot, ...]


def replay_fixed_section(
    plan: SectionPlan, seed: bytes, pseudonym: str, answers: Mapping[int, int]
) -> ReplayedFixed:
    """Replay a fixed section from its last answers (layout position → category): the
    same form, the same pilot slots, the same score as the server's."""
    st = engine.start(plan, seed, pseudonym)
    slots = layout(plan, st)
    wrong = [p for p in answers if not 0 <= p < len(slots)]
    if wrong:
        raise ValueError(f"section {plan.config.name}: positions {wrong} are not in the form")
    return ReplayedFixed(section_result(plan, with_answers(plan, st, answers)), slots)
