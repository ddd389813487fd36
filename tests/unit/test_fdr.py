"""Benjamini–Hochberg: the paper's worked example, NaN handling, step-up, and FDR control
and power in simulation."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from proctoring.fdr import benjamini_hochberg, bh_adjusted

# Benjamini & Hochberg (1995), section 4.2: the 15 p-values of Neuhaus et al. (1992).
BH_1995 = np.array(
    [
        0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
        0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000,
    ]
)  # fmt: skip


def hand_adjusted(p):
    """min_{j ≥ i} min(1, m p_(j) / j), by a plain loop over the sorted values."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    m = len(p)
    out = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, m * p[i] / rank)
        out[i] = running
    return out


def test_the_worked_example_of_the_paper_rejects_four():
    found = benjamini_hochberg(BH_1995, 0.05)
    assert found.tolist() == [True] * 4 + [False] * 11
    # Bonferroni, for contrast, rejects three (p ≤ 0.05 / 15).
    assert int(np.sum(BH_1995 <= 0.05 / 15)) == 3


def test_adjusted_p_values_match_the_formula_and_the_mask():
    adjusted = bh_adjusted(BH_1995)
    assert adjusted == pytest.approx(hand_adjusted(BH_1995.tolist()), abs=1e-12)
    assert adjusted[3] == pytest.approx(15 * 0.0095 / 4)
    for q in (0.01, 0.05, 0.1, 0.2):
        assert np.array_equal(benjamini_hochberg(BH_1995, q), adjusted <= q)


def test_step_up_rejects_a_p_value_above_its_own_bound():
    # p_(1) = 0.03 > 0.05 · 1/2, but p_(2) = 0.04 ≤ 0.05 · 2/2 carries it.
    assert benjamini_hochberg(np.array([0.04, 0.03]), 0.05).tolist() == [True, True]
    assert benjamini_hochberg(np.array([0.04, 0.06]), 0.05).tolist() == [False, False]


def test_nan_p_values_are_never_discoveries_and_do_not_count_in_m():
    p = np.array([0.01, np.nan, 0.04, np.nan, np.nan])
    # m = 2: 0.04 ≤ 0.05 · 2/2. Counting the NaNs (m = 5) would reject only 0.01.
    assert benjamini_hochberg(p, 0.05).tolist() == [True, False, True, False, False]
    adjusted = bh_adjusted(p)
    assert np.isnan(adjusted[[1, 3, 4]]).all()
    assert adjusted[[0, 2]] == pytest.approx([0.02, 0.04])  # m = 2: 2 · 0.01 / 1, 2 · 0.04 / 2
    assert not benjamini_hochberg(np.full(3, np.nan)).any()
    assert np.isnan(bh_adjusted(np.full(3, np.nan))).all()


def test_shape_is_kept_and_bad_input_refused():
    p = BH_1995[:12].reshape(3, 4)
    assert benjamini_hochberg(p).shape == (3, 4)
    assert bh_adjusted(p).shape == (3, 4)
    with pytest.raises(ValueError):
        benjamini_hochberg(np.array([0.2, 1.5]))
    with pytest.raises(ValueError):
        bh_adjusted(np.array([-0.1]))
    with pytest.raises(ValueError):
        benjamini_hochberg(BH_1995, 0.0)


def test_global_null_family_wise_rate_is_at_most_q():
    # Under the global null, FDR = P(any discovery) = q for independent uniform p-values.
    rng = np.random.default_rng(20)
    families, m, q = 4000, 20, 0.05
    p = rng.random((families, m))
    any_found = np.array([benjamini_hochberg(row, q).any() for row in p])
    assert any_found.mean() <= q + 3 * math.sqrt(q * (1 - q) / families)


def test_fdr_is_controlled_and_true_signals_are_found():
    rng = np.random.default_rng(21)
    families, m, m1, q = 2000, 50, 10, 0.1
    z = rng.normal(0.0, 1.0, (families, m))
    z[:, :m1] += 3.0  # the first m1 hypotheses are false
    p = norm.sf(z)
    fdp, power = np.empty(families), np.empty(families)
    for f in range(families):
        found = benjamini_hochberg(p[f], q)
        fdp[f] = found[m1:].sum() / max(found.sum(), 1)
        power[f] = found[:m1].mean()
    bound = q * (m - m1) / m  # BH 1995, Theorem 1: FDR ≤ q m₀ / m
    assert fdp.mean() <= bound + 3 * fdp.std() / math.sqrt(families)
    assert power.mean() > 0.5
