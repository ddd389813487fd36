"""Answer similarity between pairs of applicants who sat in the same session or room.

Choices are an int matrix (persons × items) of option numbers 0..O−1 (A, B, C, …), −1 where
the item was not presented or not answered. A pair is compared on the items both answered;
a match is the same option on such an item. Under independent work each person's choice
follows their own response model, so the number of matches M is a sum of independent
Bernoulli(p_i) over the common items.

- Match probability (van der Linden & Sotaridona 2006, J. Educ. Behav. Stat. 31(3),
  283–304, "Detecting answer copying when the regular response process follows a known
  response model"): p_i = Σ_k P_i(k | θ_a) P_i(k | θ_b), the chance that two independent
  examinees pick the same option k.
- Generalized binomial test (GBT; van der Linden & Sotaridona 2006): M has the compound
  (Poisson-) binomial distribution, computed exactly by the recursion of Lord & Wingersky
  (1984, Appl. Psychol. Meas. 8, "Comparison of IRT true-score and equipercentile
  observed-score 'equatings'"): f_i(m) = f_{i−1}(m)(1 − p_i) + f_{i−1}(m − 1) p_i. The
  p-value is the upper tail P(M ≥ m). With the true option probabilities the size of the
  test is at most the nominal level, and usually below it because M is discrete.
- ω (Wollack 1997, Appl. Psychol. Meas. 21(4), 307–320, "A nominal response model approach
  for detecting answer copying"): ω = (m − Σ p_i) / √(Σ p_i(1 − p_i)) with a standard
  normal upper-tail p-value. Wollack's ω is directional: p_i = P_i(u_s,i | θ_c), the chance
  that copier c picks the option source s chose, the source's answers taken as given
  (``directional=True``, pairs as (copier, source)). Room neighbours have no designated
  copier, so the default is the undirected form with the GBT's p_i above, the
  "unconditional ω" of Romero, Riascos & Jara (2015, J. Educ. Behav. Stat. 40(5),
  435–453, "On the optimality of answer-copying indices: theory and practice"). With
  ``directional=True`` the GBT uses the directional p_i as well.

Option probabilities (``option_probabilities``): Wollack (1997) and van der Linden &
Sotaridona (2006) take P_i(k | θ) from Bock's (1972, Psychometrika 37) nominal response
model. The bank calibrates only scored models (3PL/2PL, GPCM/GRM; ``scoring.params``), no
nominal model, so the house rule is: the IRT model gives the probability of each score category,
P_i(score = s | θ); the options worth the same score share it in proportion to how often
they were chosen (add-one smoothing): P_i(k | θ) = P_i(s(k) | θ) · (n_ik + 1) /
Σ_{k': s(k') = s(k)} (n_ik' + 1). For a dichotomous item the key gets P(correct | θ) and the
distractors split 1 − P(correct | θ) by their frequencies among wrong answers; for a GPCM
item whose options each earn different points every option is its own category and gets
the model's probability unchanged. Distractor frequencies that do not depend on θ are in
the spirit of the empirical, non-IRT indices K, K1/K2 (Holland 1996; Sotaridona & Meijer
2002, J. Educ. Meas. 39) and S1/S2 (Sotaridona & Meijer 2003, J. Educ. Meas. 40), which
estimate incorrect-answer match rates from the data; the split itself is this module's
approximation. Its cost: if weak and strong examinees favour different distractors, two
weak examinees share a distractor more often than the split predicts, so the match count
of pairs of equal ability is somewhat underpredicted.

Adaptive tests: pairs may share few items. Matches on items only one of the two saw do not
count, and pairs with fewer than ``min_common`` common items get NaN p-values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from scoring.irt import category_probs_at
from scoring.params import ItemParams

#: Options A–E of a multiple-choice item.
N_OPTIONS = 5
#: Pair rows × items × options held at once (bounds memory on large banks).
_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True, eq=False)
class PairStatistics:
    """Per pair (rows of ``pairs``): items in common, matches m, expected matches Σ p_i
    and its variance Σ p_i(1 − p_i), ω with its normal upper-tail p-value and the GBT
    p-value P(M ≥ m). P-values are NaN below ``min_common`` common items."""

    pairs: np.ndarray
    n_common: np.ndarray
    matches: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    omega: np.ndarray
    omega_p: np.ndarray
    gbt_p: np.ndarray


def key_categories(keys: np.ndarray, n_options: int | np.ndarray = N_OPTIONS) -> np.ndarray:
    """The option → score-category map of keyed dichotomous items, shape (N, O): 1 for the
    key, 0 for a distractor, −1 for an option the item does not have (``n_options`` per
    item or one for all)."""
    keys = np.asarray(keys, dtype=np.int64)
    n_opt = np.broadcast_to(np.asarray(n_options, dtype=np.int64), keys.shape)
    width = int(n_opt.max(initial=0))
    if np.any((keys < 0) | (keys >= n_opt)):
        raise ValueError("every key must be one of its item's options")
    cols = np.arange(width)[None, :]
    cat = np.where(cols < n_opt[:, None], 0, -1)
    cat[np.arange(len(keys)), keys] = 1
    return cat


def _validate_categories(params: ItemParams, option_category: np.ndarray) -> None:
    if option_category.ndim != 2 or option_category.shape[0] != len(params):
        raise ValueError("option_category must be items x options")
    n_cat = params.n_categories
    if np.any(option_category >= n_cat[:, None]) or np.any(option_category < -1):
        raise ValueError("option_category holds categories 0..K of the item, or -1")
    for i in range(len(params)):
        missing = set(range(int(n_cat[i]))) - set(option_category[i].tolist())
        if missing:
            raise ValueError(f"item {params.ids[i]}: no option scores category {min(missing)}")


def option_shares(
    choices: np.ndarray, option_category: np.ndarray, smoothing: float = 1.0
) -> np.ndarray:
    """Each option's share of its score category, (n_ik + s) / Σ_{same category} (n_ik' + s)
    with n_ik the number of persons who chose option k of item i; shape (N, O), 0 for
    options the item does not have."""
    x = np.asarray(choices, dtype=np.int64)
    cat = np.asarray(option_category, dtype=np.int64)
    n_items, width = cat.shape
    rows, cols = np.nonzero(x >= 0)
    counts = np.bincount(cols * width + x[rows, cols], minlength=n_items * width)
    weight = np.where(cat >= 0, counts.reshape(n_items, width) + smoothing, 0.0)
    n_cat = int(cat.max(initial=0)) + 1
    totals = np.zeros((n_items, n_cat))
    item_idx = np.broadcast_to(np.arange(n_items)[:, None], cat.shape)
    np.add.at(totals, (item_idx[cat >= 0], cat[cat >= 0]), weight[cat >= 0])
    denom = np.take_along_axis(totals, np.maximum(cat, 0), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((cat >= 0) & (denom > 0), weight / denom, 0.0)


def option_probabilities(
    params: ItemParams,
    theta: np.ndarray,
    choices: np.ndarray,
    option_category: np.ndarray,
    smoothing: float = 1.0,
) -> np.ndarray:
    """P_i(option k | θ_j) for every person and each item they answered, shape
    (persons, items, options); NaN rows for items not answered.

    ``option_category`` (items × options) gives the score category each option earns (−1:
    no such option), e.g. ``key_categories(keys)`` for dichotomous items. The category's
    IRT probability is split among its options by their observed frequencies in
    ``choices`` with ``smoothing`` added to each count (module docstring).
    """
    x = np.asarray(choices, dtype=np.int64)
    cat = np.asarray(option_category, dtype=np.int64)
    theta = np.asarray(theta, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(params) or theta.shape != (x.shape[0],):
        raise ValueError("choices must be persons x items and theta one value per person")
    _validate_categories(params, cat)
    if np.any(x >= cat.shape[1]) or np.any(x < -1):
        raise ValueError("choices must be option numbers of the item, or -1")
    rows, cols = np.nonzero(x >= 0)
    if np.any(cat[cols, x[rows, cols]] < 0):
        raise ValueError("a choice names an option the item does not have")
    shares = option_shares(x, cat, smoothing)
    out = np.full((*x.shape, cat.shape[1]), np.nan)
    if rows.size:
        probs = category_probs_at(params, theta[rows], cols)
        cat_prob = np.take_along_axis(probs, np.maximum(cat[cols], 0), axis=1)
        out[rows, cols] = np.where(cat[cols] >= 0, cat_prob * shares[cols], 0.0)
    return out


def _is_label(g: object) -> bool:
    return g is not None and not (isinstance(g, float | np.floating) and np.isnan(g))


def pairs_within(groups: np.ndarray) -> np.ndarray:
    """All unordered pairs (a < b) of persons with the same group label, shape (P, 2).

    ``groups`` holds one label per person (room or session); persons whose label is None
    or NaN are in no group."""
    labels = np.asarray(groups, dtype=object)
    valid = np.array([_is_label(g) for g in labels], dtype=bool)
    out = []
    if valid.any():
        index: dict = {}
        codes = np.array([index.setdefault(g, len(index)) for g in labels[valid]])
        members = np.flatnonzero(valid)
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        for idx in np.split(members[order], bounds):
            a, b = np.triu_indices(len(idx), 1)
            out.append(np.stack([idx[a], idx[b]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def compound_binomial(p: np.ndarray) -> np.ndarray:
    """The distribution of the number of successes of independent Bernoulli(p_i) trials
    over the last axis of ``p``, shape (..., K + 1): the Lord & Wingersky (1984) recursion
    f_i(m) = f_{i−1}(m)(1 − p_i) + f_{i−1}(m − 1) p_i."""
    p = np.asarray(p, dtype=float)
    f = np.zeros((*p.shape[:-1], p.shape[-1] + 1))
    f[..., 0] = 1.0
    for i in range(p.shape[-1]):
        pi = p[..., i, None]
        new = f * (1.0 - pi)
        new[..., 1:] += f[..., :-1] * pi
        f = new
    return f


def upper_tail(distribution: np.ndarray, m: np.ndarray) -> np.ndarray:
    """P(M ≥ m) from ``compound_binomial`` output, summed from the tail so that small
    p-values keep their digits."""
    tail = np.cumsum(distribution[..., ::-1], axis=-1)[..., ::-1]
    m = np.asarray(m, dtype=np.int64)
    inside = m < tail.shape[-1]
    idx = np.clip(m, 0, tail.shape[-1] - 1)
    value = np.take_along_axis(tail, idx[..., None], axis=-1)[..., 0]
    return np.where(inside, np.minimum(value, 1.0), 0.0)


def pair_statistics(
    choices: np.ndarray,
    probs: np.ndarray,
    pairs: np.ndarray,
    min_common: int = 5,
    directional: bool = False,
) -> PairStatistics:
    """Matches, ω (Wollack 1997; Romero et al. 2015) and the GBT (van der Linden &
    Sotaridona 2006) for each pair over the items both answered.

    ``probs`` is persons × items × options (``option_probabilities``). Undirected p_i =
    Σ_k P_ak P_bk by default; ``directional=True`` reads each pair as (copier, source) and
    uses p_i = P_copier(source's option), Wollack's conditional form.
    """
    x = np.asarray(choices, dtype=np.int64)
    probs = np.asarray(probs, dtype=float)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if x.ndim != 2 or probs.shape[:2] != x.shape:
        raise ValueError("probs must be persons x items x options, matching choices")
    if np.any(pairs < 0) or np.any(pairs >= x.shape[0]):
        raise ValueError("pairs must hold person row numbers")
    n = len(pairs)
    n_common = np.zeros(n, dtype=np.int64)
    matches = np.zeros(n, dtype=np.int64)
    expected, variance, gbt = np.zeros(n), np.zeros(n), np.full(n, np.nan)
    chunk = max(64, _CHUNK_ELEMENTS // max(probs.shape[1] * probs.shape[2], 1))
    for start in range(0, n, chunk):
        sl = slice(start, start + chunk)
        a, b = pairs[sl, 0], pairs[sl, 1]
        xa, xb = x[a], x[b]
        common = (xa >= 0) & (xb >= 0)
        pa = np.nan_to_num(probs[a])
        if directional:
            p = np.take_along_axis(pa, np.maximum(xb, 0)[..., None], axis=-1)[..., 0]
        else:
            p = np.einsum("pio,pio->pi", pa, np.nan_to_num(probs[b]))
        p = np.where(common, np.clip(p, 0.0, 1.0), 0.0)
        n_common[sl] = common.sum(1)
        matches[sl] = (common & (xa == xb)).sum(1)
        expected[sl] = p.sum(1)
        variance[sl] = (p * (1.0 - p)).sum(1)
        # The recursion runs over each pair's common items only: move them to the front.
        width = int(n_common[sl].max(initial=0))
        order = np.argsort(~common, axis=1, kind="stable")[:, :width]
        dist = compound_binomial(np.take_along_axis(p, order, axis=1))
        gbt[sl] = upper_tail(dist, matches[sl])
    enough = n_common >= min_common
    with np.errstate(invalid="ignore", divide="ignore"):
        omega = np.where(enough & (variance > 0), (matches - expected) / np.sqrt(variance), np.nan)
    omega_p = np.where(np.isnan(omega), np.nan, norm.sf(omega))
    gbt = np.where(enough, gbt, np.nan)
    return PairStatistics(pairs, n_common, matches, expected, variance, omega, omega_p, gbt)


__all__ = [
    "N_OPTIONS",
    "PairStatistics",
    "compound_binomial",
    "key_categories",
    "option_probabilities",
    "option_shares",
    "pair_statistics",
    "pairs_within",
    "upper_tail",
]
