"""Answer similarity: the compound binomial against enumeration, ω and the GBT for a
hand-worked pair, the option probabilities, pairs within rooms, the null rejection rates
and the power against planted copying."""

import itertools
import math

import numpy as np
import pytest

from proctoring.similarity import (
    compound_binomial,
    key_categories,
    option_probabilities,
    option_shares,
    pair_statistics,
    pairs_within,
    upper_tail,
)
from scoring.ability import estimate
from scoring.irt import category_probs, p_3pl
from scoring.params import ItemParams, ItemSpec

ALPHA = 0.05
P3 = (0.2, 0.5, 0.7)


def rate_bound(n: int, level: float = ALPHA) -> float:
    return level + 3 * math.sqrt(level * (1 - level) / n)


def enumerate_tail(p, m):
    """P(M ≥ m) by summing over all 2^K outcomes."""
    total = 0.0
    for outcome in itertools.product((0, 1), repeat=len(p)):
        prob = math.prod(pi if o else 1 - pi for pi, o in zip(p, outcome, strict=True))
        total += prob if sum(outcome) >= m else 0.0
    return total


def test_compound_binomial_matches_enumeration():
    dist = compound_binomial(np.array(P3))
    # P(M = 0) = .8·.5·.3, P(M = 3) = .2·.5·.7
    assert dist[0] == pytest.approx(0.12)
    assert dist[3] == pytest.approx(0.07)
    assert dist.sum() == pytest.approx(1.0)
    for m in range(5):
        assert upper_tail(dist, np.array(m)) == pytest.approx(enumerate_tail(P3, m))
    # Vectorised over leading axes.
    batch = compound_binomial(np.array([P3, (0.9, 0.1, 0.5)]))
    assert batch[1] == pytest.approx(compound_binomial(np.array([0.9, 0.1, 0.5])))


def hand_pair():
    """Two persons, four items with two options; person 1 did not see item 3."""
    probs = np.array(
        [
            [[0.6, 0.4], [0.5, 0.5], [0.1, 0.9], [0.3, 0.7]],
            [[0.25, 0.75], [0.5, 0.5], [0.5, 0.5], [np.nan, np.nan]],
        ]
    )
    choices = np.array([[0, 1, 1, 1], [0, 0, 1, -1]])
    return choices, probs


def test_pair_statistics_hand_worked():
    choices, probs = hand_pair()
    stats = pair_statistics(choices, probs, np.array([[0, 1]]), min_common=3)
    # p_i = Σ_k P_0k P_1k on the three common items.
    p = [0.6 * 0.25 + 0.4 * 0.75, 0.5, 0.1 * 0.5 + 0.9 * 0.5]
    assert p == pytest.approx([0.45, 0.5, 0.5])
    assert stats.n_common[0] == 3
    assert stats.matches[0] == 2  # items 0 and 2; item 3 only person 0 saw
    assert stats.expected[0] == pytest.approx(sum(p))
    var = sum(q * (1 - q) for q in p)
    assert stats.variance[0] == pytest.approx(var)
    omega = (2 - sum(p)) / math.sqrt(var)
    assert stats.omega[0] == pytest.approx(omega)
    assert stats.omega_p[0] == pytest.approx(0.5 * math.erfc(omega / math.sqrt(2)))
    assert stats.gbt_p[0] == pytest.approx(enumerate_tail(p, 2))


def test_directional_uses_the_copiers_probability_of_the_sources_answer():
    choices, probs = hand_pair()
    stats = pair_statistics(choices, probs, np.array([[1, 0]]), min_common=3, directional=True)
    # Copier 1 picks source 0's options 0, 1, 1 with probabilities .25, .5, .5.
    p = [0.25, 0.5, 0.5]
    assert stats.expected[0] == pytest.approx(1.25)
    assert stats.omega[0] == pytest.approx((2 - 1.25) / math.sqrt(sum(q * (1 - q) for q in p)))
    assert stats.gbt_p[0] == pytest.approx(enumerate_tail(p, 2))


def test_too_few_common_items_gives_nan_p_values():
    choices, probs = hand_pair()
    stats = pair_statistics(choices, probs, np.array([[0, 1], [0, 0]]))
    assert np.isnan(stats.omega_p[0]) and np.isnan(stats.gbt_p[0])
    assert stats.matches[0] == 2 and stats.n_common[0] == 3
    assert stats.n_common[1] == 4 and np.isnan(stats.gbt_p[1])  # default min_common 5
    with pytest.raises(ValueError, match="pairs"):
        pair_statistics(choices, probs, np.array([[0, 2]]))


def test_pairs_within_groups():
    groups = np.array(["r1", "r2", "r1", None, "r1", "r2", "r3"], dtype=object)
    pairs = pairs_within(groups)
    assert sorted(map(tuple, pairs.tolist())) == [(0, 2), (0, 4), (1, 5), (2, 4)]
    assert np.all(pairs[:, 0] < pairs[:, 1])
    assert pairs_within(np.array([1.0, np.nan, 1.0])).tolist() == [[0, 2]]
    assert pairs_within(np.array(["a"])).shape == (0, 2)


def test_option_probabilities_hand_worked():
    params = ItemParams.from_specs(
        [
            ItemSpec("d", "2pl", a=1.2, b=0.3),
            ItemSpec("g", "gpcm", a=0.8, steps=(-1.0, 0.0, 0.5, 1.0)),
        ]
    )
    cat = np.array([[0, 1, 0, 0, 0], [0, 1, 2, 3, 4]])
    # Item d, key B (1): among wrong answers A ×3, C ×1, D ×0, E ×0.
    choices = np.array(
        [[0, 0], [0, 1], [0, 2], [2, 3], [1, 4], [1, 4], [-1, 0]],
    )
    theta = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, -0.5, 0.3])
    probs = option_probabilities(params, theta, choices, cat)
    assert probs.shape == (7, 2, 5)
    p = 1 / (1 + math.exp(-1.2 * (0.0 - 0.3)))  # person 1 at θ = 0
    shares = np.array([4, 0, 2, 1, 1]) / 8  # add-one smoothing over A, C, D, E
    expected = (1 - p) * shares
    expected[1] = p
    assert probs[1, 0] == pytest.approx(expected)
    assert np.isnan(probs[6, 0]).all()
    # GPCM with one option per category: the model's probabilities unchanged.
    assert probs[:, 1] == pytest.approx(category_probs(params.subset([1]), theta)[:, 0, :5])
    answered = ~np.isnan(probs[..., 0])
    assert probs.sum(-1)[answered] == pytest.approx(1.0)
    assert option_shares(choices, cat)[0] == pytest.approx([4 / 8, 1, 2 / 8, 1 / 8, 1 / 8])


def test_option_probabilities_rejects_bad_maps():
    params = ItemParams.three_pl([1.0], [0.0])
    with pytest.raises(ValueError, match="category 1"):
        option_probabilities(params, np.zeros(1), np.array([[0]]), np.array([[0, 0, -1]]))
    with pytest.raises(ValueError, match="does not have"):
        option_probabilities(params, np.zeros(1), np.array([[2]]), np.array([[1, 0, -1]]))
    assert key_categories(np.array([2, 0]), np.array([3, 5])).tolist() == [
        [0, 0, 1, -1, -1],
        [1, 0, 0, 0, 0],
    ]


N_ITEMS, N_OPTIONS = 30, 5


@pytest.fixture(scope="module")
def exam():
    """6000 examinees, 30 3PL items with five options; a wrong answer picks a distractor
    with fixed item-specific probabilities. Persons 2k and 2k + 1 form 3000 disjoint pairs."""
    rng = np.random.default_rng(31)
    a = rng.lognormal(0.0, 0.25, N_ITEMS)
    b = rng.normal(0.0, 1.0, N_ITEMS)
    c = rng.uniform(0.1, 0.25, N_ITEMS)
    params = ItemParams.three_pl(a, b, c)
    keys = rng.integers(0, N_OPTIONS, N_ITEMS)
    theta = rng.normal(size=6000)
    correct = rng.random((6000, N_ITEMS)) < p_3pl(theta[:, None], a, b, c)
    choices = np.empty((6000, N_ITEMS), dtype=np.int64)
    for i in range(N_ITEMS):
        distractors = np.delete(np.arange(N_OPTIONS), keys[i])
        weights = rng.dirichlet(np.full(N_OPTIONS - 1, 3.0))
        wrong = rng.choice(distractors, size=6000, p=weights)
        choices[:, i] = np.where(correct[:, i], keys[i], wrong)
    pairs = np.arange(6000).reshape(-1, 2)
    return params, keys, choices, pairs


def eap(params, keys, choices):
    """EAP abilities from the scored responses, as in production."""
    scored = (choices == keys[None, :]).astype(np.int64)
    return np.array([e.theta for e in estimate(params, scored, "eap")])


def test_null_rejection_rates(exam):
    params, keys, choices, pairs = exam
    n = len(pairs)
    probs = option_probabilities(params, eap(params, keys, choices), choices, key_categories(keys))
    stats = pair_statistics(choices, probs, pairs)
    assert np.all(stats.n_common == N_ITEMS)
    assert np.mean(stats.gbt_p <= ALPHA) <= rate_bound(n)
    assert np.mean(stats.omega_p <= ALPHA) <= rate_bound(n)
    directed = pair_statistics(choices, probs, pairs, directional=True)
    assert np.mean(directed.gbt_p <= ALPHA) <= rate_bound(n)
    assert np.mean(directed.omega_p <= ALPHA) <= rate_bound(n)
    # The expected count is calibrated: mean matches ≈ mean expected matches.
    se = np.sqrt(np.mean(stats.variance) / n)
    assert abs(np.mean(stats.matches - stats.expected)) < 4 * se


def test_gbt_is_exact_with_known_probabilities():
    """With the generating option probabilities the GBT's size is at most nominal."""
    rng = np.random.default_rng(32)
    n_pairs = 3000
    probs = rng.dirichlet(np.full(N_OPTIONS, 1.0), size=(2 * n_pairs, N_ITEMS))
    cum = probs.cumsum(-1)
    u = rng.random((2 * n_pairs, N_ITEMS, 1))
    choices = np.minimum((u > cum).sum(-1), N_OPTIONS - 1)
    stats = pair_statistics(choices, probs, np.arange(2 * n_pairs).reshape(-1, 2))
    assert np.mean(stats.gbt_p <= ALPHA) <= rate_bound(n_pairs)
    # Valid but not void: at level .5 the rate is below .5 yet far from 0.
    assert 0.3 < np.mean(stats.gbt_p <= 0.5) <= rate_bound(n_pairs, 0.5)


def test_copying_power(exam):
    """The copier (second of each pair) takes the source's answer on 40 % of items."""
    params, keys, choices, pairs = exam
    rng = np.random.default_rng(33)
    copied = choices.copy()
    source, copier = pairs[:, 0], pairs[:, 1]
    take = rng.random((len(pairs), N_ITEMS)) < 0.4
    copied[copier] = np.where(take, choices[source], choices[copier])
    probs = option_probabilities(params, eap(params, keys, copied), copied, key_categories(keys))
    stats = pair_statistics(copied, probs, pairs)
    assert np.mean(stats.gbt_p <= ALPHA) >= 0.6
    assert np.mean(stats.omega_p <= ALPHA) >= 0.6
    directed = pair_statistics(copied, probs, pairs[:, ::-1], directional=True)
    assert np.mean(directed.gbt_p <= ALPHA) >= 0.6
