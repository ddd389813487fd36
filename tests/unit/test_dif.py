"""Mantel–Haenszel DIF: a hand-worked example, planted DIF with known ETS classes, missing
responses, polytomous items and the CSV."""

import csv
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import chi2

from scoring.dif import (
    DIF_CSV_HEADER,
    ets_class,
    mantel_haenszel,
    mh_from_tables,
    write_dif_csv,
)

# Two strata of 2 × 2 tables: (A, B) reference right/wrong, (C, D) focal right/wrong.
TABLES = [(10, 5, 6, 9), (8, 2, 4, 6)]


def hand_worked():
    """α_MH, MH χ² and the RBG variance of ln α_MH, exactly, with fractions."""
    num = den = sum_a = expect = var = Fraction(0)
    pr = psqr = qs = Fraction(0)
    r_tot = s_tot = Fraction(0)
    for a, b, c, d in TABLES:
        t = Fraction(a + b + c + d)
        r, s = Fraction(a * d) / t, Fraction(b * c) / t
        p, q = Fraction(a + d) / t, Fraction(b + c) / t
        num, den = num + r, den + s
        sum_a += a
        expect += Fraction((a + b) * (a + c)) / t
        var += Fraction((a + b) * (c + d) * (a + c) * (b + d)) / (t * t * (t - 1))
        pr, psqr, qs = pr + p * r, psqr + p * s + q * r, qs + q * s
        r_tot, s_tot = r_tot + r, s_tot + s
    stat = (abs(sum_a - expect) - Fraction(1, 2)) ** 2 / var
    var_ln = pr / (2 * r_tot**2) + psqr / (2 * r_tot * s_tot) + qs / (2 * s_tot**2)
    return num / den, stat, var_ln


def test_hand_worked_two_strata():
    alpha, stat, var_ln = hand_worked()
    # Σ AD/T = 90/30 + 48/20 = 5.4, Σ BC/T = 30/30 + 8/20 = 1.4, so α_MH = 27/7.
    assert alpha == Fraction(27, 7)
    # Σ A = 18, Σ E(A) = 15·16/30 + 10·12/20 = 14: χ² = (4 − ½)² / Σ Var(A).
    assert stat == Fraction(49, 4) / (Fraction(15 * 15 * 16 * 14, 900 * 29) + Fraction(96, 76))
    a, b, c, d = (np.array(col) for col in zip(*TABLES, strict=True))
    got = mh_from_tables(a, b, c, d)
    assert got.odds_ratio == pytest.approx(27 / 7, rel=1e-12)
    assert got.d_dif == pytest.approx(-2.35 * math.log(27 / 7), rel=1e-12)
    assert got.chi_square == pytest.approx(float(stat), rel=1e-12)
    assert got.p_value == pytest.approx(chi2.sf(float(stat), 1), rel=1e-12)
    assert got.se_d_dif == pytest.approx(2.35 * math.sqrt(float(var_ln)), rel=1e-12)


def test_hand_worked_through_a_response_matrix():
    """The same tables as persons: studied item q0, matched on given strata."""
    rows, groups, strata = [], [], []
    for k, (a, b, c, d) in enumerate(TABLES):
        for right, wrong, is_focal in ((a, b, False), (c, d, True)):
            rows += [1] * right + [0] * wrong
            groups += [is_focal] * (right + wrong)
            strata += [k] * (right + wrong)
    x = np.column_stack([rows, np.ones(len(rows), dtype=int)])
    res = mantel_haenszel(x, ["q0", "q1"], np.array(groups), strata=np.array(strata))
    assert res[0].mh_odds_ratio == pytest.approx(27 / 7, rel=1e-12)
    assert res[0].chi_square == pytest.approx(float(hand_worked()[1]), rel=1e-12)
    assert (res[0].n_reference, res[0].n_focal) == (25, 25)
    # q1 is answered right by everyone: no information, and no crash.
    assert res[1].ets_class == "NA"
    assert math.isnan(res[1].p_value)
    assert res[1].note


@pytest.mark.parametrize(
    ("d", "se", "p", "expected"),
    [
        (-0.8, 0.2, 0.001, "A"),  # |D| < 1
        (-1.7, 0.5, 0.2, "A"),  # not significant
        (-1.2, 0.2, 0.001, "B"),  # 1 ≤ |D| < 1.5
        (-1.6, 0.5, 0.001, "B"),  # |D| ≥ 1.5 but not significantly above 1
        (-1.6, 0.3, 0.001, "C"),  # (1.6 − 1)/0.3 = 2 > 1.645
        (1.6, 0.3, 0.001, "C"),  # DIF in favour of the focal group is also C
        (float("nan"), float("nan"), float("nan"), "NA"),
    ],
)
def test_ets_rule(d, se, p, expected):
    assert ets_class(d, se, p) == expected


def rasch_responses(b, theta, rng):
    p = 1.0 / (1.0 + np.exp(-(theta[:, None] - b[None, :])))
    return (rng.random(p.shape) < p).astype(int)


@pytest.fixture(scope="module")
def planted():
    """25 Rasch items, 2000 persons per group; the focal group is 0.5 lower in ability
    (impact, not DIF) and items 0, 1, 2 are harder for it by 0.0, 0.5 and 1.0 logits.
    Expected MH D-DIF = −2.35·shift: 0, −1.18, −2.35."""
    rng = np.random.default_rng(2024)
    n, per = 25, 2000
    b = rng.normal(0.0, 1.0, n)
    shift = np.zeros(n)
    shift[[0, 1, 2]] = [0.0, 0.5, 1.0]
    x = np.vstack(
        [
            rasch_responses(b, rng.normal(0.0, 1.0, per), rng),
            rasch_responses(b + shift, rng.normal(-0.5, 1.0, per), rng),
        ]
    )
    focal = np.r_[np.zeros(per, bool), np.ones(per, bool)]
    return x, focal, [f"q{i:02d}" for i in range(n)]


def test_planted_dif_classes(planted):
    x, focal, ids = planted
    res = mantel_haenszel(x, ids, focal)
    assert [r.item_id for r in res] == ids
    assert res[0].ets_class == "A"
    assert res[1].ets_class == "B"
    assert res[2].ets_class == "C"
    assert res[1].mh_d_dif == pytest.approx(-2.35 * 0.5, abs=0.4)
    assert res[2].mh_d_dif == pytest.approx(-2.35 * 1.0, abs=0.4)
    assert res[2].mh_odds_ratio > 1  # easier for the reference group
    # Impact without DIF is not flagged: the other items are A (at most one B by chance).
    others = [r.ets_class for r in res[3:]]
    assert others.count("C") == 0
    assert others.count("A") >= len(others) - 1
    assert all(r.n_reference == 2000 and r.n_focal == 2000 for r in res)


def test_rest_score_matching_agrees(planted):
    x, focal, ids = planted
    res = mantel_haenszel(x, ids, focal, matching="rest")
    assert res[0].ets_class == "A"
    assert res[2].ets_class == "C"


def test_missing_responses_and_explicit_reference(planted):
    """−1 cells are left out of the item's tables; persons in neither group are ignored."""
    x, focal, ids = planted
    rng = np.random.default_rng(5)
    x = x.copy()
    x[rng.random(x.shape) < 0.2] = -1
    reference = ~focal
    reference[:100] = False  # 100 persons in neither group
    res = mantel_haenszel(x, ids, focal, reference)
    seen = x >= 0
    assert [r.n_reference for r in res] == list(seen[reference].sum(0))
    assert [r.n_focal for r in res] == list(seen[focal].sum(0))
    assert res[0].ets_class == "A"
    assert res[2].ets_class == "C"


def test_polytomous_item_uses_mantel_and_smd():
    """A 0..3 item: no odds ratio; Mantel's χ² and SMD give AA without DIF and CC with a
    large shift (every focal response one category lower half of the time)."""
    rng = np.random.default_rng(9)
    per = 1500
    theta = np.r_[rng.normal(0, 1, per), rng.normal(0, 1, per)]
    focal = np.r_[np.zeros(per, bool), np.ones(per, bool)]
    dich = rasch_responses(np.linspace(-1.5, 1.5, 15), theta, rng)
    base = np.clip(np.round(theta + 1.5 + rng.normal(0, 0.7, 2 * per)), 0, 3).astype(int)
    biased = base.copy()
    drop = focal & (rng.random(2 * per) < 0.5)
    biased[drop] = np.maximum(biased[drop] - 1, 0)
    x = np.column_stack([dich, base, biased])
    ids = [f"d{i}" for i in range(15)] + ["fair", "biased"]
    res = mantel_haenszel(x, ids, focal)
    fair, bad = res[15], res[16]
    assert fair.method == bad.method == "Mantel"
    assert math.isnan(fair.mh_odds_ratio) and math.isnan(fair.mh_d_dif)
    assert fair.ets_class == "AA"
    assert bad.ets_class == "CC"
    assert bad.smd < 0
    assert res[0].method == "MH"


def test_bad_groups():
    x = np.array([[0, 1], [1, 0], [1, 1]])
    focal = np.array([True, False, False])
    with pytest.raises(ValueError, match="both"):
        mantel_haenszel(x, ["a", "b"], focal, reference=np.array([True, True, False]))
    with pytest.raises(ValueError, match="one boolean per person"):
        mantel_haenszel(x, ["a", "b"], focal[:2])
    with pytest.raises(ValueError, match="persons x items"):
        mantel_haenszel(x, ["a"], focal)
    with pytest.raises(ValueError, match="matching"):
        mantel_haenszel(x, ["a", "b"], focal, matching="theta")


def test_one_group_only_does_not_crash():
    x = np.array([[0, 1], [1, 0], [1, 1]])
    res = mantel_haenszel(x, ["a", "b"], np.zeros(3, bool))
    assert all(r.ets_class == "NA" and r.n_focal == 0 for r in res)
    assert "focal" in res[0].note


def test_write_dif_csv(tmp_path, planted):
    x, focal, ids = planted
    res = mantel_haenszel(x[:, :3], ids[:3], focal)
    path = tmp_path / "dif.csv"
    write_dif_csv(res, path)
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(DIF_CSV_HEADER)
    assert path.read_text().splitlines()[0] == "item_id,mh_odds_ratio,mh_d_dif,p_value,ets_class"
    assert [r[0] for r in rows[1:]] == ids[:3]
    assert float(rows[3][1]) == res[2].mh_odds_ratio
    assert float(rows[3][2]) == res[2].mh_d_dif
    assert rows[3][4] == res[2].ets_class


def test_write_dif_csv_leaves_undefined_numbers_empty(tmp_path):
    x = np.array([[0, 2], [1, 0], [1, 1], [0, 2]])
    res = mantel_haenszel(x, ["d", "p"], np.array([True, False, True, False]))
    path = tmp_path / "dif.csv"
    write_dif_csv(res, path)
    poly = path.read_text().splitlines()[2].split(",")
    assert poly[0] == "p"
    assert poly[1] == poly[2] == ""
