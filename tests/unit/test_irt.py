"""IRT response functions and information against hand-computed values."""

import math

import numpy as np
import pytest

from scoring.irt import (
    category_probs,
    category_probs_at,
    expected_points,
    info_3pl,
    item_information,
    log_prob_table,
    p_3pl,
)
from scoring.irt import (
    test_information as total_information,
)
from scoring.params import ItemParams, ItemSpec, ParamsError


def table(*specs: ItemSpec) -> ItemParams:
    return ItemParams.from_specs(specs)


def test_3pl_probability_by_hand():
    # a=1.5, b=0.5, c=0.2 at θ=1: 0.2 + 0.8 / (1 + e^{-0.75})
    expected = 0.2 + 0.8 / (1 + math.exp(-0.75))
    assert p_3pl(1.0, 1.5, 0.5, 0.2) == pytest.approx(expected, rel=1e-14)
    assert expected == pytest.approx(0.7433, abs=1e-4)


def test_2pl_information_is_a2pq():
    # a=1.2, b=0 at θ=0: P = 0.5, I = 1.44 * 0.25 = 0.36
    assert info_3pl(0.0, np.array([1.2]), np.array([0.0]), np.array([0.0]))[0] == pytest.approx(
        0.36
    )


def test_3pl_information_by_hand():
    a, b, c, th = 1.5, 0.5, 0.2, 1.0
    p = c + (1 - c) / (1 + math.exp(-a * (th - b)))
    expected = a * a * (1 - p) / p * ((p - c) / (1 - c)) ** 2
    got = info_3pl(th, np.array([a]), np.array([b]), np.array([c]))[0]
    assert got == pytest.approx(expected, rel=1e-12)


def test_rasch_information_maximum_is_a_quarter_at_b():
    params = table(ItemSpec("r", "rasch", 1.0, 0.7))
    info = item_information(params, np.array([0.7, 0.0, 2.0]))[:, 0]
    assert info[0] == pytest.approx(0.25)
    assert info[0] > info[1] and info[0] > info[2]


def test_guessing_floor():
    params = table(ItemSpec("g", "3pl", 1.0, 0.0, 0.25))
    probs = category_probs(params, np.array([-30.0, 30.0]))
    assert probs[0, 0, 1] == pytest.approx(0.25)  # P → c as θ → −∞
    assert probs[1, 0, 1] == pytest.approx(1.0)
    # Information vanishes far below the item: a correct answer there is mostly a guess.
    assert item_information(params, np.array([-8.0]))[0, 0] < 1e-3


def test_gpcm_probabilities_by_hand():
    # a=1, steps (−1, 1) at θ=0: z = (0, 1, 0) → P ∝ (1, e, 1)
    params = table(ItemSpec("g", "gpcm", 1.0, steps=(-1.0, 1.0)))
    probs = category_probs(params, 0.0)[0, 0]
    e = math.e
    assert probs == pytest.approx([1 / (2 + e), e / (2 + e), 1 / (2 + e)])


def test_grm_probabilities_by_hand():
    params = table(ItemSpec("g", "grm", 1.0, steps=(-1.0, 1.0)))
    s1, s2 = 1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(1.0))
    probs = category_probs(params, 0.0)[0, 0]
    assert probs == pytest.approx([1 - s1, s1 - s2, s2])


@pytest.mark.parametrize("model", ["gpcm", "grm"])
def test_polytomous_categories_sum_to_one(model):
    rng = np.random.default_rng(3)
    specs = [
        ItemSpec(
            f"i{k}",
            model,
            float(rng.uniform(0.5, 2)),
            steps=tuple(np.sort(rng.normal(0, 1, int(rng.integers(1, 5))))),
        )
        for k in range(20)
    ]
    params = ItemParams.from_specs(specs)
    probs = category_probs(params, np.linspace(-5, 5, 41))
    assert np.allclose(probs.sum(-1), 1.0)
    assert (probs >= 0).all()
    # Padded categories past an item's last one carry no probability.
    for i, spec in enumerate(specs):
        assert np.all(probs[:, i, len(spec.steps) + 1 :] == 0)


def test_information_matches_numerical_definition():
    # I(θ) = Σ_k P'_k² / P_k with P' by central differences, for every model.
    params = table(
        ItemSpec("d", "3pl", 1.3, -0.2, 0.15),
        ItemSpec("g", "gpcm", 0.9, steps=(-1.0, 0.3, 1.2)),
        ItemSpec("r", "grm", 1.4, steps=(-1.5, 0.0, 0.8, 2.0)),
    )
    th, h = np.array([-1.0, 0.4, 1.7]), 1e-5
    dp = (category_probs(params, th + h) - category_probs(params, th - h)) / (2 * h)
    p = category_probs(params, th)
    numeric = np.where(p > 0, dp**2 / np.maximum(p, 1e-300), 0).sum(-1)
    assert np.allclose(item_information(params, th), numeric, rtol=1e-6)
    assert np.allclose(total_information(params, th), numeric.sum(-1), rtol=1e-6)


def test_category_probs_at_matches_grid():
    params = table(
        ItemSpec("d", "2pl", 1.1, 0.3),
        ItemSpec("g", "gpcm", 0.9, steps=(-1.0, 0.3)),
        ItemSpec("r", "grm", 1.4, steps=(-1.5, 0.0, 0.8)),
    )
    th = np.array([0.5, -1.0, 2.0])
    full = category_probs(params, th)
    assert np.allclose(category_probs_at(params, th), full[[0, 1, 2], [0, 1, 2]])


def test_expected_points_on_a_twk_form():
    # 30 Rasch items at b = 0: at θ = 0 every item is a coin toss → 30 × 5 × 0.5 = 75
    params = ItemParams.from_specs([ItemSpec(f"t{i}", "rasch", 1.0, 0.0) for i in range(30)])
    points = np.tile([0.0, 5.0], (30, 1))
    assert expected_points(params, 0.0, points)[0] == pytest.approx(75.0)
    assert expected_points(params, 40.0, points)[0] == pytest.approx(150.0)


def test_log_prob_table_marks_impossible_categories():
    params = table(ItemSpec("d", "2pl", 1.0, 0.0), ItemSpec("g", "gpcm", 1.0, steps=(0.0, 1.0)))
    tab = log_prob_table(params, np.linspace(-3, 3, 7))
    assert tab.shape == (2, 7, 3)
    assert np.all(np.isneginf(tab[0, :, 2]))
    assert np.allclose(np.exp(tab[1]).sum(-1), 1.0)


@pytest.mark.parametrize(
    "spec",
    [
        ItemSpec("x", "4pl", 1.0, 0.0),
        ItemSpec("x", "2pl", -1.0, 0.0),
        ItemSpec("x", "2pl", 1.0, 0.0, 0.2),
        ItemSpec("x", "3pl", 1.0, 0.0, 1.2),
        ItemSpec("x", "grm", 1.0, steps=(1.0, 0.0)),
        ItemSpec("x", "gpcm", 1.0),
        ItemSpec("x", "2pl", 1.0),
    ],
)
def test_invalid_parameters_are_refused(spec):
    with pytest.raises(ParamsError):
        spec.validate()
