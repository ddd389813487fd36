"""Fairness report statistics: exposure and overlap by hand, the Chen–Ankenmann–Spray
identity, conditional SE bins, information curves, DIF by attribute on simulated adaptive
data with and without planted DIF, and the figures."""

import math

import numpy as np
import pytest

from proctoring.fairness import (
    DIF_EDGES,
    EXPOSURE_EDGES,
    SE_EDGES,
    chen_overlap,
    conditional_se,
    dif_by_attribute,
    exposure_distribution,
    incidence_matrix,
    information_curves,
)
from proctoring.fairness_plots import conditional_se_plot, exposure_plot, information_plot
from scoring.ability import estimate
from scoring.irt import p_3pl
from scoring.params import ItemParams

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# --------------------------------------------------------------------------- exposure


def test_exposure_and_overlap_by_hand():
    """A = {0, 1, 2}, B = {1, 2}, C = {1, 3}; item 4 never used.

    Rates 1/3, 1, 2/3, 1/3, 0. Pairwise overlap |A∩B| / ((|A| + |B|)/2): A,B 2/2.5 = 0.8;
    A,C 1/2.5 = 0.4; B,C 1/2 = 0.5; mean 17/30. Chen et al. with L̄ = 7/3, Σr² = 5/3:
    (3 · (5/3) / (7/3) − 1) / 2 = 4/7, the mean overlap count 4/3 over the mean length.
    """
    rep = exposure_distribution([[0, 1, 2], [1, 2], [1, 3]], 5)
    assert rep.n_attempts == 3
    np.testing.assert_array_equal(rep.counts, [1, 3, 2, 1, 0])
    np.testing.assert_allclose(rep.rates, [1 / 3, 1, 2 / 3, 1 / 3, 0], rtol=0, atol=1e-15)
    assert rep.hist_edges == EXPOSURE_EDGES
    # [0,.05) [.05,.1) [.1,.2) [.2,.3) [.3,.4) [.4,.5) [.5,.6) [.6,.7) [.7,.8) [.8,.9) [.9,1]
    np.testing.assert_array_equal(rep.histogram, [1, 0, 0, 0, 2, 0, 0, 1, 0, 0, 1])
    assert rep.max_rate == 1.0
    assert rep.never_used == pytest.approx(0.2, abs=1e-15)
    assert rep.mean_length == pytest.approx(7 / 3, abs=1e-15)
    assert not rep.fixed_length
    assert rep.overlap_empirical == pytest.approx(17 / 30, abs=1e-12)
    assert rep.overlap_formula == pytest.approx(4 / 7, abs=1e-12)
    assert rep.pairs_used == 3
    assert not rep.pairs_sampled


def test_chen_formula_equals_pairwise_mean_for_fixed_length_by_hand():
    """A = {0, 1, 2}, B = {1, 2, 3}, C = {0, 2, 4}: overlaps 2, 2, 1 of L = 3, mean 5/9;
    Σr² = 19/9, so (3 · 19/9 / 3 − 1) / 2 = 5/9 as well."""
    rep = exposure_distribution([[0, 1, 2], [1, 2, 3], [0, 2, 4]], 5)
    assert rep.fixed_length
    assert rep.overlap_empirical == pytest.approx(5 / 9, abs=1e-12)
    assert rep.overlap_formula == pytest.approx(5 / 9, abs=1e-12)


def adaptive_like_attempts(rng, m, n_items, length):
    """Fixed-length attempts whose item choice depends on the person, like a CAT."""
    b = np.linspace(-2.5, 2.5, n_items)
    theta = rng.normal(0, 1, m)
    keys = -((b[None, :] - theta[:, None]) ** 2) / 0.5 + rng.gumbel(size=(m, n_items))
    return [np.sort(row[:length]) for row in np.argsort(-keys, 1)]


def test_chen_identity_for_a_fixed_length_pool():
    """The paper's identity T = m/(m−1) · (N S_r²/L + L/N) − 1/(m−1) against the mean
    over all pairs of |A∩B| / L, computed here pair by pair."""
    rng = np.random.default_rng(11)
    m, n_items, length = 120, 60, 12
    attempts = adaptive_like_attempts(rng, m, n_items, length)
    rep = exposure_distribution(attempts, n_items)
    sets = [set(a.tolist()) for a in attempts]
    pairwise = np.mean([len(sets[i] & sets[j]) / length for i in range(m) for j in range(i + 1, m)])
    r = rep.rates
    s2 = np.mean((r - r.mean()) ** 2)
    paper = m / (m - 1) * (n_items * s2 / length + length / n_items) - 1 / (m - 1)
    assert r.mean() == pytest.approx(length / n_items, rel=1e-12)
    assert rep.overlap_empirical == pytest.approx(pairwise, rel=1e-12)
    assert rep.overlap_formula == pytest.approx(paper, rel=1e-12)
    assert rep.overlap_formula == pytest.approx(rep.overlap_empirical, rel=1e-12)
    # Adaptive selection concentrates exposure: overlap above the L/N of random forms.
    assert rep.overlap_formula > length / n_items + 0.05


def test_sampled_pairs_estimate_the_exact_mean_reproducibly():
    rng = np.random.default_rng(5)
    attempts = adaptive_like_attempts(rng, 400, 80, 15)
    exact = exposure_distribution(attempts, 80)
    sampled = exposure_distribution(attempts, 80, max_exact=100, n_pairs=20_000, seed=3)
    again = exposure_distribution(attempts, 80, max_exact=100, n_pairs=20_000, seed=3)
    assert sampled.pairs_sampled and sampled.pairs_used == 20_000
    assert not exact.pairs_sampled and exact.pairs_used == 400 * 399 // 2
    assert sampled.overlap_empirical == again.overlap_empirical
    assert 0 < sampled.overlap_empirical_se < 0.01
    assert abs(sampled.overlap_empirical - exact.overlap_empirical) < (
        4 * sampled.overlap_empirical_se
    )
    assert sampled.overlap_formula == pytest.approx(exact.overlap_formula, rel=1e-12)


def test_incidence_rejects_bad_attempts():
    with pytest.raises(ValueError, match="more than once"):
        incidence_matrix([[0, 1, 1]], 3)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        incidence_matrix([[0, 3]], 3)
    assert math.isnan(chen_overlap(np.array([1.0, 0.0]), 1, 1.0))


# --------------------------------------------------------------------------- conditional SE


def test_conditional_se_bins_by_hand():
    """Edges −1, 0, 1: bins (−∞,−1), [−1,0), [0,1), [1,∞).

    Group a: −3.5 → 0.9 (bin 0); −0.2 → 0.4 (bin 1); 0.1, 0.6 → 0.3, 0.5 (bin 2);
    3.2 → 0.8 (bin 3). Group b: −0.4 → 0.6 (bin 1); 0.3, 0.4 → 0.45, 0.55 (bin 2).
    Bin 2: a mean 0.4, s = √0.02, half-width t₀.₉₇₅,₁ · s/√2 = 12.7062 · 0.1; b mean 0.5,
    half-width 12.7062 · 0.05. Gap ratios: bin 1 0.6/0.4 = 1.5, bin 2 0.5/0.4 = 1.25.
    The unlabelled person and the NaN θ̂ are left out.
    """
    theta = [-3.5, -0.2, 0.1, 0.6, 3.2, -0.4, 0.3, 0.4, 0.2, np.nan]
    se = [0.9, 0.4, 0.3, 0.5, 0.8, 0.6, 0.45, 0.55, 9.9, 9.9]
    labels = ["a", "a", "a", "a", "a", "b", "b", "b", None, "b"]
    t_975_1 = 12.706204736174698
    res = conditional_se(theta, se, {"g": labels}, edges=[-1, 0, 1], min_per_group=1)
    got = {(b.group, b.low, b.high): b for b in res.bins}
    assert set(got) == {
        ("a", -np.inf, -1.0),
        ("a", -1.0, 0.0),
        ("a", 0.0, 1.0),
        ("a", 1.0, np.inf),
        ("b", -1.0, 0.0),
        ("b", 0.0, 1.0),
    }
    a2, b2 = got["a", 0.0, 1.0], got["b", 0.0, 1.0]
    assert (a2.n, b2.n) == (2, 2)
    assert a2.mean_se == pytest.approx(0.4, abs=1e-12)
    assert b2.mean_se == pytest.approx(0.5, abs=1e-12)
    assert a2.ci_low == pytest.approx(0.4 - t_975_1 * 0.1, abs=1e-9)
    assert a2.ci_high == pytest.approx(0.4 + t_975_1 * 0.1, abs=1e-9)
    assert b2.ci_high == pytest.approx(0.5 + t_975_1 * 0.05, abs=1e-9)
    single = got["a", -np.inf, -1.0]
    assert (single.n, single.mean_se) == (1, pytest.approx(0.9))
    assert math.isnan(single.ci_low) and math.isnan(single.ci_high)
    (gap,) = res.gaps
    assert gap.ratio == pytest.approx(1.5, abs=1e-12)
    assert (gap.low, gap.high, gap.group_high, gap.group_low) == (-1.0, 0.0, "b", "a")
    assert gap.bins_compared == 2
    # Requiring two persons per group leaves only bin [0, 1).
    (gap2,) = conditional_se(theta, se, {"g": labels}, [-1, 0, 1], min_per_group=2).gaps
    assert gap2.ratio == pytest.approx(1.25, abs=1e-12)
    assert (gap2.low, gap2.bins_compared) == (0.0, 1)
    (none,) = conditional_se(theta, se, {"g": labels}, [-1, 0, 1], min_per_group=3).gaps
    assert math.isnan(none.ratio) and none.bins_compared == 0


def test_conditional_se_default_bins():
    assert SE_EDGES[0] == -3.0 and SE_EDGES[-1] == 3.0 and np.allclose(np.diff(SE_EDGES), 0.5)
    res = conditional_se([-5.0, 0.25, 5.0], [1.0, 0.3, 1.0], {"g": ["x", "x", "x"]})
    assert [(b.low, b.high) for b in res.bins] == [(-np.inf, -3.0), (0.0, 0.5), (3.0, np.inf)]
    assert res.edges == tuple(SE_EDGES)


# --------------------------------------------------------------------------- information


def test_information_curve_two_item_2pl_by_hand():
    """Items (a, b) = (1, 0) and (2, 1); I = a² P Q. At θ = 0: 0.25 and 4σ(−2)σ(2);
    at θ = 1: σ(1)σ(−1) and 1."""

    def sig(z):
        return 1 / (1 + math.exp(-z))

    params = ItemParams.three_pl([1.0, 2.0], [0.0, 1.0])
    i1 = [0.25, sig(1) * sig(-1)]
    i2 = [4 * sig(-2) * sig(2), 1.0]
    attempts = [[0], [0, 1], [1], [0, 1]]
    res = information_curves(params, attempts, [0.0, 1.0], {"g": ["x", "x", "y", "y"]})
    pool = [i1[k] + i2[k] for k in range(2)]
    np.testing.assert_allclose(res.pool_information, pool, rtol=1e-12)
    np.testing.assert_allclose(res.pool_se, [1 / math.sqrt(v) for v in pool], rtol=1e-12)
    # Both items are given in 3 of 4 attempts.
    np.testing.assert_allclose(res.mean_information, [0.75 * v for v in pool], rtol=1e-12)
    x, y = res.groups
    assert (x.group, x.n, y.group, y.n) == ("x", 2, "y", 2)
    # x: item 1 twice, item 2 once of two; y: item 1 once, item 2 twice.
    np.testing.assert_allclose(x.information, [i1[k] + 0.5 * i2[k] for k in range(2)])
    np.testing.assert_allclose(y.information, [0.5 * i1[k] + i2[k] for k in range(2)])
    np.testing.assert_allclose(y.se, 1 / np.sqrt(y.information), rtol=1e-12)


# --------------------------------------------------------------------------- DIF


def simulate_adaptive(seed, n_persons=4000, n_items=100, length=30, dif_item=None):
    """3PL responses, each person shown the `length` items nearest a noisy θ (−1 for the
    rest). Attributes: gender (random), region (three groups with different ability
    means) and one tiny group. With ``dif_item``, that item's b is 1.0 higher for women."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.1, 0.25, n_items)
    b = rng.normal(0, 1, n_items)
    c = rng.uniform(0.1, 0.25, n_items)
    if dif_item is not None:
        a[dif_item], b[dif_item], c[dif_item] = 1.2, 0.0, 0.15
    params = ItemParams.three_pl(a, b, c)
    gender = np.where(rng.random(n_persons) < 0.4, "perempuan", "laki-laki")
    region = rng.choice(["Jawa", "Sumatra", "Sulawesi"], n_persons, p=[0.5, 0.3, 0.2])
    region[:40] = "Papua"
    mean = {"Jawa": 0.0, "Sumatra": -0.4, "Sulawesi": 0.4, "Papua": 0.0}
    theta = rng.normal(0, 1, n_persons) + np.array([mean[r] for r in region])
    b_person = np.broadcast_to(b, (n_persons, n_items)).copy()
    if dif_item is not None:
        b_person[gender == "perempuan", dif_item] += 1.0
    x = (rng.random((n_persons, n_items)) < p_3pl(theta[:, None], a, b_person, c)).astype(int)
    aim = theta + rng.normal(0, 0.5, n_persons)
    keys = -((b[None, :] - aim[:, None]) ** 2) / (2 * 0.7**2)
    keys = keys + rng.gumbel(size=keys.shape)
    seen = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(seen, np.argsort(-keys, 1)[:, :length], True, 1)
    x[~seen] = -1
    est = estimate(params, x, "eap")
    theta_hat = np.array([e.theta for e in est])
    return params, x, theta_hat, {"gender": gender, "region": region}


@pytest.fixture(scope="module")
def null_data():
    return simulate_adaptive(2024)


def test_no_planted_dif_false_positive_rate(null_data):
    params, x, theta_hat, groups = null_data
    res = dif_by_attribute(params, x, theta_hat, groups)
    pairs = {(r.attribute, r.reference, r.focal) for r in res.rows}
    assert pairs == {
        ("gender", "laki-laki", "perempuan"),
        ("region", "Jawa", "Sumatra"),
        ("region", "Jawa", "Sulawesi"),
    }
    assert [(s.attribute, s.group, s.n) for s in res.skipped] == [("region", "Papua", 40)]
    assert res.edges == tuple(DIF_EDGES)
    tested = [r for r in res.rows if r.ets_class != "NA"]
    n = len(tested)
    assert n >= 250
    share_c = sum(r.ets_class == "C" for r in tested) / n
    false_pos = sum(r.p_value < 0.05 for r in tested) / n
    assert share_c <= 0.01
    assert false_pos <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / n)


def test_planted_dif_is_flagged():
    params, x, theta_hat, groups = simulate_adaptive(7, dif_item=0)
    res = dif_by_attribute(params, x, theta_hat, {"gender": groups["gender"]})
    by_item = {r.item_id: r for r in res.rows}
    row = by_item[params.ids[0]]
    assert (row.reference, row.focal) == ("laki-laki", "perempuan")
    assert row.ets_class in {"B", "C"}
    assert row.d_dif < -1.0  # harder for matched women: negative D-DIF
    others = [r for r in res.rows if r.item_id != params.ids[0] and r.ets_class != "NA"]
    assert sum(r.ets_class in {"B", "C"} for r in others) / len(others) <= 0.05


def test_sparse_items_get_na_with_a_note(null_data):
    params, x, theta_hat, groups = null_data
    res = dif_by_attribute(params, x, theta_hat, {"gender": groups["gender"]}, min_item=10**6)
    assert {r.ets_class for r in res.rows} == {"NA"}
    assert all("fewer than 1000000 responses" in r.note for r in res.rows)
    assert all(math.isnan(r.p_value) and math.isnan(r.d_dif) for r in res.rows)
    assert all(r.n_reference > 0 and r.n_focal > 0 for r in res.rows)


def test_dif_accepts_item_ids_and_missing_labels():
    ids = ["q1", "q2"]
    x = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 60)
    theta = np.tile([0.5, -0.5, 1.0, -1.0], 60)
    labels = np.array(["A", "B", "", None] * 60, dtype=object)
    res = dif_by_attribute(ids, x, theta, {"g": labels}, min_group=50, min_item=10)
    assert {(r.reference, r.focal, r.item_id) for r in res.rows} == {
        ("A", "B", "q1"),
        ("A", "B", "q2"),
    }
    assert all(r.n_reference == 60 and r.n_focal == 60 for r in res.rows)
    with pytest.raises(ValueError, match="one label per person"):
        dif_by_attribute(ids, x, theta, {"g": labels[:-1]})


# --------------------------------------------------------------------------- figures


def test_figures_are_well_formed_and_labelled(null_data):
    params, x, theta_hat, groups = null_data
    se = np.array([e.se for e in estimate(params, x[:400], "eap")])
    sub = {k: v[:400] for k, v in groups.items()}
    table = conditional_se(theta_hat[:400], se, sub)
    attempts = [np.flatnonzero(row >= 0) for row in x[:400]]
    rep = exposure_distribution(attempts, len(params))
    curves = information_curves(params, attempts, groups=sub)
    figures = {
        "se": (conditional_se_plot(table), ["laki-laki", "perempuan", "Jawa", "Sumatra"]),
        "exposure": (exposure_plot(rep), ["0.9–1", "Jumlah butir"]),
        "info": (information_plot(curves, "region"), ["Jawa", "Sulawesi", "Papua"]),
    }
    for name, (fig, labels) in figures.items():
        assert fig.svg.lstrip().startswith("<?xml") and "<svg" in fig.svg, name
        assert fig.svg.rstrip().endswith("</svg>"), name
        assert fig.png.startswith(PNG_SIGNATURE), name
        for label in labels:
            assert label in fig.svg, (name, label)
    assert "laki-laki" not in figures["info"][0].svg
    # Same data, same SVG: no timestamp or random ids.
    assert conditional_se_plot(table).svg == figures["se"][0].svg
