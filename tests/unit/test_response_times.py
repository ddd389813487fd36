"""Response-time forensics: hand-worked speed, L_T and NT10/RTE, recovery of the lognormal
model's parameters, the null rejection rate of L_T and the power against rapid guessing."""

import math

import numpy as np
import pytest

from proctoring.response_times import (
    fit_lognormal,
    flag_rapid_guessing,
    nt10_thresholds,
    speed_estimates,
    standardized_residuals,
    time_person_fit,
)

ALPHA = 0.05


def rate_bound(n: int, level: float = ALPHA) -> float:
    """The nominal level plus three binomial standard errors of a rate over n trials."""
    return level + 3 * math.sqrt(level * (1 - level) / n)


def simulate(rng, n_persons, n_items, missing=0.0, beta=None, alpha=None):
    """Log times from the lognormal model; items missing at random with rate ``missing``."""
    beta = rng.uniform(3.2, 4.5, n_items) if beta is None else beta
    alpha = rng.uniform(1.5, 2.5, n_items) if alpha is None else alpha
    tau = rng.normal(0.0, 0.3, n_persons)
    y = beta[None, :] - tau[:, None] + rng.normal(size=(n_persons, n_items)) / alpha[None, :]
    y[rng.random(y.shape) < missing] = np.nan
    return y, beta, alpha, tau


# One person, three items, the third not presented.
BETA = np.array([3.0, 4.0, 3.5])
ALPHAS = np.array([1.0, 2.0, 1.5])
LOG_T = np.array([[2.5, 4.2, np.nan]])


def test_speed_hand_worked():
    tau, se = speed_estimates(LOG_T, BETA, ALPHAS)
    # τ̂ = (1²·(3 − 2.5) + 2²·(4 − 4.2)) / (1² + 2²) = (0.5 − 0.8) / 5
    assert tau[0] == pytest.approx(-0.06)
    assert se[0] == pytest.approx(1 / math.sqrt(5))


def test_lt_hand_worked():
    fit = time_person_fit(LOG_T, BETA, ALPHAS)
    z1 = 1.0 * (2.5 - (3.0 + 0.06))
    z2 = 2.0 * (4.2 - (4.0 + 0.06))
    assert fit.z[0, :2] == pytest.approx([z1, z2])
    assert np.isnan(fit.z[0, 2])
    lt = z1**2 + z2**2  # 0.3136 + 0.0784
    assert fit.lt[0] == pytest.approx(0.392)
    assert fit.df[0] == 1
    assert fit.p_value[0] == pytest.approx(math.erfc(math.sqrt(lt / 2)))  # χ²(1) tail

    known = time_person_fit(LOG_T, BETA, ALPHAS, tau=np.array([0.1]))
    lt_known = (2.5 - 2.9) ** 2 + (2 * (4.2 - 3.9)) ** 2
    assert known.lt[0] == pytest.approx(lt_known)
    assert known.df[0] == 2
    assert known.p_value[0] == pytest.approx(math.exp(-lt_known / 2))  # χ²(2) tail


def test_residuals_skip_unfitted_items():
    z = standardized_residuals(LOG_T, np.array([3.0, np.nan, 3.5]), ALPHAS, np.array([0.0]))
    assert z[0, 0] == pytest.approx(-0.5)
    assert np.isnan(z[0, 1:]).all()
    fit = time_person_fit(np.full((1, 3), np.nan), BETA, ALPHAS)
    assert np.isnan(fit.tau[0]) and np.isnan(fit.lt[0]) and np.isnan(fit.p_value[0])


def test_nt10_and_rte_hand_worked():
    times = np.array(
        [
            [40.0, 100.0, 1.0],
            [60.0, 200.0, np.nan],
            [4.0, 9.5, 3.0],
        ]
    )
    thr = nt10_thresholds(times)
    # Means 104/3, 309.5/3 and 2: 10 % of each, the second capped at 10 s.
    assert thr == pytest.approx([10.4 / 3, 10.0, 0.2])
    flags = flag_rapid_guessing(times)
    assert flags.rapid.tolist() == [
        [False, False, False],
        [False, False, False],
        [False, True, False],
    ]
    assert flags.n_rapid.tolist() == [0, 0, 1]
    assert flags.n_classified.tolist() == [3, 2, 3]
    assert flags.rte == pytest.approx([1.0, 1.0, 2 / 3])
    # A time equal to the threshold is solution behaviour (Wise & Kong 2005: t ≥ T).
    at = flag_rapid_guessing(np.array([[5.0, 1.0]]), np.array([5.0, np.nan]))
    assert at.n_rapid[0] == 0 and at.n_classified[0] == 1


def test_fit_recovers_parameters():
    rng = np.random.default_rng(11)
    y, beta, alpha, tau = simulate(rng, 2000, 30, missing=0.3)
    fit = fit_lognormal(y)
    assert fit.converged
    assert np.all(fit.n_obs == np.sum(~np.isnan(y), 0))
    assert np.mean(fit.tau) == pytest.approx(0.0, abs=1e-12)
    # The true values on the fitted scale: mean τ = 0.
    shift = tau.mean()
    se_beta = 1 / (alpha * np.sqrt(fit.n_obs))
    se_alpha = alpha / np.sqrt(2 * fit.n_obs)
    assert np.all(np.abs(fit.beta - (beta - shift)) < 4 * se_beta)
    assert np.all(np.abs(fit.alpha - alpha) < 4 * se_alpha)
    assert abs(np.mean(fit.alpha - alpha)) < 2 * np.sqrt(np.mean(se_alpha**2) / 30) + 0.01
    err = fit.tau - (tau - shift)
    assert np.sqrt(np.mean(err**2)) < 1.2 / np.sqrt(np.sum(alpha**2) * 0.7)
    assert np.corrcoef(fit.tau, tau)[0, 1] > 0.9


def test_fit_adaptive_design_keeps_alpha_unbiased():
    """Each person sees 8 of 60 items: the ML variance (denominator n_i) would inflate α
    by about 1/sqrt(1 − 1/8 − 1/n) ≈ 7 %; the degrees-of-freedom denominator does not."""
    rng = np.random.default_rng(12)
    y, _beta, alpha, _tau = simulate(rng, 3000, 60)
    seen = np.argsort(rng.random(y.shape), axis=1)[:, :8]
    mask = np.zeros(y.shape, dtype=bool)
    np.put_along_axis(mask, seen, True, axis=1)
    y[~mask] = np.nan
    fit = fit_lognormal(y)
    assert fit.converged
    assert abs(np.mean(fit.alpha / alpha) - 1) < 0.02


def test_items_below_min_obs_are_left_out():
    rng = np.random.default_rng(13)
    y, _beta, _alpha, _tau = simulate(rng, 200, 6)
    y[10:, 5] = np.nan  # item 5: 10 observations
    y[0, :5] = np.nan  # person 0: only item 5, which is not fitted
    y[11, 1:] = np.nan  # person 11: only item 0, out of the fit but scored
    fit = fit_lognormal(y, min_obs=20)
    # Person 0 has a single observed item and is not in the fit: 9 observations remain.
    assert fit.n_obs[5] == 9 and np.isnan(fit.beta[5]) and np.isnan(fit.alpha[5])
    # Item 0: neither person 0 (did not see it) nor person 11 (not in the fit) counts.
    assert np.isfinite(fit.beta[:5]).all() and fit.n_obs[0] == 198
    assert np.isnan(fit.tau[0])
    assert fit.tau[11] == pytest.approx(fit.beta[0] - y[11, 0])
    assert np.mean(np.delete(fit.tau, [0, 11])) == pytest.approx(0.0, abs=1e-12)
    person = time_person_fit(y, fit.beta, fit.alpha)
    assert np.isnan(person.lt[0]) and np.isnan(person.z[:, 5]).all()
    assert person.df[1] == 4  # five fitted items, speed estimated
    with pytest.raises(ValueError, match="min_obs"):
        fit_lognormal(y, min_obs=1)


@pytest.fixture(scope="module")
def calibrated():
    """Item parameters fitted on 2000 calibration examinees (30 items, 20 % missing)."""
    rng = np.random.default_rng(21)
    y, beta, alpha, _tau = simulate(rng, 2000, 30, missing=0.2)
    return fit_lognormal(y), beta, alpha


def test_lt_null_rejection_rate(calibrated):
    fit, beta, alpha = calibrated
    rng = np.random.default_rng(22)
    n = 4000
    y, *_ = simulate(rng, n, 30, missing=0.2, beta=beta, alpha=alpha)
    p = time_person_fit(y, fit.beta, fit.alpha).p_value
    assert np.mean(p <= ALPHA) <= rate_bound(n)
    # Scored with the generating parameters, the χ²(n − 1) reference is exact.
    p_true = time_person_fit(y, beta, alpha).p_value
    assert np.mean(p_true <= ALPHA) <= rate_bound(n)


def test_rapid_guessing_power(calibrated):
    """Rapid guessers answer half their items in about 2 s: L_T and NT10 both flag them."""
    fit, beta, alpha = calibrated
    rng = np.random.default_rng(23)
    n_null, n_rapid = 2000, 500
    y, *_ = simulate(rng, n_null + n_rapid, 30, beta=beta, alpha=alpha)
    guessers = np.arange(n_null, n_null + n_rapid)
    half = np.argsort(rng.random((n_rapid, 30)), axis=1)[:, :15]
    fast = np.log(2.0) + rng.normal(0.0, 0.2, half.shape)
    rows = np.repeat(guessers, 15).reshape(n_rapid, 15)
    y[rows, half] = fast

    lt = time_person_fit(y, fit.beta, fit.alpha)
    flagged = lt.p_value <= ALPHA
    assert np.mean(flagged[guessers]) >= 0.95
    assert np.mean(flagged[:n_null]) <= rate_bound(n_null)
    # The rapid items' residuals are the negative ones.
    assert np.all(lt.z[rows, half] < 0)

    rg = flag_rapid_guessing(np.exp(y))
    assert np.mean(rg.n_rapid[guessers] >= 12) >= 0.95
    assert np.mean(rg.rte[guessers] < 0.9) >= 0.95
    assert np.mean(rg.rte[:n_null] < 0.9) <= 0.01
    assert np.mean(rg.n_rapid[:n_null] > 0) <= 0.05
