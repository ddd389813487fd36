"""Calibration: parameter recovery from data simulated with scoring.irt (D = 1), item fit,
and fixed-parameter calibration of pilot items."""

import numpy as np
import pytest

from itembank import mml
from itembank.calibration import (
    CalibrationError,
    calibrate,
    fixed_parameter_calibration,
    latent_distribution,
)
from scoring.ability import Quadrature, loglik_on_grid
from scoring.files import read_params_csv
from scoring.irt import category_probs
from scoring.params import ItemParams, ItemSpec


def simulate(params: ItemParams, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Categories drawn from scoring.irt's P_k(θ): the first k with Σ_{j≤k} P_j > u."""
    cum = np.cumsum(category_probs(params, theta), -1)
    u = rng.random(cum.shape[:2])[..., None]
    return np.minimum((u > cum).sum(-1), params.n_categories[None, :] - 1)


def rmse(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.nanmean((np.asarray(x) - np.asarray(y)) ** 2)))


def ids(n: int, prefix: str = "q") -> list[str]:
    return [f"{prefix}{i:02d}" for i in range(n)]


def poly_table(model: str, n: int, rng: np.random.Generator) -> ItemParams:
    a = rng.uniform(0.8, 1.8, n)
    steps = np.sort(rng.normal(0.0, 1.0, (n, 3)), 1) + rng.normal(0, 0.5, n)[:, None]
    if model == "gpcm":  # GPCM steps need not be ordered: swap two in some items
        steps[::3, [0, 1]] = steps[::3, [1, 0]]
    specs = [ItemSpec(f"p{i}", model, a[i], steps=tuple(steps[i])) for i in range(n)]
    return ItemParams.from_specs(specs)


@pytest.fixture(scope="module")
def twopl():
    rng = np.random.default_rng(20240601)
    n, persons = 30, 3000
    true = ItemParams.three_pl(rng.uniform(0.6, 2.0, n), rng.normal(0.0, 1.0, n))
    x = simulate(true, rng.normal(0.0, 1.0, persons), rng)
    return true, x, calibrate(x, ids(n), "2pl")


def test_2pl_recovers_parameters(twopl):
    true, _, result = twopl
    est = result.params
    assert est.models == ("2pl",) * 30
    assert est.ids == tuple(ids(30))
    assert rmse(est.b, true.b) <= 0.15
    assert rmse(est.a, true.a) <= 0.15


def test_2pl_metric_is_logistic_d1(twopl):
    """Data generated with D = 1 come back with a, not 1.7·a (girth and scoring.irt agree)."""
    true, _, result = twopl
    ratio = float(np.mean(result.params.a) / np.mean(true.a))
    assert 0.93 <= ratio <= 1.07
    slope = np.polyfit(true.a, result.params.a, 1)[0]
    assert 0.85 <= slope <= 1.15


def test_2pl_fit_mostly_within_bounds(twopl):
    _, x, result = twopl
    assert len(result.fit) == 30
    assert [f.item_id for f in result.fit] == ids(30)
    assert all(f.n == x.shape[0] for f in result.fit)
    assert sum(f.flagged for f in result.fit) <= 2
    assert 0.8 <= np.median([f.infit for f in result.fit]) <= 1.1


def test_params_csv_round_trip(twopl, tmp_path):
    _, _, result = twopl
    path = tmp_path / "params.csv"
    result.write_params_csv(path)
    back = read_params_csv(path)
    assert back.ids == result.params.ids
    assert back.models == result.params.models
    np.testing.assert_array_equal(back.a, result.params.a)
    np.testing.assert_array_equal(back.b, result.params.b)


def test_rasch_estimates_ability_spread():
    """Rasch keeps a = 1 and estimates the ability SD (here 1.4), so b is unbiased;
    girth.rasch_mml, which fixes SD = 1, shrinks these b towards 0 (slope 0.88)."""
    rng = np.random.default_rng(7)
    n = 20
    b = np.linspace(-2.0, 2.0, n)
    true = ItemParams.from_specs(ItemSpec(f"r{i}", "rasch", 1.0, b[i]) for i in range(n))
    x = simulate(true, rng.normal(0.0, 1.4, 3000), rng)
    result = calibrate(x, ids(n, "r"), "rasch", progress=None)
    assert set(result.params.models) == {"rasch"}
    np.testing.assert_array_equal(result.params.a, 1.0)
    assert abs(result.ability_sd - 1.4) <= 0.1
    assert rmse(result.params.b, b) <= 0.1
    assert np.polyfit(b, result.params.b, 1)[0] == pytest.approx(1.0, abs=0.06)


def test_2pl_with_missing_responses():
    """30 % of the cells not presented (completely at random) are left out, not scored 0."""
    rng = np.random.default_rng(11)
    n = 20
    true = ItemParams.three_pl(rng.uniform(0.7, 1.8, n), rng.normal(0.0, 1.0, n))
    x = simulate(true, rng.normal(0.0, 1.0, 3000), rng)
    x[rng.random(x.shape) < 0.3] = -1
    result = calibrate(x, ids(n), "2pl")
    assert rmse(result.params.b, true.b) <= 0.15
    assert rmse(result.params.a, true.a) <= 0.2
    assert [f.n for f in result.fit] == list((x >= 0).sum(0))


def test_2pl_with_two_stage_routing():
    """Missing by design: a 10-item router sends low scorers to 10 easy items and high
    scorers to 10 hard ones. Who saw an item depends on ability, so fitting each item's
    proportion correct (girth's b step) is biased; full MML (the EM cycles) is not."""
    rng = np.random.default_rng(12)
    b = np.r_[rng.normal(0, 1, 10), rng.normal(-1, 0.5, 10), rng.normal(1, 0.5, 10)]
    true = ItemParams.three_pl(rng.uniform(0.8, 1.8, 30), b)
    x = simulate(true, rng.normal(0.0, 1.0, 3000), rng)
    high = x[:, :10].sum(1) >= 5
    x[high, 10:20] = -1
    x[~high, 20:] = -1
    est = calibrate(x, ids(30), "2pl").params
    assert rmse(est.b, true.b) <= 0.15
    assert rmse(est.a, true.a) <= 0.2
    assert abs(np.mean(est.b[20:] - true.b[20:])) <= 0.1


def marginal_loglik(params: ItemParams, x: np.ndarray) -> float:
    quad = Quadrature.normal(201, -7.0, 7.0)
    ll = loglik_on_grid(params, x, quad) + quad.log_prior
    top = ll.max(1)
    return float(np.sum(top + np.log(np.exp(ll - top[:, None]).sum(1))))


def test_em_refinement_does_not_lower_the_likelihood():
    """The EM cycles start from girth's GPCM and can only climb the marginal likelihood;
    girth's pcm_mml stops early, so here they climb."""
    rng = np.random.default_rng(21)
    true = poly_table("gpcm", 6, rng)
    x = simulate(true, rng.normal(0.0, 1.0, 1500), rng)
    girth_only = calibrate(x, list(true.ids), "gpcm", refine=False).params
    refined = calibrate(x, list(true.ids), "gpcm").params
    assert marginal_loglik(refined, x) > marginal_loglik(girth_only, x)


@pytest.mark.parametrize("model", ["2pl", "3pl", "gpcm", "grm"])
def test_m_step_gradients_match_finite_differences(model, monkeypatch):
    """The analytic gradients of every M-step objective, against central differences."""
    rng = np.random.default_rng(1)
    theta = np.linspace(-4.0, 4.0, 15)
    a = np.array([1.2, 0.8, 1.5])
    steps = np.array([[-1.0, 0.2, 1.1], [-0.5, 0.7, np.nan], [0.3, np.nan, np.nan]])
    counts = rng.uniform(0.0, 5.0, (3, 15, 4))
    counts[1, :, 3] = counts[2, :, 2:] = 0.0
    seen = {}

    def capture(fun, x0, bounds, maxiter):
        seen["fun"], seen["x0"] = fun, x0
        return x0

    monkeypatch.setattr(mml, "_lbfgsb", capture)
    b, c = np.array([0.1, -0.3, 0.5]), np.array([0.2, 0.1, 0.25])
    if model in ("2pl", "3pl"):
        start = (a, b, c if model == "3pl" else np.zeros(3))
        mml.dichotomous_m_step(theta, counts[..., :2], start, model, (5.0, 17.0))
    else:
        step = mml.gpcm_m_step if model == "gpcm" else mml.grm_m_step
        step(theta, counts, (a, steps))
    fun, x0 = seen["fun"], seen["x0"] + rng.normal(0.0, 0.05, seen["x0"].shape)
    h = 1e-6
    numeric = [(fun(x0 + h * e)[0] - fun(x0 - h * e)[0]) / (2 * h) for e in np.eye(len(x0))]
    np.testing.assert_allclose(fun(x0)[1], numeric, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("model", ["gpcm", "grm"])
def test_polytomous_recovery_with_missing(model):
    """Steps/thresholds come back in scoring.irt's parameterisation: GPCM
    P_k ∝ exp Σ_{v≤k} a(θ − b_v), GRM P*_k = logistic(a(θ − b_k)). 10 items with four
    categories, 2000 persons, 15 % missing: RMSE of a and of the steps ≤ 0.2 (observed
    ≈ 0.05–0.1), every step within 0.75 (an extreme step seen by few persons is the noisiest)."""
    rng = np.random.default_rng(3 if model == "gpcm" else 4)
    true = poly_table(model, 10, rng)
    x = simulate(true, rng.normal(0.0, 1.0, 2000), rng)
    x[rng.random(x.shape) < 0.15] = -1
    result = calibrate(x, list(true.ids), model)
    est = result.params
    assert est.models == (model,) * 10
    assert est.steps.shape == (10, 3)
    assert rmse(est.a, true.a) <= 0.2
    assert rmse(est.steps, true.steps) <= 0.2
    assert np.nanmax(np.abs(est.steps - true.steps)) <= 0.75
    assert sum(f.flagged for f in result.fit) <= 1


def test_polytomous_items_with_fewer_categories():
    """Items with different numbers of categories keep their own step count."""
    rng = np.random.default_rng(5)
    specs = [
        ItemSpec("g3", "gpcm", 1.2, steps=(-1.0, 0.0, 1.0)),
        ItemSpec("g1", "gpcm", 1.0, steps=(0.2,)),
        *(ItemSpec(f"g{i}", "gpcm", 1.0, steps=(-0.5, 0.5)) for i in range(4, 9)),
    ]
    true = ItemParams.from_specs(specs)
    x = simulate(true, rng.normal(0.0, 1.0, 1500), rng)
    est = calibrate(x, list(true.ids), "gpcm").params
    assert list(est.n_categories) == list(true.n_categories)
    assert abs(est.steps[1, 0] - 0.2) <= 0.2


def test_3pl_recovery():
    """3PL by Bock–Aitkin EM with a Beta(5, 17) prior on c (girth's threepl_mml fails on
    numpy ≥ 2.4). 3PL estimates are noisy: tolerances b ≤ 0.25, a ≤ 0.3, c ≤ 0.08."""
    rng = np.random.default_rng(8)
    n = 20
    true = ItemParams.three_pl(
        rng.uniform(0.8, 2.0, n), rng.normal(0.0, 1.0, n), rng.uniform(0.15, 0.3, n)
    )
    x = simulate(true, rng.normal(0.0, 1.0, 3000), rng)
    est = calibrate(x, ids(n), "3pl").params
    assert est.models == ("3pl",) * n
    assert rmse(est.b, true.b) <= 0.25
    assert rmse(est.a, true.a) <= 0.3
    assert rmse(est.c, true.c) <= 0.08


def test_miskeyed_item_is_flagged():
    """A miskeyed item (a = −1) underfits the Rasch model (infit, outfit > 1.3); the
    well-fitting items are mostly not flagged."""
    rng = np.random.default_rng(6)
    n = 20
    b = np.linspace(-1.5, 1.5, n)
    a = np.ones(n)
    a[3] = -1.0
    theta = rng.normal(0.0, 1.0, 2000)
    x = (rng.random((2000, n)) < 1 / (1 + np.exp(-a * (theta[:, None] - b)))).astype(int)
    result = calibrate(x, ids(n), "rasch", fit_bounds=(0.7, 1.3))
    assert result.fit[3].flagged
    assert result.fit[3].outfit > 1.3
    others = [f for i, f in enumerate(result.fit) if i != 3]
    assert sum(f.flagged for f in others) <= 1
    loose = calibrate(x, ids(n), "rasch", fit_bounds=(0.5, 2.0))
    assert not any(f.flagged for f in loose.fit)


@pytest.mark.parametrize(
    ("column", "model", "message"),
    [
        (np.r_[0, 1, 3], "gpcm", "category 2 never observed"),
        (np.r_[0, 2, 1], "2pl", "dichotomous"),
        (np.r_[1, 1, -1], "2pl", "only category 1"),
        (np.r_[-1, -1, -1], "grm", "no responses"),
    ],
)
def test_bad_columns_are_named(column, model, message):
    x = np.array([[0, 1], [1, 0], [1, 1]])
    x = np.column_stack([x, column])
    with pytest.raises(CalibrationError, match=message) as err:
        calibrate(x, ["a1", "a2", "bad"], model)
    assert "item bad" in str(err.value)


def test_bad_arguments():
    x = np.array([[0, 1], [1, 0]])
    with pytest.raises(CalibrationError, match="unknown model"):
        calibrate(x, ["a", "b"], "4pl")
    with pytest.raises(CalibrationError, match="2 response columns"):
        calibrate(x, ["a"], "2pl")
    with pytest.raises(CalibrationError, match="unique"):
        calibrate(x, ["a", "a"], "2pl")


@pytest.fixture(scope="module")
def pilot_design():
    """20 fixed 2PL anchors seen by all, 10 pilots each missing for a random 20 %;
    abilities N(0.5, 1), so the operational scale is not the N(0, 1) a free calibration
    assumes. ~3200 responses per pilot: the SE of an extreme pilot b is ≈ 0.07."""
    rng = np.random.default_rng(99)
    n_anchor, n_pilot, persons = 20, 10, 4000
    anchors = ItemParams.from_specs(
        ItemSpec(f"op{i}", "2pl", a, b)
        for i, (a, b) in enumerate(
            zip(rng.uniform(0.8, 1.8, n_anchor), rng.normal(0.3, 1.0, n_anchor), strict=True)
        )
    )
    pilots = ItemParams.from_specs(
        ItemSpec(f"pi{i}", "2pl", a, b)
        for i, (a, b) in enumerate(
            zip(rng.uniform(0.8, 1.6, n_pilot), np.linspace(-1.0, 2.0, n_pilot), strict=True)
        )
    )
    theta = rng.normal(0.5, 1.0, persons)
    x = np.column_stack([simulate(anchors, theta, rng), simulate(pilots, theta, rng)])
    x[:, n_anchor:][rng.random((persons, n_pilot)) < 0.2] = -1
    return anchors, pilots, x, list(anchors.ids) + list(pilots.ids)


def test_latent_distribution_from_anchors(pilot_design):
    anchors, _, x, _ = pilot_design
    mean, sd = latent_distribution(anchors, x[:, : len(anchors)])
    assert mean == pytest.approx(0.5, abs=0.07)
    assert sd == pytest.approx(1.0, abs=0.07)


@pytest.mark.parametrize("method", ["mem", "eap"])
def test_fixed_parameter_calibration_on_anchor_scale(pilot_design, method):
    anchors, pilots, x, columns = pilot_design
    est = fixed_parameter_calibration(x, columns, anchors, "2pl", method=method)
    assert est.ids == pilots.ids
    assert est.models == ("2pl",) * len(pilots)
    assert abs(np.mean(est.b - pilots.b)) <= 0.05  # on the anchors' scale, not shifted
    assert np.max(np.abs(est.b - pilots.b)) <= 0.2
    assert rmse(est.a, pilots.a) <= 0.2


def test_fixed_parameter_calibration_rasch_pilots(pilot_design):
    anchors, pilots, x, columns = pilot_design
    est = fixed_parameter_calibration(x, columns, anchors, "rasch")
    assert set(est.models) == {"rasch"}
    np.testing.assert_array_equal(est.a, 1.0)
    # Rasch pilots on 2PL anchors: b is the 50 % point, close to the 2PL b.
    assert np.corrcoef(est.b, pilots.b)[0, 1] > 0.95


def test_fixed_parameter_calibration_errors(pilot_design):
    anchors, _, x, columns = pilot_design
    with pytest.raises(CalibrationError, match="pilot model"):
        fixed_parameter_calibration(x, columns, anchors, "gpcm")
    n = len(anchors)
    with pytest.raises(CalibrationError, match="at least one anchor and one pilot"):
        fixed_parameter_calibration(x[:, :n], columns[:n], anchors)
