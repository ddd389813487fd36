"""Item preknowledge: the signed likelihood-ratio statistics against direct maximisation,
and null rejection rates and power in simulation."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from proctoring.preknowledge import signed_lr, signed_lr_times, sup_loglik
from scoring.irt import category_probs
from scoring.params import ItemParams, ItemSpec

ALPHA = 0.05


def margin(n):
    return ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / n)


def loglik_2pl(theta, a, b, u):
    total = 0.0
    for ai, bi, ui in zip(a, b, u, strict=True):
        p = 1.0 / (1.0 + math.exp(-ai * (theta - bi)))
        total += math.log(p) if ui else math.log(1 - p)
    return total


def maximise(f):
    res = minimize_scalar(lambda t: -f(t), bounds=(-8, 8), method="bounded",
                          options={"xatol": 1e-10})  # fmt: skip
    return res.x, -res.fun


A = [1.2, 0.8, 1.5, 1.0, 0.9, 1.3]
B = [-0.5, 0.3, 1.0, -1.2, 0.0, 0.8]
CI = np.array([True, True, True, False, False, False])


def test_signed_lr_by_direct_maximisation():
    u = [1, 1, 0, 0, 1, 0]
    _, l_all = maximise(lambda t: loglik_2pl(t, A, B, u))
    th_ci, l_ci = maximise(lambda t: loglik_2pl(t, A[:3], B[:3], u[:3]))
    th_nci, l_nci = maximise(lambda t: loglik_2pl(t, A[3:], B[3:], u[3:]))
    want = math.copysign(math.sqrt(2 * (l_ci + l_nci - l_all)), th_ci - th_nci)
    got = signed_lr(ItemParams.three_pl(A, B), np.array([u]), CI)
    assert got.statistic[0] == pytest.approx(want, abs=1e-6)
    assert got.p_value[0] == pytest.approx(norm.sf(want), abs=1e-6)
    assert got.estimate_ci[0] == pytest.approx(th_ci, abs=1e-6)
    assert got.estimate_nci[0] == pytest.approx(th_nci, abs=1e-6)


def test_an_all_correct_compromised_set_uses_the_supremum_at_infinity():
    u = [1, 1, 1, 0, 1, 0]
    _, l_all = maximise(lambda t: loglik_2pl(t, A, B, u))
    _, l_nci = maximise(lambda t: loglik_2pl(t, A[3:], B[3:], u[3:]))
    want = math.sqrt(2 * (0.0 + l_nci - l_all))  # sup ln L_CI = 0 as θ → ∞
    got = signed_lr(ItemParams.three_pl(A, B), np.array([u]), CI)
    assert got.estimate_ci[0] == np.inf
    assert got.statistic[0] == pytest.approx(want, abs=1e-6)


def test_sup_loglik_of_a_mixed_table_and_the_3pl_limit():
    params = ItemParams.from_specs(
        [
            ItemSpec("g1", "gpcm", 1.1, steps=(-1.2, 0.1, 1.0)),
            ItemSpec("r1", "grm", 0.9, steps=(-1.0, 0.4, 1.5)),
            ItemSpec("d1", "3pl", 1.3, 0.2, 0.2),
            ItemSpec("d2", "2pl", 0.8, -0.7),
        ]
    )
    x = np.array([[2, 1, 1, 0], [3, 2, 0, 1], [0, 0, 0, 0], [-1, -1, 0, -1]])
    theta, sup = sup_loglik(params, x)
    for p in range(2):

        def loglik(t, p=p):
            probs = category_probs(params, t)[0]
            return float(np.sum(np.log(probs[np.arange(4), x[p]])))

        th, best = maximise(loglik)
        assert theta[p] == pytest.approx(th, abs=1e-5)
        assert sup[p] == pytest.approx(best, abs=1e-8)
    # All bottom: the 3PL wrong answer tends to 1 − c, the others to 1.
    assert theta[2] == -np.inf and sup[2] == pytest.approx(math.log(0.8))
    assert theta[3] == -np.inf and sup[3] == pytest.approx(math.log(0.8))


def test_persons_without_both_item_sets_get_nan():
    params = ItemParams.three_pl(A, B)
    x = np.array([[1, 0, 1, -1, -1, -1], [-1, -1, -1, 1, 0, 1], [1, 0, 1, 0, 1, 0]])
    result = signed_lr(params, x, CI)
    assert np.isnan(result.statistic[:2]).all() and np.isnan(result.p_value[:2]).all()
    assert np.isfinite(result.statistic[2])
    # A per-person mask: the same as the shared one when the rows agree.
    per_person = signed_lr(params, x, np.tile(CI, (3, 1)))
    assert np.array_equal(per_person.statistic, result.statistic, equal_nan=True)
    with pytest.raises(ValueError):
        signed_lr(params, x, CI.astype(int))


def test_signed_lr_times_by_direct_maximisation():
    beta = np.array([4.0, 3.5, 4.2, 3.8, 4.5])
    alpha = np.array([1.5, 2.0, 1.2, 1.8, 2.2])
    logt = np.array([[3.1, 3.0, 3.9, 3.9, 4.4]])
    ci = np.array([True, True, False, False, False])

    def loglik(tau, rows):
        return sum(norm.logpdf(logt[0, i], beta[i] - tau, 1 / alpha[i]) for i in rows)

    tau_ci, l_ci = maximise(lambda t: loglik(t, [0, 1]))
    tau_nci, l_nci = maximise(lambda t: loglik(t, [2, 3, 4]))
    _, l_all = maximise(lambda t: loglik(t, range(5)))
    want = math.copysign(math.sqrt(2 * (l_ci + l_nci - l_all)), tau_ci - tau_nci)
    got = signed_lr_times(logt, beta, alpha, ci)
    assert want > 0  # faster on the compromised items
    assert got.statistic[0] == pytest.approx(want, abs=1e-6)
    assert got.estimate_ci[0] == pytest.approx(tau_ci, abs=1e-6)
    assert got.estimate_nci[0] == pytest.approx(tau_nci, abs=1e-6)
    assert got.p_value[0] == pytest.approx(norm.sf(want), abs=1e-6)
    missing = logt.copy()
    missing[0, 0] = np.nan
    one = signed_lr_times(missing, beta, alpha, ci)
    assert one.estimate_ci[0] == pytest.approx(beta[1] - logt[0, 1])
    missing[0, 1] = np.nan
    assert np.isnan(signed_lr_times(missing, beta, alpha, ci).statistic[0])


@pytest.fixture(scope="module")
def bank():
    rng = np.random.default_rng(2017)
    n = 30
    params = ItemParams.three_pl(
        rng.lognormal(0, 0.3, n), rng.normal(0, 1, n), rng.uniform(0.1, 0.25, n)
    )
    compromised = np.zeros(n, dtype=bool)
    compromised[rng.choice(n, 10, replace=False)] = True
    return params, compromised


def simulate(params, theta, rng, compromised=None, p_known=None):
    probs = category_probs(params, theta)[..., 1]
    if compromised is not None:
        probs = np.where(compromised, p_known, probs)
    return (rng.random(probs.shape) < probs).astype(int)


def test_signed_lr_null_where_both_estimates_exist(bank):
    # The normal approximation holds where θ̂_CI and θ̂_NCI are finite; an all-correct
    # CI of 10 items is its known weak spot (see the bootstrap test below).
    params, compromised = bank
    rng = np.random.default_rng(1)
    x = simulate(params, rng.normal(0, 1, 3000), rng)
    result = signed_lr(params, x, compromised)
    finite = np.isfinite(result.estimate_ci) & np.isfinite(result.estimate_nci)
    assert finite.mean() > 0.85
    assert np.mean(result.p_value[finite] < ALPHA) <= margin(int(finite.sum()))
    assert abs(np.mean(result.statistic[finite])) < 0.1
    assert abs(np.std(result.statistic[finite]) - 1) < 0.15


def test_signed_lr_bootstrap_null_rate(bank):
    params, compromised = bank
    rng = np.random.default_rng(2)
    x = simulate(params, rng.normal(0, 1, 1500), rng)
    result = signed_lr(params, x, compromised, n_boot=99, rng=np.random.default_rng(3))
    assert np.mean(result.p_value < ALPHA) <= margin(len(x))


def test_signed_lr_detects_preknowledge_of_low_ability_examinees(bank):
    params, compromised = bank
    rng = np.random.default_rng(4)
    x = simulate(params, rng.normal(-1, 0.5, 500), rng, compromised, 0.9)
    assert np.mean(signed_lr(params, x, compromised).p_value < ALPHA) > 0.6
    boot = signed_lr(params, x, compromised, n_boot=99, rng=np.random.default_rng(5))
    assert np.mean(boot.p_value < ALPHA) > 0.6


@pytest.fixture(scope="module")
def time_model():
    rng = np.random.default_rng(2020)
    n = 30
    compromised = np.zeros(n, dtype=bool)
    compromised[rng.choice(n, 10, replace=False)] = True
    return rng.normal(4.0, 0.4, n), rng.uniform(1.5, 2.5, n), compromised


def test_signed_lr_times_null(time_model):
    beta, alpha, compromised = time_model
    rng = np.random.default_rng(6)
    tau = rng.normal(0, 0.3, 3000)
    logt = beta - tau[:, None] + rng.normal(0, 1, (3000, 30)) / alpha
    logt[rng.random(logt.shape) < 0.1] = np.nan  # some items not presented
    result = signed_lr_times(logt, beta, alpha, compromised)
    z = result.statistic
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.1
    assert np.mean(result.p_value < ALPHA) <= margin(len(z))


def test_signed_lr_times_detects_faster_answers_on_compromised_items(time_model):
    beta, alpha, compromised = time_model
    rng = np.random.default_rng(7)
    tau = rng.normal(0, 0.3, 500)
    logt = beta - tau[:, None] + rng.normal(0, 1, (500, 30)) / alpha
    logt[:, compromised] -= 0.5  # about 40 % less time on the compromised items
    assert np.mean(signed_lr_times(logt, beta, alpha, compromised).p_value < ALPHA) > 0.6
