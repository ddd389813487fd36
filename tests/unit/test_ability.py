"""Ability estimation: EAP, MAP, MLE and WLE against independent computations."""

import math

import numpy as np
import pytest
from scipy.integrate import trapezoid
from scipy.optimize import brentq, minimize_scalar

from scoring.ability import (
    DEFAULT_QUADRATURE,
    Quadrature,
    eap_from_loglik,
    estimate,
    estimate_one,
    loglik_on_grid,
)
from scoring.irt import category_probs, log_prob_table
from scoring.params import ItemParams, ItemSpec


@pytest.fixture(scope="module")
def bank():
    rng = np.random.default_rng(11)
    n = 25
    return ItemParams.three_pl(
        rng.lognormal(0.1, 0.3, n), rng.normal(0, 1, n), rng.uniform(0, 0.25, n)
    )


@pytest.fixture(scope="module")
def mixed():
    return ItemParams.from_specs(
        [
            ItemSpec("d1", "2pl", 1.2, -0.5),
            ItemSpec("d2", "3pl", 0.8, 0.7, 0.2),
            ItemSpec("g1", "gpcm", 1.1, steps=(-1.2, 0.1, 1.0, 1.9)),
            ItemSpec("r1", "grm", 0.9, steps=(-1.0, 0.4, 1.5)),
            ItemSpec("d3", "rasch", 1.0, 0.2),
        ]
    )


def log_likelihood(params, responses, theta):
    probs = category_probs(params, np.atleast_1d(theta))[:, np.arange(len(params)), responses]
    return np.log(probs).sum(-1)


def patterns(params, n, seed):
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, n)
    probs = category_probs(params, theta)
    u = rng.random((n, len(params)))
    return np.minimum((np.cumsum(probs, -1) <= u[..., None]).sum(-1), params.n_categories - 1)


def test_steep_items_far_from_the_ability_keep_their_probability():
    # 1 − P rounds to 0 in a naive 2PL at the top of the grid; it must not count as 1.
    params = ItemParams.from_specs(
        [
            ItemSpec("h", "2pl", 4.0, -3.5),
            ItemSpec("x1", "2pl", 1, 0),
            ItemSpec("x2", "2pl", 1, 0.5),
            ItemSpec("x3", "grm", 4.0, steps=(-3.5, 4.0)),
        ]
    )
    resp = np.array([[0, 1, 1, 2]])
    fine = np.linspace(-8, 8, 40001)
    post = np.exp(log_likelihood(params, resp[0], fine)) * np.exp(-(fine**2) / 2)
    mean = trapezoid(fine * post, fine) / trapezoid(post, fine)
    assert estimate(params, resp, "eap")[0].theta == pytest.approx(mean, abs=1e-4)
    res = minimize_scalar(
        lambda t: -log_likelihood(params, resp[0], t)[0],
        bounds=(-6, 6),
        method="bounded",
        options={"xatol": 1e-10},
    )
    mle = estimate(params, resp, "mle")[0]
    assert mle.method == "mle" and mle.theta == pytest.approx(res.x, abs=1e-5)


def test_no_responses_give_the_prior_for_every_method():
    params = ItemParams.from_specs([ItemSpec("r", "2pl", 1.0, 0.0)])
    for method in ("map", "mle", "wle"):
        est = estimate(params, np.array([[-1]]), method)[0]
        assert est.theta == pytest.approx(0.0, abs=1e-9) and est.se == pytest.approx(1.0)
        assert est.reason == "no responses; used MAP"


def test_eap_matches_brute_force_fine_grid(mixed):
    fine = np.linspace(-8, 8, 40001)
    for resp in patterns(mixed, 20, seed=1):
        post = np.exp(log_likelihood(mixed, resp, fine)) * np.exp(-(fine**2) / 2)
        mean = trapezoid(fine * post, fine) / trapezoid(post, fine)
        sd = math.sqrt(trapezoid((fine - mean) ** 2 * post, fine) / trapezoid(post, fine))
        est = estimate(mixed, resp[None, :], "eap")[0]
        assert est.theta == pytest.approx(mean, abs=2e-4)
        assert est.se == pytest.approx(sd, abs=2e-4)


def test_incremental_eap_equals_full_recomputation(bank):
    resp = patterns(bank, 1, seed=2)[0]
    table = log_prob_table(bank, DEFAULT_QUADRATURE.points)
    running = np.zeros(len(DEFAULT_QUADRATURE.points))
    for i, r in enumerate(resp):
        running = running + table[i, :, r]  # one answer: O(Q)
        partial = np.full(len(bank), -1)
        partial[: i + 1] = resp[: i + 1]
        full = loglik_on_grid(bank, partial[None, :], DEFAULT_QUADRATURE)[0]
        assert np.allclose(running, full)
        a = eap_from_loglik(running[None, :], DEFAULT_QUADRATURE)
        b = estimate(bank, partial[None, :], "eap")[0]
        assert a[0][0] == pytest.approx(b.theta, abs=1e-12)


def test_mle_matches_scipy_optimiser(bank):
    for resp in patterns(bank, 30, seed=3):
        if resp.min() == resp.max():
            continue
        res = minimize_scalar(
            lambda t, r=resp: -log_likelihood(bank, r, t)[0],
            bounds=(-6, 6),
            method="bounded",
            options={"xatol": 1e-10},
        )
        est = estimate(bank, resp[None, :], "mle")[0]
        assert est.method == "mle"
        # The same maximum (the grid start also finds a global one if there are several).
        assert log_likelihood(bank, resp, est.theta)[0] >= -res.fun - 1e-9
        if abs(res.x) < 5.9:
            assert est.theta == pytest.approx(res.x, abs=1e-5)


def test_map_matches_scipy_optimiser(mixed):
    for resp in patterns(mixed, 20, seed=4):
        res = minimize_scalar(
            lambda t, r=resp: -(log_likelihood(mixed, r, t)[0] - t * t / 2),
            bounds=(-6, 6),
            method="bounded",
            options={"xatol": 1e-10},
        )
        est = estimate(mixed, resp[None, :], "map")[0]
        assert est.theta == pytest.approx(res.x, abs=1e-5)


def test_mle_standard_error_is_inverse_root_information():
    params = ItemParams.from_specs(
        [ItemSpec(f"r{i}", "rasch", 1.0, b) for i, b in enumerate((-1.0, 0.0, 1.0))]
    )
    est = estimate(params, np.array([[1, 1, 0]]), "mle")[0]
    p = 1 / (1 + np.exp(-(est.theta - np.array([-1.0, 0.0, 1.0]))))
    # Rasch MLE: the expected score equals the observed score.
    assert p.sum() == pytest.approx(2.0, abs=1e-9)
    assert est.se == pytest.approx(1 / math.sqrt((p * (1 - p)).sum()), rel=1e-9)


def test_wle_single_rasch_item_by_hand():
    # Warm (1989): (1 − P) + (1 − 2P)/2 = 0 → P = 3/4 → θ = b + ln 3.
    params = ItemParams.from_specs([ItemSpec("r", "rasch", 1.0, 0.5)])
    right, wrong = estimate(params, np.array([[1], [0]]), "wle")
    assert right.theta == pytest.approx(0.5 + math.log(3), abs=1e-9)
    assert wrong.theta == pytest.approx(0.5 - math.log(3), abs=1e-9)
    assert right.reason is None


def test_wle_symmetric_pattern_is_zero():
    params = ItemParams.from_specs(
        [ItemSpec(f"r{i}", "2pl", 1.3, b) for i, b in enumerate((-1.5, -0.5, 0.5, 1.5))]
    )
    # Half right on items symmetric about 0: the WLE is 0 by symmetry (score 2 of 4).
    assert estimate(params, np.array([[1, 1, 0, 0]]), "wle")[0].theta == pytest.approx(0, abs=1e-6)


def test_wle_solves_warms_equation(mixed):
    for resp in patterns(mixed, 10, seed=5):
        th = estimate(mixed, resp[None, :], "wle")[0].theta

        def warm(t, r=resp):
            h = 1e-4
            lp = lambda x: log_likelihood(mixed, r, x)[0]  # noqa: E731
            p = category_probs(mixed, np.array([t - h, t, t + h]))
            d1 = (p[2] - p[0]) / (2 * h)
            d2 = (p[2] - 2 * p[1] + p[0]) / h**2
            real = p[1] > 0
            info = (d1[real] ** 2 / p[1][real]).sum()
            j = (d1[real] * d2[real] / p[1][real]).sum()
            return (lp(t + h) - lp(t - h)) / (2 * h) + j / (2 * info)

        root = brentq(warm, th - 0.5, th + 0.5)
        assert th == pytest.approx(root, abs=1e-4)


def test_wle_is_finite_for_extreme_patterns(bank):
    ones = np.ones((1, len(bank)), dtype=int)
    for pattern in (ones, 0 * ones):
        est = estimate(bank, pattern, "wle")[0]
        assert np.isfinite(est.theta) and np.isfinite(est.se)


@pytest.mark.parametrize("value,sign", [(1, 1), (0, -1)])
def test_mle_extreme_patterns_fall_back_with_a_reason(bank, value, sign):
    est = estimate(bank, np.full((1, len(bank)), value), "mle")[0]
    assert est.method == "map"
    assert "MLE is " + ("+inf" if sign > 0 else "-inf") in est.reason
    assert np.isfinite(est.theta) and sign * est.theta > 0


def test_all_wrong_3pl_stays_finite_for_every_method(bank):
    pattern = np.zeros((1, len(bank)), dtype=int)
    for method in ("eap", "map", "mle", "wle"):
        est = estimate(bank, pattern, method)[0]
        assert np.isfinite(est.theta) and est.theta < 0


def test_one_item_and_no_items():
    params = ItemParams.from_specs([ItemSpec("r", "2pl", 1.0, 0.0)])
    assert estimate_one(params, [0], [1], "eap").theta > 0
    none = estimate(params, np.array([[-1]]), "eap")[0]
    assert none.theta == pytest.approx(0.0, abs=1e-12)  # the prior mean
    assert none.se == pytest.approx(1.0, abs=1e-3)


def test_prior_moves_eap():
    params = ItemParams.from_specs([ItemSpec("r", "2pl", 1.0, 0.0)])
    shifted = Quadrature.normal(mean=1.0)
    assert estimate(params, np.array([[-1]]), "eap", shifted)[0].theta == pytest.approx(
        1.0, abs=1e-5
    )


def test_invalid_response_is_refused(bank):
    with pytest.raises(ValueError, match="not a category"):
        estimate(bank, np.full((1, len(bank)), 2), "eap")
    with pytest.raises(ValueError, match="unknown method"):
        estimate(bank, np.zeros((1, len(bank)), dtype=int), "ml")
