"""The adaptive engine: determinism, constraints, stopping and fixed forms."""

import dataclasses

import numpy as np
import pytest

from exam.cat import engine
from exam.cat.blueprint import ContentRule, ExposureConfig, SectionConfig
from exam.cat.feasibility import check_section, section_problems
from exam.cat.outcome import section_result
from exam.cat.plan import InfeasibleError, compile_section
from exam.cat.replay import replay_section
from exam.cat.simulation import simulate, splitmix_uniforms, with_exposure_parameters
from itembank.synthetic import synthetic_bank
from itembank.table import make_table
from scoring.params import ItemParams, ItemSpec
from tests.unit.conftest import SEED, answers


def run_attempt(plan, pseudonym, respond, seed=SEED, excluded=()):
    st = engine.start(plan, seed, pseudonym, excluded)
    while (d := engine.decide(plan, st, seed, pseudonym)).item is not None:
        st = engine.answer(plan, st, d.item, respond())
    return st, d.stop_reason


def test_same_inputs_give_the_same_attempt_byte_for_byte(bank, blueprint):
    plan = compile_section(blueprint, bank)
    a, _ = run_attempt(plan, "P-001", answers(1))
    b, _ = run_attempt(plan, "P-001", answers(1))
    ra, rb = section_result(plan, a), section_result(plan, b)
    assert ra == rb
    assert np.array_equal(a.thetas, b.thetas, equal_nan=True)
    assert a.thetas.tobytes() == b.thetas.tobytes()


def test_replay_reproduces_the_attempt(bank, blueprint):
    plan = compile_section(blueprint, bank)
    st, reason = run_attempt(plan, "P-002", answers(2))
    live = section_result(plan, st)
    replayed = replay_section(plan, SEED, "P-002", live.responses)
    assert replayed.result == live
    assert replayed.next_item is None and replayed.stop_reason == reason


def test_different_pseudonyms_get_different_randomesque_picks(bank, blueprint):
    plan = compile_section(blueprint, bank)
    firsts = {
        engine.decide(plan, engine.start(plan, SEED, f"P{i}"), SEED, f"P{i}").item_id
        for i in range(60)
    }
    assert len(firsts) >= 4  # k = 5: the first item varies between applicants


def test_a_different_seed_changes_the_picks(bank, blueprint):
    plan = compile_section(blueprint, bank)
    a, _ = run_attempt(plan, "P-003", answers(3))
    b, _ = run_attempt(plan, "P-003", answers(3), seed=b"another seed")
    assert not np.array_equal(a.items, b.items)


def test_constraints_hold_over_thousands_of_attempts(bank, blueprint):
    plan = compile_section(blueprint, bank)
    n = 3000
    rng = np.random.default_rng(5)
    excluded = [rng.choice(plan.size, 30, replace=False) for _ in range(n)]
    st = engine.initial_state(plan, n, excluded)
    names = [f"S{i}" for i in range(n)]
    theta = rng.normal(0, 1, n)
    for _ in range(blueprint.max_items):
        assert (engine.stop_codes(plan, st) == 0).all()
        draw = engine.attempt_draws(SEED, names, plan.config.name, st.n)
        items = engine.select_items(plan, st, draw)
        p = plan.params
        prob = p.c[items] + (1 - p.c[items]) / (1 + np.exp(-p.a[items] * (theta - p.b[items])))
        engine.record(plan, st, items, (rng.random(n) < prob).astype(np.int64))
    assert (engine.stop_codes(plan, st) > 0).all()
    enemy_pairs = {(i, int(j)) for i in range(plan.size) for j in plan.enemies_of(i)}
    for b in range(n):
        given = st.items[b, : st.n[b]]
        assert len(set(given.tolist())) == given.size  # never the same item twice
        counts = np.bincount(plan.topic_of[given], minlength=4)
        assert (counts >= plan.topic_min).all() and (counts <= plan.topic_max).all()
        assert not set(given.tolist()) & set(excluded[b].tolist())
        assert not any((int(i), int(j)) in enemy_pairs for i in given for j in given)


@pytest.mark.parametrize("method", ["randomesque", "sympson-hetter", "none"])
@pytest.mark.parametrize("estimator", ["eap", "mle", "wle"])
def test_batch_and_single_attempt_agree(bank, blueprint, method, estimator):
    config = dataclasses.replace(
        blueprint, estimator=estimator, exposure=ExposureConfig(method, derived=True)
    )
    plan = compile_section(config, bank)
    if method == "sympson-hetter":
        plan = plan.with_exposure_parameters(np.linspace(0.2, 1.0, plan.size))
    theta = np.linspace(-2, 2, 30)
    # simulate() re-runs the simulees one by one and raises unless items and θ after
    # every answer agree to the last bit; batches of 7 make several batches.
    result = simulate(plan, theta, SEED, answer_seed=3, timed=30, batch_size=7)
    assert result.step_us.size == 30 * blueprint.max_items
    for i in (0, 13, 29):
        st = engine.start(plan, SEED, f"sim{i:07d}")
        for item, resp in zip(result.items[i], result.items[i], strict=True):
            del resp
            u = splitmix_uniforms(3, np.array([i]), plan.rows[[item]])
            from exam.cat.simulation import simulated_responses

            r = int(simulated_responses(plan, theta[[i]], np.array([item]), u)[0])
            st = engine.answer(plan, st, int(item), r)
        single = section_result(plan, st)
        assert single.theta == result.theta[i] and single.se == result.se[i]


def test_a_topic_with_maximum_zero_is_never_served(bank):
    config = SectionConfig(
        "TIU",
        "TIU",
        max_items=10,
        content=(ContentRule("T1", 2, 10), ContentRule("T2", 0, 0)),
        exposure=ExposureConfig("none"),
    )
    plan = compile_section(config, bank)
    for i in range(20):
        st, _ = run_attempt(plan, f"P{i}", answers(i))
        given = st.items[0, : st.n[0]]
        assert (plan.topic_of[given] == 0).all()


def test_infeasible_topic_minimum_is_reported(bank, blueprint):
    rules = (*blueprint.content[:3], ContentRule("T4", 150, 150))
    config = dataclasses.replace(blueprint, max_items=170, content=rules)
    with pytest.raises(InfeasibleError) as err:
        check_section(config, bank)
    assert any(
        "topic T4 has 100 items, fewer than its minimum 150" in p for p in err.value.problems
    )


def test_enemies_can_make_a_blueprint_infeasible():
    # Topic A has 3 items, all enemies of each other; the blueprint wants 2 of A.
    params = ItemParams.from_specs([ItemSpec(f"i{k}", "2pl", 1.0, 0.0) for k in range(8)])
    bank = make_table(params, ["D"] * 8, ["A"] * 3 + ["B"] * 5, [("i0", "i1", "i2")])
    config = SectionConfig(
        "D",
        "D",
        max_items=4,
        content=(ContentRule("A", 2, 2), ContentRule("B", 2, 2)),
        exposure=ExposureConfig("none"),
    )
    plan = compile_section(config, bank)
    problems = section_problems(plan)
    assert problems and "enemy" in problems[0]
    # Without the enemy set it is feasible.
    free = make_table(params, ["D"] * 8, ["A"] * 3 + ["B"] * 5)
    assert section_problems(compile_section(config, free)) == []
    # And the engine refuses to break the rule at run time rather than dropping it.
    with pytest.raises(InfeasibleError):
        run_attempt(plan, "P", answers(0))


def test_one_item_section(bank):
    config = SectionConfig("TIU", "TIU", max_items=1, exposure=ExposureConfig("none"))
    plan = compile_section(config, bank)
    st, reason = run_attempt(plan, "P", lambda: 1)
    assert int(st.n[0]) == 1 and reason == engine.STOP_MAX_ITEMS
    result = section_result(plan, st)
    assert result.n_items == 1 and result.theta > 0


def test_se_target_stops_early_but_not_before_min_items(bank):
    config = SectionConfig(
        "TIU", "TIU", min_items=8, max_items=40, se_target=0.45, exposure=ExposureConfig("none")
    )
    plan = compile_section(config, bank)
    st, reason = run_attempt(plan, "P", answers(4))
    assert reason == engine.STOP_SE_TARGET
    assert 8 <= int(st.n[0]) < 40 and st.se[0] <= 0.45


def test_time_stops_even_an_attempt_that_ran_out_of_items():
    params = ItemParams.from_specs([ItemSpec(f"i{k}", "2pl", 1.0, 0.0) for k in range(4)])
    bank = make_table(params, ["D"] * 4, ["A", "A", "B", "B"], [("i0", "i1")])
    config = SectionConfig(
        "D",
        "D",
        max_items=4,
        time_limit_s=60,
        content=(ContentRule("A", 2, 2), ContentRule("B", 2, 2)),
        exposure=ExposureConfig("none"),
    )
    plan = compile_section(config, bank)
    st = engine.start(plan, SEED, "P")
    for _ in range(3):  # i0, then B twice: i1 (topic A) is i0's enemy
        st = engine.answer(plan, st, engine.decide(plan, st, SEED, "P").item, 1)
    with pytest.raises(InfeasibleError):
        engine.decide(plan, st, SEED, "P", elapsed_s=10)
    assert engine.decide(plan, st, SEED, "P", elapsed_s=60).stop_reason == engine.STOP_TIME


def test_section_time_stops(bank, blueprint):
    config = dataclasses.replace(blueprint, time_limit_s=600)
    plan = compile_section(config, bank)
    st = engine.start(plan, SEED, "P")
    assert engine.decide(plan, st, SEED, "P", elapsed_s=599).item is not None
    assert engine.decide(plan, st, SEED, "P", elapsed_s=600).stop_reason == engine.STOP_TIME


def test_exposure_none_gives_everyone_the_same_first_item(bank, blueprint):
    plan = compile_section(dataclasses.replace(blueprint, exposure=ExposureConfig("none")), bank)
    firsts = {
        engine.decide(plan, engine.start(plan, SEED, f"P{i}"), SEED, f"P{i}").item
        for i in range(20)
    }
    assert len(firsts) == 1


def test_sympson_hetter_needs_derived_parameters(bank, blueprint):
    config = dataclasses.replace(blueprint, exposure=ExposureConfig())
    with pytest.raises(InfeasibleError, match="not been derived"):
        engine.start(compile_section(config, bank), SEED, "P")


def test_default_exposure_control_holds_r_max_on_fresh_simulees():
    """The derived parameters hold every item at r_max = 0.2 for 2,000 simulees who took
    no part in deriving them: other abilities, answers and engine draws."""
    bank = synthetic_bank(200, seed=2, domain="TIU", topics=1)
    config = SectionConfig("TIU", "TIU", max_items=10)  # default: Sympson–Hetter, r_max 0.2
    derived = with_exposure_parameters(config, bank, seed=1, tolerance=0.0)
    assert derived.exposure.derived and derived.exposure.parameters
    plan = compile_section(derived, bank)
    fresh = simulate(plan, np.random.default_rng(9).standard_normal(2000), SEED, answer_seed=77)
    assert fresh.exposure_rates.max() <= 0.2
    # Without the parameters the same simulees see items far more often.
    free = simulate(plan.with_exposure_parameters(np.ones(plan.size)), fresh.true_theta, SEED, 77)
    assert free.exposure_rates.max() > 0.5
    assert len(set(fresh.items[:, 0].tolist())) > 5  # not everyone starts alike


def test_fixed_form_follows_the_blueprint(bank):
    config = SectionConfig(
        "TIU",
        "TIU",
        kind="fixed",
        max_items=12,
        content=(
            ContentRule("T1", 3, 3),
            ContentRule("T2", 3, 3),
            ContentRule("T3", 3, 3),
            ContentRule("T4", 3, 3),
        ),
    )
    plan = compile_section(config, bank)
    forms = []
    for i in range(30):
        st, reason = run_attempt(plan, f"P{i}", lambda: 1)
        assert reason == engine.STOP_FORM_COMPLETE
        given = st.items[0, : st.n[0]]
        assert np.bincount(plan.topic_of[given], minlength=4).tolist() == [3, 3, 3, 3]
        forms.append(tuple(given))
        result = section_result(plan, st)
        assert result.points == 12 * 5  # every answer right: 5 points each
    assert len(set(forms)) == 30  # a random form per applicant


def test_polytomous_fixed_section_scores_option_points():
    bank = synthetic_bank(40, seed=3, domain="TKP", topics=1, polytomous=True)
    plan = compile_section(SectionConfig("TKP", "TKP", kind="fixed", max_items=10), bank)
    st, _ = run_attempt(plan, "P", lambda: 4)  # the best option each time: 5 points
    assert section_result(plan, st).points == 50
    st, _ = run_attempt(plan, "P", lambda: 0)  # the weakest option: 1 point
    assert section_result(plan, st).points == 10


def test_adaptive_section_reports_on_the_reference_form_scale(bank):
    reference = tuple(bank.params.ids[:30])
    config = SectionConfig(
        "TIU", "TIU", max_items=15, reference_form=reference, exposure=ExposureConfig("randomesque")
    )
    plan = compile_section(config, bank)
    high, _ = run_attempt(plan, "P", lambda: 1)
    low, _ = run_attempt(plan, "P", lambda: 0)
    hi, lo = section_result(plan, high), section_result(plan, low)
    assert 0 <= lo.points < hi.points <= 150
    # A 3PL floor: even the lowest ability expects about c × 150 points by guessing.
    assert lo.points_exact > 0.15 * 150


def test_answer_leaves_the_input_state_untouched(bank, blueprint):
    plan = compile_section(blueprint, bank)
    st = engine.start(plan, SEED, "P")
    before = st.copy()
    d = engine.decide(plan, st, SEED, "P")
    engine.answer(plan, st, d.item, 1)
    for field in dataclasses.fields(st):
        assert np.array_equal(getattr(st, field.name), getattr(before, field.name), equal_nan=True)


def test_answer_refuses_an_impossible_category(bank, blueprint):
    plan = compile_section(blueprint, bank)
    st = engine.start(plan, SEED, "P")
    with pytest.raises(ValueError, match="not a category"):
        engine.answer(plan, st, 0, 2)


def test_splitmix_uniforms_are_uniform_and_stable():
    u = splitmix_uniforms(1, np.arange(100000), np.zeros(100000, dtype=np.int64))
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005
    assert np.array_equal(u[:10], splitmix_uniforms(1, np.arange(10), np.zeros(10, dtype=np.int64)))


def test_classification_stop_decides_clear_cases_early(bank):
    from exam.cat.blueprint import Classification

    config = SectionConfig(
        "TIU",
        "TIU",
        min_items=5,
        max_items=40,
        classification=Classification(cut=0.0),
        exposure=ExposureConfig("none"),
    )
    plan = compile_section(config, bank)
    high, reason_high = run_attempt(plan, "P", lambda: 1)
    low, reason_low = run_attempt(plan, "P", lambda: 0)
    assert reason_high == reason_low == engine.STOP_CLASSIFIED
    assert 5 <= int(high.n[0]) < 40 and 5 <= int(low.n[0]) < 40
    assert high.llr[0] > 0 > low.llr[0]
    # Applicants at the cut need longer tests than clear cases: the test keeps asking.
    lengths = []
    for k in range(20):
        rng = np.random.default_rng(k)
        st = engine.start(plan, SEED, f"Q{k}")
        while (d := engine.decide(plan, st, SEED, f"Q{k}")).item is not None:
            p, i = plan.params, d.item
            prob = p.c[i] + (1 - p.c[i]) / (1 + np.exp(-p.a[i] * (0.0 - p.b[i])))
            st = engine.answer(plan, st, i, int(rng.random() < prob))
        lengths.append(int(st.n[0]))
    assert np.median(lengths) > max(int(high.n[0]), int(low.n[0]))


def test_replay_of_a_whole_exam(bank):
    from exam.cat.blueprint import ExamConfig
    from exam.cat.replay import replay_exam
    from itembank.table import BankTable

    tkp = synthetic_bank(60, seed=4, domain="TKP", topics=1, polytomous=True)
    both = BankTable(
        ItemParams.from_specs(
            [bank.params.spec(i) for i in range(len(bank))]
            + [tkp.params.spec(i) for i in range(len(tkp))]
        ),
        bank.domains + tkp.domains,
        bank.topics + tkp.topics,
        np.vstack([np.pad(bank.points, ((0, 0), (0, 3)), constant_values=np.nan), tkp.points]),
        bank.enemy_sets,
    )
    exam = ExamConfig(
        "DEMO",
        "Demo",
        (
            SectionConfig("TIU", "TIU", max_items=10, exposure=ExposureConfig("randomesque")),
            SectionConfig("TKP", "TKP", kind="fixed", max_items=8),
        ),
        duration_s=3600,
    )
    exam.validate()
    live = {}
    for section in exam.sections:
        plan = compile_section(section, both)
        st, _ = run_attempt(plan, "P-9", answers(9) if section.kind == "adaptive" else lambda: 3)
        live[section.name] = section_result(plan, st)
    replayed = replay_exam(exam, both, SEED, "P-9", {name: r.responses for name, r in live.items()})
    assert {n: r.result for n, r in replayed.items()} == live
    assert live["TKP"].points == 8 * 4
    assert ExamConfig.from_dict(exam.to_dict()) == exam


def run_with_pilots(plan, pseudonym, respond, pilot_answer):
    st = engine.start(plan, SEED, pseudonym)
    served = []
    while (d := engine.decide(plan, st, SEED, pseudonym)).item is not None:
        served.append((d.item_id, d.pilot))
        if d.pilot:
            st = engine.answer_pilot(st, pilot_answer)
        else:
            st = engine.answer(plan, st, d.item, respond())
    return st, served


def test_pilot_items_are_placed_by_the_seed_and_never_scored(bank, blueprint):
    pilots = tuple(f"PILOT-{i}" for i in range(12))
    config = dataclasses.replace(blueprint, pilot_items=pilots, pilot_rate=0.15)
    plan = compile_section(config, bank)
    plain = compile_section(blueprint, bank)
    st_a, served_a = run_with_pilots(plan, "P-1", answers(1), pilot_answer=1)
    st_b, served_b = run_with_pilots(plan, "P-1", answers(1), pilot_answer=0)
    st_0, _ = run_with_pilots(plain, "P-1", answers(1), pilot_answer=0)
    assert served_a == served_b  # same seed, same pseudonym: same items and positions
    given_pilots = [i for i, pilot in served_a if pilot]
    assert len(given_pilots) == 3 and set(given_pilots) <= set(pilots)
    a, b, without = (section_result(p, s) for p, s in ((plan, st_a), (plan, st_b), (plain, st_0)))
    # Pilot answers change nothing operational: not the items, θ or the points.
    assert (a.items, a.thetas, a.points) == (b.items, b.thetas, b.points)
    assert (a.items, a.thetas, a.points) == (without.items, without.thetas, without.points)
    assert a.pilot_items == tuple(given_pilots) and a.pilot_responses == (1, 1, 1)
    assert all(1 <= s < blueprint.max_items for s in a.pilot_slots)
    # Positions in the served sequence follow the recorded slots.
    positions = [k for k, (_, pilot) in enumerate(served_a) if pilot]
    assert positions == [slot + j for j, slot in enumerate(a.pilot_slots)]
    others = {
        tuple(i for i, p in run_with_pilots(plan, f"Q{k}", answers(k), 0)[1] if p)
        for k in range(10)
    }
    assert len(others) > 5  # different applicants get different pilots
    replayed = replay_section(plan, SEED, "P-1", a.responses, pilot_responses=a.pilot_responses)
    assert replayed.result == a


def test_state_round_trips_through_bytes(bank, blueprint):
    plan = compile_section(
        dataclasses.replace(blueprint, pilot_items=("X1", "X2"), pilot_rate=0.1), bank
    )
    st, _ = run_attempt(plan, "P", answers(2))
    back = engine.loads(engine.dumps(st))
    for field in dataclasses.fields(st):
        a, b = getattr(st, field.name), getattr(back, field.name)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    assert back.eligible.flags.writeable
