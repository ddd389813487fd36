"""Fixed sections as CAT BKN runs them: the layout is the forward engine's order, the state
holds the last answers whatever the order they came in, and the replay gives the same."""

import dataclasses

import numpy as np
import pytest

from exam.cat import engine, fixed
from exam.cat.blueprint import SectionConfig
from exam.cat.outcome import section_result
from exam.cat.plan import compile_section
from itembank.synthetic import synthetic_bank
from tests.unit.conftest import SEED


@pytest.fixture
def plan():
    bank = synthetic_bank(60, seed=5, domain="TWK", topics=1)
    config = SectionConfig(
        "TWK",
        "TWK",
        kind="fixed",
        max_items=10,
        pilot_items=tuple(f"PILOT-{i}" for i in range(4)),
        pilot_rate=0.2,
    )
    return compile_section(config, bank)


def forward(plan, pseudonym, respond):
    """The forward engine: serve, answer, repeat; returns the served order and state."""
    st = engine.start(plan, SEED, pseudonym)
    served = []
    while (d := engine.decide(plan, st, SEED, pseudonym)).item is not None:
        served.append(d.item_id)
        response = respond(len(served) - 1)
        st = (
            engine.answer_pilot(st, response)
            if d.pilot
            else engine.answer(plan, st, d.item, response)
        )
    return served, st


def test_the_layout_is_the_forward_order_with_the_pilots(plan):
    st = engine.start(plan, SEED, "P-1")
    slots = fixed.layout(plan, st)
    served, _ = forward(plan, "P-1", lambda k: 1)
    assert [s.item_id for s in slots] == served
    assert sum(s.pilot for s in slots) == 2 and len(slots) == 12


def test_answers_in_any_order_with_changes_give_the_forward_state(plan):
    st = engine.start(plan, SEED, "P-2")
    slots = fixed.layout(plan, st)
    final = {p: (p * 7) % 2 for p in range(len(slots))}
    _, straight = forward(plan, "P-2", lambda k: final[k])
    # Out of order, each item first answered otherwise, then changed to its final answer.
    order = [5, 0, 11, 3, 8, 1, 10, 2, 9, 4, 7, 6]
    for p in order:
        st = fixed.with_answer(plan, st, p, 1 - final[p])
    for p in reversed(order):
        st = fixed.with_answer(plan, st, p, final[p])
    assert fixed.answers_of(plan, st) == final
    assert section_result(plan, st) == section_result(plan, straight)
    assert st.loglik.tobytes() == straight.loglik.tobytes()
    replayed = fixed.replay_fixed_section(plan, SEED, "P-2", final)
    assert replayed.result == section_result(plan, st)


def test_unanswered_items_earn_nothing_and_pilots_never_count(plan):
    st = engine.start(plan, SEED, "P-3")
    slots = fixed.layout(plan, st)
    operational = [p for p, s in enumerate(slots) if not s.pilot]
    pilots = [p for p, s in enumerate(slots) if s.pilot]
    st = fixed.with_answers(plan, st, {operational[0]: 1, operational[3]: 1, pilots[1]: 0})
    result = section_result(plan, st)
    assert result.n_items == 2 and result.points == 2 * 5
    assert result.items == (slots[operational[0]].item_id, slots[operational[3]].item_id)
    assert fixed.answers_of(plan, st) == {operational[0]: 1, operational[3]: 1, pilots[1]: 0}
    with_pilot = fixed.with_answer(plan, st, pilots[0], 1)
    assert section_result(plan, with_pilot).points == result.points


def test_positions_and_categories_outside_the_form_are_refused(plan):
    st = engine.start(plan, SEED, "P-4")
    with pytest.raises(ValueError, match="no position 12"):
        fixed.with_answer(plan, st, 12, 1)
    operational = next(p for p, s in enumerate(fixed.layout(plan, st)) if not s.pilot)
    with pytest.raises(ValueError, match="not a category"):
        fixed.with_answer(plan, st, operational, 7)
    with pytest.raises(ValueError, match="not in the form"):
        fixed.replay_fixed_section(plan, SEED, "P-4", {40: 1})


def test_state_round_trips_through_storage(plan):
    st = engine.start(plan, SEED, "P-5")
    st = fixed.with_answers(plan, st, {0: 1, 4: 0, 9: 1})
    again = engine.loads(engine.dumps(st))
    assert fixed.answers_of(plan, again) == {0: 1, 4: 0, 9: 1}
    assert np.array_equal(again.form, st.form)
    assert dataclasses.asdict(section_result(plan, again)) == dataclasses.asdict(
        section_result(plan, st)
    )
