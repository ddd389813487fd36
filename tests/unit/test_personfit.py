"""Person fit: l_z and l_z* against direct computations, the CUSUM recursion by hand, and
null rejection rates and power in simulation."""

import math

import numpy as np
import pytest

from proctoring.personfit import cusum, cusum_test, lz, lz_star
from scoring.ability import estimate
from scoring.irt import category_probs
from scoring.params import ItemParams, ItemSpec

ALPHA = 0.05


def margin(n):
    return ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / n)


def simulate(params, theta, rng):
    """Category responses drawn from the model at each θ."""
    probs = category_probs(params, theta)
    u = rng.random((len(theta), len(params)))
    k = (np.cumsum(probs, -1) <= u[..., None]).sum(-1)
    return np.minimum(k, params.n_categories - 1)


def p2pl(theta, a, b):
    return 1.0 / (1.0 + math.exp(-a * (theta - b)))


def test_lz_by_hand_three_2pl_items():
    a, b, u, theta = [1.2, 0.8, 1.5], [-0.5, 0.3, 1.0], [1, 0, 1], 0.3
    l0 = mean = var = 0.0
    for ai, bi, ui in zip(a, b, u, strict=True):
        p = p2pl(theta, ai, bi)
        q = 1 - p
        l0 += ui * math.log(p) + (1 - ui) * math.log(q)
        mean += p * math.log(p) + q * math.log(q)
        var += p * q * math.log(p / q) ** 2
    params = ItemParams.three_pl(a, b)
    result = lz(params, np.array([u]), [theta])
    expected = (l0 - mean) / math.sqrt(var)
    assert result.statistic[0] == pytest.approx(expected, abs=1e-12)
    assert result.p_value[0] == pytest.approx(0.5 * math.erfc(-expected / math.sqrt(2)))


def test_lz_polytomous_item_by_hand():
    # A GPCM item (Muraki 1992) next to two 2PL items, the general form over categories.
    a_g, steps, theta = 1.1, [-0.8, 0.2, 1.1], -0.2
    z = [0.0]
    for s in steps:
        z.append(z[-1] + a_g * (theta - s))
    total = sum(math.exp(v) for v in z)
    pg = [math.exp(v) / total for v in z]
    probs = [pg, [1 - p2pl(theta, 1.0, 0.0), p2pl(theta, 1.0, 0.0)]]
    probs.append([1 - p2pl(theta, 0.7, -1.0), p2pl(theta, 0.7, -1.0)])
    answers = [2, 0, 1]
    l0 = sum(math.log(p[k]) for p, k in zip(probs, answers, strict=True))
    mean = sum(sum(pk * math.log(pk) for pk in p) for p in probs)
    var = sum(
        sum(pk * math.log(pk) ** 2 for pk in p) - sum(pk * math.log(pk) for pk in p) ** 2
        for p in probs
    )
    params = ItemParams.from_specs(
        [
            ItemSpec("g", "gpcm", a_g, steps=tuple(steps)),
            ItemSpec("d1", "2pl", 1.0, 0.0),
            ItemSpec("d2", "2pl", 0.7, -1.0),
        ]
    )
    got = lz(params, np.array([answers]), [theta]).statistic[0]
    assert got == pytest.approx((l0 - mean) / math.sqrt(var), abs=1e-12)


def snijders_dichotomous(a, b, c, u, theta, r0_kind):
    """l_z* for 3PL items with Snijders' (2001) weights w = ln(P/Q), r = P'/(PQ), written
    out item by item with P' = a (1 − c) ℓ (1 − ℓ)."""
    w_sum = num_c = den_c = j_sum = 0.0
    rows = []
    for ai, bi, ci, ui in zip(a, b, c, u, strict=True):
        ell = 1.0 / (1.0 + math.exp(-ai * (theta - bi)))
        p = ci + (1 - ci) * ell
        q = 1 - p
        d1 = ai * (1 - ci) * ell * (1 - ell)
        d2 = ai * d1 * (1 - 2 * ell)
        w = math.log(p / q)
        r = d1 / (p * q)
        w_sum += (ui - p) * w
        num_c += d1 * w
        den_c += d1 * r
        j_sum += d1 * d2 / (p * q)
        rows.append((p, q, w, r))
    c_n = num_c / den_c
    r0 = {"mle": 0.0, "wle": j_sum / (2 * den_c), "map": -theta}[r0_kind]
    tau2 = sum((w - c_n * r) ** 2 * p * q for p, q, w, r in rows)
    return (w_sum + c_n * r0) / math.sqrt(tau2)


@pytest.mark.parametrize("method", ["mle", "wle", "map"])
def test_lz_star_matches_snijders_formula_for_3pl(method):
    rng = np.random.default_rng(4)
    n = 12
    a, b, c = rng.lognormal(0, 0.3, n), rng.normal(0, 1, n), rng.uniform(0.05, 0.25, n)
    params = ItemParams.three_pl(a, b, c)
    x = simulate(params, rng.normal(0, 1, 6), rng)
    x[0, :3] = [1, 0, 1]  # no extreme pattern in row 0 whatever the draw
    est = estimate(params, x, method)
    theta = np.array([e.theta for e in est])
    got = lz_star(params, x, theta, method).statistic
    for p in range(x.shape[0]):
        want = snijders_dichotomous(a, b, c, x[p], theta[p], method)
        assert got[p] == pytest.approx(want, abs=1e-9)


def test_lz_star_polytomous_matches_finite_difference_computation():
    # Sinharay's (2016) category form with P' from central differences of category_probs.
    params = ItemParams.from_specs(
        [
            ItemSpec("g1", "gpcm", 1.1, steps=(-1.2, 0.1, 1.0)),
            ItemSpec("r1", "grm", 0.9, steps=(-1.0, 0.4, 1.5)),
            ItemSpec("g2", "gpcm", 0.7, steps=(-0.5, 0.6)),
            ItemSpec("d1", "3pl", 1.3, 0.2, 0.2),
            ItemSpec("d2", "2pl", 0.8, -0.7),
        ]
    )
    x = np.array([[2, 1, 0, 1, 0], [3, 3, 2, 1, 1], [0, 1, 1, 0, 1]])
    est = estimate(params, x, "wle")
    theta = np.array([e.theta for e in est])
    got = lz_star(params, x, theta, "wle").statistic
    h1, h2 = 1e-6, 1e-4  # step sizes balancing truncation and rounding error
    for p in range(x.shape[0]):
        t = theta[p]

        def at(v):
            return category_probs(params, v)[0]

        pr = at(t)
        d1 = (at(t + h1) - at(t - h1)) / (2 * h1)
        d2 = (at(t + h2) - 2 * pr + at(t - h2)) / h2**2
        live = pr > 0
        w = np.where(live, np.log(np.where(live, pr, 1)), 0)
        r = np.where(live, d1 / np.where(live, pr, 1), 0)
        info = np.sum(d1 * r)
        c_n = np.sum(d1 * w) / info
        r0 = np.sum(d2 * r) / (2 * info)
        wt = w - c_n * r
        var = np.sum(np.sum(pr * wt**2, 1) - np.sum(pr * wt, 1) ** 2)
        num = sum(w[i, x[p, i]] - np.sum(pr[i] * w[i]) for i in range(len(params)))
        assert got[p] == pytest.approx((num + c_n * r0) / math.sqrt(var), abs=1e-6)


def test_missing_items_and_short_patterns():
    params = ItemParams.three_pl([1.0, 1.2, 0.8, 1.5], [-1.0, 0.0, 0.5, 1.0])
    x = np.array([[1, -1, 0, 1], [1, -1, -1, -1], [-1, -1, -1, -1]])
    full = lz(params, x, [0.2, 0.2, 0.2])
    sub = lz(params.subset([0, 2, 3]), x[:1, [0, 2, 3]], [0.2])
    assert full.statistic[0] == pytest.approx(sub.statistic[0])
    assert np.isnan(full.statistic[1:]).all() and np.isnan(full.p_value[1:]).all()
    star = lz_star(params, x, [0.2, 0.2, 0.2], "mle")
    assert np.isnan(star.statistic[1:]).all()
    assert np.isnan(lz(params, x[:1], [np.nan]).statistic[0])
    with pytest.raises(ValueError):
        lz_star(params, x, [0.2, 0.2, 0.2], "bayes")


def with_estimates(params, x, methods=("mle", "wle")):
    out = {}
    for method in methods:
        est = estimate(params, x, method)
        out[method] = (np.array([e.theta for e in est]), [e.method for e in est])
    return params, x, out


@pytest.fixture(scope="module")
def null_sample():
    """3000 examinees on 30 3PL items, with their MLE and WLE."""
    rng = np.random.default_rng(2001)
    n = 30
    params = ItemParams.three_pl(
        rng.lognormal(0, 0.3, n), rng.normal(0, 1, n), rng.uniform(0.1, 0.25, n)
    )
    theta = rng.normal(0, 1, 3000)
    return theta, *with_estimates(params, simulate(params, theta, rng))


@pytest.fixture(scope="module")
def long_sample():
    """2000 examinees on 100 3PL items, with their MLE."""
    rng = np.random.default_rng(2006)
    n = 100
    params = ItemParams.three_pl(
        rng.lognormal(0, 0.3, n), rng.normal(0, 1, n), rng.uniform(0.1, 0.25, n)
    )
    return with_estimates(params, simulate(params, rng.normal(0, 1, 2000), rng), ("mle",))


def test_lz_is_standardized_at_the_true_theta(null_sample):
    theta, params, x, _ = null_sample
    z = lz(params, x, theta).statistic
    assert abs(z.mean()) < 0.05
    assert abs(z.std() - 1) < 0.05


def test_lz_at_the_estimate_is_conservative_and_lz_star_is_not(null_sample):
    _, params, x, estimates = null_sample
    theta, methods = estimates["mle"]
    plain = lz(params, x, theta)
    assert np.mean(plain.p_value < ALPHA) <= margin(len(theta))
    assert plain.statistic.std() < 0.9  # the variance shrinks with θ estimated
    star = lz_star(params, x, theta, methods).statistic
    assert abs(star.std() - 1) < 0.15


@pytest.mark.parametrize("method", ["mle", "wle"])
def test_lz_star_null_rejection_rate_on_30_items(null_sample, method):
    _, params, x, estimates = null_sample
    result = lz_star(params, x, *estimates[method])
    z = result.statistic
    assert np.isfinite(z).all()
    assert abs(z.std() - 1) < 0.15
    assert np.mean(result.p_value < ALPHA) <= margin(len(z))


def test_lz_star_is_close_to_standard_normal_on_a_long_test(long_sample):
    # The mean of l_z* carries an O(n^−½) skewness bias (about +0.1 on 30 3PL items); on
    # 100 items it is within ±0.1.
    params, x, estimates = long_sample
    result = lz_star(params, x, *estimates["mle"])
    z = result.statistic
    assert abs(z.mean()) < 0.1
    assert abs(z.std() - 1) < 0.15
    assert np.mean(result.p_value < ALPHA) <= margin(len(z))


def test_lz_star_estimates_itself_with_the_method_actually_used(null_sample):
    _, params, x, estimates = null_sample
    theta, methods = estimates["mle"]
    assert "map" in methods  # all-correct or all-wrong patterns fall back to MAP
    own = lz_star(params, x[:300], method="mle").statistic
    assert own == pytest.approx(lz_star(params, x[:300], theta[:300], methods[:300]).statistic)


def test_lz_star_detects_random_guessing():
    rng = np.random.default_rng(2002)
    n, persons = 30, 1000
    params = ItemParams.three_pl(rng.lognormal(0, 0.3, n), rng.normal(0, 1, n))
    theta = rng.normal(0, 1, persons)
    probs = category_probs(params, theta)[..., 1]
    guessed = rng.random((persons, n)) < 0.5  # half the items answered at random, P = 0.2
    x = (rng.random((persons, n)) < np.where(guessed, 0.2, probs)).astype(int)
    assert np.mean(lz_star(params, x, method="mle").p_value < ALPHA) > 0.25


def test_cusum_by_the_recursion_in_administration_order():
    a, b = [1.0, 1.3, 0.7, 1.1, 0.9], [-0.5, 0.4, 1.2, -1.0, 0.0]
    params = ItemParams.three_pl(a, b)
    u = [1, 1, 0, 0, 1]
    positions = [3, 0, 4, 1, 2]  # administered as items 1, 3, 4, 0, 2
    theta = 0.25
    plus = minus = 0.0
    best_plus = best_minus = 0.0
    for i in sorted(range(5), key=lambda i: positions[i]):
        t = (u[i] - p2pl(theta, a[i], b[i])) / 5
        plus, minus = max(0.0, plus + t), min(0.0, minus + t)
        best_plus, best_minus = max(best_plus, plus), min(best_minus, minus)
    got = cusum(params, np.array([u]), [theta], np.array([positions]))
    assert got.c_plus[0] == pytest.approx(best_plus, abs=1e-12)
    assert got.c_minus[0] == pytest.approx(best_minus, abs=1e-12)
    # Column order is the default, and a different order gives different sums here.
    default = cusum(params, np.array([u]), [theta])
    assert (default.c_plus[0], default.c_minus[0]) != pytest.approx((best_plus, best_minus))


def test_cusum_ignores_items_not_presented():
    params = ItemParams.three_pl([1.0, 1.2, 0.8, 1.5], [-1.0, 0.0, 0.5, 1.0])
    x = np.array([[1, -1, 0, 1]])
    got = cusum(params, x, [0.1], np.array([[2, 0, 0, 1]]))
    sub = cusum(params.subset([0, 2, 3]), x[:, [0, 2, 3]], [0.1], np.array([[2, 0, 1]]))
    # Field by field: pytest.approx does not compare nested structures (a tuple of arrays).
    assert got.c_plus == pytest.approx(sub.c_plus)
    assert got.c_minus == pytest.approx(sub.c_minus)


def adaptive_design(rng, persons, bank_size=80, length=25):
    """Each person gets the items nearest a noisy copy of their θ, in random order."""
    bank = ItemParams.three_pl(rng.lognormal(0.1, 0.3, bank_size), np.linspace(-3, 3, bank_size))
    theta = rng.normal(0, 1, persons)
    seen = np.zeros((persons, bank_size), dtype=bool)
    positions = np.zeros((persons, bank_size))
    for p in range(persons):
        items = np.argsort(np.abs(bank.b - theta[p] - rng.normal(0, 0.5, bank_size)))[:length]
        rng.shuffle(items)
        seen[p, items] = True
        positions[p, items] = np.arange(length)
    return bank, theta, seen, positions


def test_cusum_bootstrap_null_rate_in_an_adaptive_design():
    rng = np.random.default_rng(2003)
    bank, theta, seen, positions = adaptive_design(rng, 600)
    x = np.where(seen, simulate(bank, theta, rng), -1)
    result = cusum_test(bank, x, None, positions, n_boot=199, rng=np.random.default_rng(1))
    for p in (result.p_value, result.p_plus, result.p_minus):
        assert np.mean(p < ALPHA) <= margin(len(theta))


def test_cusum_bootstrap_detects_late_preknowledge():
    rng = np.random.default_rng(2004)
    bank, theta, seen, positions = adaptive_design(rng, 400)
    probs = category_probs(bank, theta)[..., 1]
    late = seen & (positions >= 15)  # the last 10 of 25 items right with probability 0.95
    x = np.where(seen, rng.random(probs.shape) < np.where(late, 0.95, probs), -1)
    result = cusum_test(bank, x, None, positions, n_boot=199, rng=np.random.default_rng(1))
    assert np.mean(result.p_plus < ALPHA) > 0.3
    assert np.mean(result.p_value < ALPHA) > 0.25


def test_cusum_bootstrap_is_reproducible_and_fixed_theta_is_conservative():
    rng = np.random.default_rng(2005)
    params = ItemParams.three_pl(rng.lognormal(0, 0.3, 20), rng.normal(0, 1, 20))
    x = simulate(params, rng.normal(0, 1, 50), rng)
    one = cusum_test(params, x, n_boot=99, rng=np.random.default_rng(7))
    two = cusum_test(params, x, n_boot=99, rng=np.random.default_rng(7))
    assert np.array_equal(one.p_value, two.p_value)
    assert ((one.p_plus > 0) & (one.p_plus <= 1)).all()
    fixed = cusum_test(params, x, n_boot=99, method=None, rng=np.random.default_rng(7))
    assert np.mean(fixed.p_plus) > np.mean(one.p_plus)
