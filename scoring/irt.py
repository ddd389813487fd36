"""IRT response functions, their derivatives, information and the test characteristic curve.

All functions are pure numpy. ``theta`` may be a scalar or a 1-D array of T abilities; the
result's leading axis is T, then the N items of the table, then (for category functions)
the C = max categories, padded with zero probability past an item's last category.

Models (logistic metric, D = 1):

- 3PL (Birnbaum 1968, in Lord & Novick 1968, ch. 17):
  P(θ) = c + (1 − c) / (1 + exp(−a(θ − b))); 2PL is c = 0, Rasch/1PL fix a.
- Generalized partial credit model (Muraki 1992, Applied Psychological Measurement 16):
  P_k(θ) = exp Σ_{v≤k} a(θ − b_v) / Σ_h exp Σ_{v≤h} a(θ − b_v), k = 0..K.
- Graded response model (Samejima 1969, Psychometrika Monograph 17):
  P*_k(θ) = 1 / (1 + exp(−a(θ − b_k))), P_k = P*_k − P*_{k+1}, P*_0 = 1, P*_{K+1} = 0.

Item information is I(θ) = Σ_k P'_k(θ)² / P_k(θ) (Samejima 1969; for the 3PL it reduces
to a²(Q/P)((P − c)/(1 − c))², Lord 1980, ch. 5; see ``info_3pl``).
"""

from __future__ import annotations

import numpy as np

from scoring.params import FAMILY_DICHOTOMOUS, FAMILY_GPCM, FAMILY_GRM, ItemParams

#: The smallest probability we take a log of; keeps log-likelihoods finite.
P_FLOOR = 1e-300


def expit(x: np.ndarray | float) -> np.ndarray:
    """The logistic function 1 / (1 + e^(−x)), by the formula ``scipy.special.expit``
    uses; written in numpy so that the offline verifier, which replays the engine, needs
    numpy alone. e^(−x) overflowing to +inf gives exactly 0, as it should."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(np.negative(x)))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """e^z / Σ e^z along ``axis``, shifted by the maximum as ``scipy.special.softmax`` does
    (and giving the same bits), so no term overflows."""
    shifted = np.exp(z - np.amax(z, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


def p_3pl(theta: np.ndarray | float, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Probability of a correct response under the 3PL (Birnbaum 1968), broadcasting."""
    return c + (1.0 - c) * expit(a * (theta - b))


def info_3pl(
    theta: np.ndarray | float,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    scale: np.ndarray | None = None,
) -> np.ndarray:
    """Fisher information of 3PL items: a² (Q/P) ((P − c)/(1 − c))² (Lord 1980, ch. 5;
    Hambleton, Swaminathan & Rogers 1991, ch. 6); it equals a² P Q for the 2PL.

    With e = exp(−a(θ − b)): P = (1 + ce)/(1 + e) and Q = (1 − c)e/(1 + e), so
    I = a²(1 − c) e / ((1 + e)² (1 + ce)). This is the engine's hot loop, so it is written
    in place; ``out`` may supply three scratch arrays of the result's shape (the result
    is the first), which spares a large batch the cost of fresh pages on every call;
    ``scale`` may supply a²(1 − c) precomputed.
    """
    if out is None:
        e = np.subtract(theta, b)
        den, tmp = np.empty_like(e), np.empty_like(e)
    else:
        e, den, tmp = out
        np.subtract(theta, b, out=e)
    e *= -a
    np.minimum(e, 700.0, out=e)  # exp stays finite for any parameters
    np.exp(e, out=e)
    np.add(e, 1.0, out=den)
    den *= den
    np.multiply(e, c, out=tmp)
    tmp += 1.0
    den *= tmp
    e *= a * a * (1.0 - c) if scale is None else scale
    e /= den
    return e


def _as_theta(theta: np.ndarray | float) -> np.ndarray:
    return np.atleast_1d(np.asarray(theta, dtype=float))[:, None]


def _dichotomous(th: np.ndarray, a, b, c, order: int) -> tuple[np.ndarray, ...]:
    # ℓ and 1 − ℓ both from expit, so a probability near 0 keeps its digits instead of
    # cancelling to exactly 0 (1 − 0.999… = 0 for a steep item far below the ability).
    x = a * (th - b)
    ell, rest = expit(x), expit(-x)
    probs = np.stack([(1.0 - c) * rest, c + (1.0 - c) * ell], axis=-1)
    if order == 0:
        return (probs,)
    dp = a * (1.0 - c) * ell * rest
    d1 = np.stack([-dp, dp], axis=-1)
    if order == 1:
        return probs, d1
    d2p = a * dp * (rest - ell)
    return probs, d1, np.stack([-d2p, d2p], axis=-1)


def _gpcm(th: np.ndarray, a, steps, order: int) -> tuple[np.ndarray, ...]:
    # z_k = Σ_{v ≤ k} a(θ − b_v); categories past the item's last step get z = −inf.
    terms = a[:, None] * (th[..., None] - steps)  # (T, N, K)
    z = np.concatenate([np.zeros((*terms.shape[:-1], 1)), np.cumsum(terms, axis=-1)], -1)
    z = np.where(np.isnan(z), -np.inf, z)
    probs = softmax(z, axis=-1)
    if order == 0:
        return (probs,)
    k = np.arange(probs.shape[-1], dtype=float)
    mean = np.sum(probs * k, -1, keepdims=True)
    aa = a[:, None]
    d1 = aa * probs * (k - mean)  # Muraki 1992, eq. (9) differentiated
    if order == 1:
        return probs, d1
    var = np.sum(probs * k * k, -1, keepdims=True) - mean * mean
    d2 = aa * (d1 * (k - mean) - probs * aa * var)
    return probs, d1, d2


def _grm(th: np.ndarray, a, thresholds, order: int) -> tuple[np.ndarray, ...]:
    aa = a[:, None]
    x = aa * (th[..., None] - thresholds)
    x = np.where(np.isnan(thresholds), -np.inf, x)  # past the last threshold: P* = 0
    inf = np.full((*x.shape[:-1], 1), np.inf)
    xs = np.concatenate([inf, x, -inf], -1)  # x_0 = +inf (P*_0 = 1) … x_{K+1} = −inf
    lo, hi = xs[..., :-1], xs[..., 1:]
    # P_k = σ(x_k) − σ(x_{k+1}) = σ(x_k) σ(−x_{k+1}) (1 − e^{x_{k+1} − x_k}): no cancellation
    # when both cumulative probabilities are close to 1.
    with np.errstate(invalid="ignore"):
        gap = -np.expm1(hi - lo)
    probs = np.nan_to_num(expit(lo) * expit(-hi) * gap)
    if order == 0:
        return (probs,)
    star, rest = expit(x), expit(-x)
    zeros = np.zeros((*x.shape[:-1], 1))
    ds = aa * star * rest
    dcum = np.concatenate([zeros, ds, zeros], -1)
    d1 = dcum[..., :-1] - dcum[..., 1:]
    if order == 1:
        return probs, d1
    d2s = aa * ds * (rest - star)
    d2cum = np.concatenate([zeros, d2s, zeros], -1)
    return probs, d1, d2cum[..., :-1] - d2cum[..., 1:]


def category_functions(
    params: ItemParams, theta: np.ndarray | float, order: int = 0
) -> tuple[np.ndarray, ...]:
    """Category probabilities and, up to ``order`` (0, 1 or 2), their θ-derivatives.

    Returns a tuple of arrays shaped (T, N, C), C = ``params.max_categories``.
    """
    th = _as_theta(theta)
    n, width = len(params), params.max_categories
    out = [np.zeros((th.shape[0], n, width)) for _ in range(order + 1)]
    for fam, fn in ((FAMILY_DICHOTOMOUS, None), (FAMILY_GPCM, _gpcm), (FAMILY_GRM, _grm)):
        rows = np.flatnonzero(params.family == fam)
        if rows.size == 0:
            continue
        if fn is None:
            parts = _dichotomous(th, params.a[rows], params.b[rows], params.c[rows], order)
        else:
            steps = params.steps[rows]
            steps = steps[:, : int(np.max(np.sum(~np.isnan(steps), 1)))]
            parts = fn(th, params.a[rows], steps, order)
        for dst, src in zip(out, parts, strict=True):
            dst[:, rows, : src.shape[-1]] = src
    return tuple(out)


def category_probs_at(
    params: ItemParams, theta: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """P_k(θ_j) for item ``rows[j]`` (default: row j) at its own θ_j, shape (J, C).

    Used to draw simulated responses: examinee j answers item rows[j] at ability θ_j.
    """
    th = np.asarray(theta, dtype=float)
    rows = np.arange(len(params)) if rows is None else np.asarray(rows, dtype=np.int64)
    fam = params.family[rows]
    out = np.zeros((len(rows), params.max_categories))
    for code, fn in ((FAMILY_GPCM, _gpcm), (FAMILY_GRM, _grm)):
        sel = np.flatnonzero(fam == code)
        if sel.size:
            r = rows[sel]
            steps = params.steps[r]
            steps = steps[:, : int(np.max(np.sum(~np.isnan(steps), 1)))]
            probs = fn(th[sel], params.a[r], steps, 0)[0]
            out[sel, : probs.shape[-1]] = probs
    sel = np.flatnonzero(fam == FAMILY_DICHOTOMOUS)
    if sel.size:
        r = rows[sel]
        out[sel, :2] = _dichotomous(th[sel], params.a[r], params.b[r], params.c[r], 0)[0]
    return out


def category_probs(params: ItemParams, theta: np.ndarray | float) -> np.ndarray:
    """P_k(θ) for every item and category, shape (T, N, C)."""
    return category_functions(params, theta, 0)[0]


def item_information(params: ItemParams, theta: np.ndarray | float) -> np.ndarray:
    """Fisher information of each item, I_i(θ) = Σ_k P'_ik² / P_ik, shape (T, N)."""
    if params.all_dichotomous:
        return info_3pl(_as_theta(theta), params.a, params.b, params.c)
    probs, d1 = category_functions(params, theta, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, d1 * d1 / np.maximum(probs, P_FLOOR), 0.0)
    return terms.sum(-1)


def test_information(params: ItemParams, theta: np.ndarray | float) -> np.ndarray:
    """Test information, the sum of item information (Lord 1980), shape (T,)."""
    return item_information(params, theta).sum(-1)


def expected_points(
    params: ItemParams, theta: np.ndarray | float, points: np.ndarray
) -> np.ndarray:
    """Test characteristic curve on a points scale: Σ_i Σ_k points_ik P_ik(θ), shape (T,).

    ``points`` is (N, C): the points each response category earns, e.g. [0, 5] for a
    TWK/TIU item and [1, 2, 3, 4, 5] for a TKP item (Lord 1980, ch. 4, the true score).
    """
    probs = category_probs(params, theta)
    pts = np.zeros((len(params), probs.shape[-1]))
    pts[:, : points.shape[1]] = np.nan_to_num(points[:, : probs.shape[-1]])
    return np.einsum("tnc,nc->t", probs, pts)


def log_prob_table(params: ItemParams, grid: np.ndarray) -> np.ndarray:
    """log P_k(θ_q) for every item, grid point and category, shape (N, Q, C).

    The adaptive engine adds one row of this table per answer to its running
    log-likelihood, so an update costs O(Q). Impossible categories hold −inf.
    """
    probs = category_probs(params, grid)
    with np.errstate(divide="ignore"):
        table = np.log(np.maximum(probs, P_FLOOR))
    impossible = np.arange(probs.shape[-1])[None, :] >= params.n_categories[:, None]
    table[:, impossible] = -np.inf
    return np.ascontiguousarray(table.transpose(1, 0, 2))
