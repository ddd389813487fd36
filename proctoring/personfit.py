"""Person-fit statistics: l_z, Snijders' l_z* and CUSUMs for adaptive tests, pure numpy.

Responses are an int matrix (persons × items) of category numbers, −1 where the item was
not presented, so in an adaptive test each row holds that person's own items; θ is one
value per person. A statistic is NaN for a person with fewer than 2 items (or no θ).
δ_ik = 1 when the answer to item i is category k, P_ik = P_ik(θ), P'_ik its θ-derivative.

- l_z (Drasgow, Levine & Williams 1985, British Journal of Mathematical and Statistical
  Psychology 38), the standardized log-likelihood: l_z = (l_0 − E l_0) / sqrt(Var l_0) with
  l_0 = Σ_i Σ_k δ_ik ln P_ik, E l_0 = Σ_i Σ_k P_ik ln P_ik and
  Var l_0 = Σ_i [Σ_k P_ik ln² P_ik − (Σ_k P_ik ln P_ik)²]; for a dichotomous item the terms
  are P ln P + Q ln Q and P Q ln²(P/Q). Standard normal at the true θ on long tests; at an
  estimated θ its variance is below 1, so the test is conservative there.
- l_z* (Snijders 2001, Psychometrika 66; notation of Magis, Raîche & Béland 2012, Journal
  of Educational and Behavioral Statistics 37): for an estimator θ̂ that solves
  Σ_i Σ_k δ_ik r_ik(θ) + r_0(θ) = 0 with r_ik = P'_ik / P_ik, and w_ik = ln P_ik,
  l_z* = (l_0 − E l_0 + c_n r_0) / sqrt(Σ_i [Σ_k P_ik w̃_ik² − (Σ_k P_ik w̃_ik)²]) at θ̂,
  c_n = Σ_i Σ_k P'_ik w_ik / Σ_i Σ_k P'_ik r_ik and w̃_ik = w_ik − c_n r_ik; asymptotically
  N(0, 1) with θ estimated. r_0 = 0 for the MLE, J / (2I) for the WLE (Warm 1989,
  Psychometrika 54), −(θ − μ) / σ² for MAP under a N(μ, σ²) prior (Magis et al. 2012). EAP
  has no estimating equation; it takes the MAP correction, which it approaches as the test
  lengthens. The sums over categories are Sinharay's (2016, Psychometrika 81) extension of
  l_z* to polytomous items; for a dichotomous item they reduce to Snijders' weights
  w_i = ln(P/Q) and r_i = P'/(PQ).
- CUSUM (van Krimpen-Stoop & Meijer 2001, Journal of Educational and Behavioral
  Statistics 26): over the n administered items in administration order,
  T_k = (u_k − P_k(θ̂)) / n, C⁺_k = max(0, C⁺_{k−1} + T_k), C⁻_k = min(0, C⁻_{k−1} + T_k),
  C⁺_0 = C⁻_0 = 0; the statistics are max_k C⁺_k (a run of unexpectedly right answers) and
  min_k C⁻_k (a run of unexpectedly wrong ones). A polytomous item's residual
  x_k − E(X_k | θ̂) is divided by its top score K_k, so every T_k lies in [−1/n, 1/n] as
  for a dichotomous item. The null distribution in an adaptive test is not a standard one
  (van Krimpen-Stoop & Meijer 1999, Applied Psychological Measurement 23), so
  ``cusum_test`` gives parametric-bootstrap p-values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.sparse import csr_matrix
from scipy.stats import norm

from scoring.ability import (
    DEFAULT_QUADRATURE,
    METHODS,
    Quadrature,
    eap_from_loglik,
    estimate,
    validate_responses,
)
from scoring.irt import P_FLOOR, category_functions, category_probs_at
from scoring.params import ItemParams

#: Replicate answers per bootstrap block (persons × replicates × items); bounds memory.
_BOOT_CELLS = 500_000


class FitResult(NamedTuple):
    """One statistic per person and its lower-tail p-value Φ(statistic)."""

    statistic: np.ndarray
    p_value: np.ndarray


class Cusum(NamedTuple):
    """max_k C⁺_k and min_k C⁻_k per person."""

    c_plus: np.ndarray
    c_minus: np.ndarray


class CusumTest(NamedTuple):
    """The CUSUMs with bootstrap p-values: ``p_plus`` for a large C⁺ (upper tail),
    ``p_minus`` for a deep C⁻ (lower tail), and ``p_value`` = min(1, 2 min(p_plus, p_minus)),
    the Bonferroni combination of the two tails."""

    c_plus: np.ndarray
    c_minus: np.ndarray
    p_plus: np.ndarray
    p_minus: np.ndarray
    p_value: np.ndarray


def _prepare(
    params: ItemParams, responses: np.ndarray, theta: np.ndarray | Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.atleast_2d(np.asarray(responses, dtype=np.int64))
    if x.shape[1] != len(params):
        raise ValueError("responses must be persons x items, one column per item")
    validate_responses(params, x)
    th = np.asarray(theta, dtype=float).reshape(-1)
    if th.shape != (x.shape[0],):
        raise ValueError("theta must be one value per person")
    presented = x >= 0
    usable = (presented.sum(1) >= 2) & np.isfinite(th)
    return x, np.where(usable, th, 0.0), usable


def _loglik_terms(params: ItemParams, x: np.ndarray, theta: np.ndarray, order: int) -> dict:
    """Per person at its θ: l_0, and per item ln P, P and the derivatives, masked to the
    presented items and existing categories."""
    parts = category_functions(params, theta, order)
    probs = parts[0]
    width = probs.shape[-1]
    cats = np.arange(width)
    mask = (x >= 0)[..., None] & (cats < params.n_categories[:, None])  # (P, N, C)
    safe = np.maximum(probs, P_FLOOR)
    logp = np.where(mask, np.log(safe), 0.0)
    probs = np.where(mask, probs, 0.0)
    l0 = np.sum(np.where(x[..., None] == cats, logp, 0.0), axis=(1, 2))
    out = {"l0": l0, "probs": probs, "logp": logp, "safe": safe, "mask": mask}
    for k in range(1, order + 1):
        out[f"d{k}"] = np.where(mask, parts[k], 0.0)
    return out


def _standardize(num: np.ndarray, var: np.ndarray, usable: np.ndarray) -> FitResult:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = num / np.sqrt(var)
    z = np.where(usable & (var > 0), z, np.nan)
    return FitResult(z, norm.cdf(z))


def lz(params: ItemParams, responses: np.ndarray, theta: np.ndarray | Sequence[float]) -> FitResult:
    """l_z of each person at the given θ (Drasgow, Levine & Williams 1985).

    Lower-tail p-values: misfit shows as large negative values.
    """
    x, th, usable = _prepare(params, responses, theta)
    t = _loglik_terms(params, x, th, 0)
    item_mean = np.sum(t["probs"] * t["logp"], -1)  # (P, N)
    item_var = np.sum(t["probs"] * t["logp"] ** 2, -1) - item_mean**2
    return _standardize(t["l0"] - item_mean.sum(1), item_var.sum(1), usable)


def lz_star(
    params: ItemParams,
    responses: np.ndarray,
    theta: np.ndarray | Sequence[float] | None = None,
    method: str | Sequence[str] = "mle",
    quad: Quadrature = DEFAULT_QUADRATURE,
) -> FitResult:
    """Snijders' (2001) l_z*, with Sinharay's (2016) polytomous extension.

    ``theta`` is each person's estimate and ``method`` the estimator that produced it
    (one name, or one per person): "mle", "wle", "map" or "eap". Without ``theta`` the
    estimates come from ``scoring.ability.estimate(params, responses, method, quad)``, and
    each person is corrected for the estimator actually used (an all-correct pattern's
    MLE falls back to MAP). The MAP/EAP prior is N(quad.mean, quad.sd²), as in
    ``scoring.ability``. Lower-tail p-values.
    """
    if theta is None:
        if not isinstance(method, str):
            raise ValueError("without theta, method must be a single estimator name")
        estimates = estimate(params, responses, method, quad)
        theta = np.array([e.theta for e in estimates])
        method = [e.method for e in estimates]
    x, th, usable = _prepare(params, responses, theta)
    methods = np.broadcast_to(np.asarray(method, dtype=object), th.shape)
    unknown = set(methods.tolist()) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown method {sorted(unknown)!r}; use one of {', '.join(METHODS)}")

    t = _loglik_terms(params, x, th, 2)
    probs, d1, d2, w = t["probs"], t["d1"], t["d2"], t["logp"]
    r = d1 / t["safe"]
    info = np.sum(d1 * r, axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        c_n = np.sum(d1 * w, axis=(1, 2)) / info
        warm = np.sum(d2 * r, axis=(1, 2)) / (2.0 * info)
    r0 = np.select(
        [methods == "mle", methods == "wle"],
        [np.zeros_like(th), warm],
        -(th - quad.mean) / quad.sd**2,
    )
    item_mean = np.sum(probs * w, -1)
    w_tilde = w - c_n[:, None, None] * r
    # Σ_k P_ik r_ik = Σ_k P'_ik = 0, so the centring term of w̃ is that of w.
    item_var = np.sum(probs * w_tilde**2, -1) - np.sum(probs * w_tilde, -1) ** 2
    num = t["l0"] - item_mean.sum(1) + c_n * r0
    return _standardize(num, item_var.sum(1), usable & (info > 0))


def _administration_order(
    x: np.ndarray, positions: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Column indices of each person's items in administration order (not-presented items
    last), and the per-person item count."""
    presented = x >= 0
    if positions is None:
        key = np.broadcast_to(np.arange(x.shape[1], dtype=float), x.shape)
    else:
        key = np.asarray(positions, dtype=float)
        if key.shape != x.shape:
            raise ValueError("positions must have the shape of responses")
    key = np.where(presented, key, np.inf)
    return np.argsort(key, axis=1, kind="stable"), presented.sum(1)


def _cusum_from_residuals(resid: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """max C⁺ and min C⁻ along the last axis, residuals in administration order.

    C⁺_k = S_k − min_{j≤k} S_j and C⁻_k = S_k − max_{j≤k} S_j with S the partial sums and
    S_0 = 0 (the recursions' closed form), so no loop over items is needed.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = resid / n[..., None]
    s = np.cumsum(steps, -1)
    zero = np.zeros((*s.shape[:-1], 1))
    s = np.concatenate([zero, s], -1)
    c_plus = np.max(s - np.minimum.accumulate(s, -1), -1)
    c_minus = np.min(s - np.maximum.accumulate(s, -1), -1)
    return c_plus, c_minus


def _scaled_residuals(
    params: ItemParams, x: np.ndarray, probs: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """(x − E X) / K for items ``rows`` whose category probabilities are ``probs``."""
    expected = probs @ np.arange(probs.shape[-1], dtype=float)
    return (x - expected) / (params.n_categories[rows] - 1)


def cusum(
    params: ItemParams,
    responses: np.ndarray,
    theta: np.ndarray | Sequence[float],
    positions: np.ndarray | None = None,
) -> Cusum:
    """max C⁺ and min C⁻ of each person at θ̂ (van Krimpen-Stoop & Meijer 2001).

    ``positions`` has the shape of ``responses`` and gives the administration position of
    each presented item (any increasing numbers; entries of items not presented are
    ignored); without it the column order is the administration order.
    """
    x, th, usable = _prepare(params, responses, theta)
    order, n = _administration_order(x, positions)
    rows = np.broadcast_to(np.arange(x.shape[1]), x.shape)
    probs = category_probs_at(params, np.repeat(th, x.shape[1]), rows.ravel())
    resid = _scaled_residuals(params, x.ravel(), probs, rows.ravel()).reshape(x.shape)
    resid = np.take_along_axis(np.where(x >= 0, resid, 0.0), order, 1)
    c_plus, c_minus = _cusum_from_residuals(resid, n)
    return Cusum(np.where(usable, c_plus, np.nan), np.where(usable, c_minus, np.nan))


def _grid_tables(params: ItemParams, quad: Quadrature) -> dict[str, np.ndarray]:
    """ln P, P'/P (shape (N, C, Q)) and item information and Warm's J (shape (N, Q))."""
    probs, d1, d2 = category_functions(params, quad.points, 2)  # (Q, N, C)
    exists = np.arange(probs.shape[-1]) < params.n_categories[:, None]
    safe = np.maximum(probs, P_FLOOR)
    logp = np.where(exists, np.log(safe), 0.0)
    r = np.where(exists, d1 / safe, 0.0)
    return {
        "logp": np.ascontiguousarray(logp.transpose(1, 2, 0)),
        "r": np.ascontiguousarray(r.transpose(1, 2, 0)),
        "info": np.sum(r * d1, -1).T,
        "j": np.sum(r * d2, -1).T,
    }


def _root(g: np.ndarray, pts: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Linear interpolation of the root of g between grid points lo and lo + 1."""
    g0 = np.take_along_axis(g, lo[..., None], -1)[..., 0]
    g1 = np.take_along_axis(g, lo[..., None] + 1, -1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.clip(g0 / (g0 - g1), 0.0, 1.0)
    return pts[lo] + np.nan_to_num(frac) * (pts[1] - pts[0])


def _grid_estimate(
    method: str,
    loglik: np.ndarray,
    score: np.ndarray,
    info: np.ndarray,
    j: np.ndarray,
    quad: Quadrature,
) -> np.ndarray:
    """θ̂ of every replicate from its log-likelihood and score on the grid, shape (..., Q).

    The same estimators as ``scoring.ability.estimate`` (MLE falling back to MAP without an
    interior maximum), with the root located by linear interpolation between grid points.
    """
    pts, q = quad.points, len(quad.points)
    if method == "eap":
        return eap_from_loglik(loglik, quad)[0]

    def modal(prior: bool) -> tuple[np.ndarray, np.ndarray]:
        obj = loglik + (quad.log_prior if prior else 0.0)
        g = score - ((pts - quad.mean) / quad.sd**2 if prior else 0.0)
        idx = np.argmax(obj, -1)
        inner = (idx > 0) & (idx < q - 1)
        g_at = np.take_along_axis(g, idx[..., None], -1)[..., 0]
        lo = np.clip(np.where(g_at > 0, idx, idx - 1), 0, q - 2)
        return np.where(inner, _root(g, pts, lo), pts[idx]), inner

    if method == "map":
        return modal(True)[0]
    if method == "mle":
        theta, inner = modal(False)
        return np.where(inner, theta, modal(True)[0])
    g = score + j / (2.0 * np.maximum(info, P_FLOOR))
    objective = loglik + 0.5 * np.log(np.maximum(info, P_FLOOR))
    crossing = (g[..., :-1] > 0) & (g[..., 1:] <= 0)
    idx = np.argmax(np.where(crossing, objective[..., :-1], -np.inf), -1)
    edge = np.where(g[..., 0] <= 0, pts[0], pts[-1])
    return np.where(crossing.any(-1), _root(g, pts, idx), edge)


def cusum_test(
    params: ItemParams,
    responses: np.ndarray,
    theta: np.ndarray | Sequence[float] | None = None,
    positions: np.ndarray | None = None,
    *,
    method: str | None = "mle",
    n_boot: int = 500,
    rng: np.random.Generator | None = None,
    quad: Quadrature = DEFAULT_QUADRATURE,
) -> CusumTest:
    """The CUSUMs with parametric-bootstrap p-values.

    For each person, ``n_boot`` response vectors are drawn at θ̂ on that person's own
    items; each replicate's θ is re-estimated with ``method`` ("mle", "wle", "map", "eap"
    on the quadrature grid, as ``scoring.ability.estimate`` does, the root interpolated
    between grid points) and its CUSUMs computed like the observed ones. ``method=None``
    keeps θ̂ fixed in every replicate; that ignores how θ̂ was fitted to the observed
    answers (with the MLE their residuals balance out) and makes the p-values strongly
    conservative. Without ``theta`` the estimates come from
    ``scoring.ability.estimate`` with ``method`` (MLE when ``method`` is None).

    The p-values are (1 + #{replicates at least as extreme}) / (n_boot + 1) (Davison &
    Hinkley 1997, Bootstrap Methods and their Application, ch. 4), so none is 0. The
    replicates keep the observed items: in an adaptive test the item selection itself
    depends on the answers, which the bootstrap does not reproduce.
    """
    if method is not None and method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)} or None")
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    rng = np.random.default_rng() if rng is None else rng
    if theta is None:
        theta = [e.theta for e in estimate(params, responses, method or "mle", quad)]
    observed = cusum(params, responses, theta, positions)
    x, th, usable = _prepare(params, responses, theta)
    order, n = _administration_order(x, positions)
    width = int(n.max(initial=0))
    items = order[:, :width]  # (P, n_max) item rows in administration order
    valid = np.arange(width) < n[:, None]
    tables = _grid_tables(params, quad) if method is not None else None
    p_plus = np.full(x.shape[0], np.nan)
    p_minus = np.full(x.shape[0], np.nan)
    block = max(1, _BOOT_CELLS // (n_boot * max(width, 1)))
    for start in range(0, x.shape[0], block):
        blk = slice(start, start + block)
        sim_plus, sim_minus = _bootstrap_block(
            params, th[blk], items[blk], valid[blk], n[blk], method, n_boot, rng, tables, quad
        )
        tol = 1e-12  # a replicate equal to the observed value counts as at least as extreme
        hits_plus = np.sum(sim_plus >= observed.c_plus[blk, None] - tol, 1)
        hits_minus = np.sum(sim_minus <= observed.c_minus[blk, None] + tol, 1)
        p_plus[blk] = (1 + hits_plus) / (n_boot + 1)
        p_minus[blk] = (1 + hits_minus) / (n_boot + 1)
    p_plus = np.where(usable, p_plus, np.nan)
    p_minus = np.where(usable, p_minus, np.nan)
    p_value = np.minimum(1.0, 2.0 * np.minimum(p_plus, p_minus))
    return CusumTest(observed.c_plus, observed.c_minus, p_plus, p_minus, p_value)


def _bootstrap_block(
    params: ItemParams,
    theta: np.ndarray,
    items: np.ndarray,
    valid: np.ndarray,
    n: np.ndarray,
    method: str | None,
    n_boot: int,
    rng: np.random.Generator,
    tables: dict[str, np.ndarray] | None,
    quad: Quadrature,
) -> tuple[np.ndarray, np.ndarray]:
    """Replicate CUSUMs for a block of persons, shape (P, n_boot) each."""
    p, width = items.shape
    probs = category_probs_at(params, np.repeat(theta, width), items.ravel())
    cum = np.cumsum(probs.reshape(p, 1, width, -1), -1)
    u = rng.random((p, n_boot, width, 1))
    top = params.n_categories[items] - 1
    sim = np.minimum((cum <= u).sum(-1), top[:, None, :])  # (P, B, n_max)

    if method is None:
        theta_star = np.broadcast_to(theta[:, None], (p, n_boot))
    else:
        cats = tables["logp"].shape[1]
        # One sparse one-hot row per replicate over the whole bank's (item, category)
        # columns: a single sparse product gives every replicate's log-likelihood and
        # score on the grid, at a cost proportional to the answers actually given.
        cols = (items[:, None, :] * cats + sim)[np.broadcast_to(valid[:, None, :], sim.shape)]
        counts = np.repeat(n, n_boot)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        onehot = csr_matrix(
            (np.ones(cols.size), cols, indptr), shape=(p * n_boot, len(params) * cats)
        )
        loglik = (onehot @ tables["logp"].reshape(-1, len(quad.points))).reshape(p, n_boot, -1)
        score = (onehot @ tables["r"].reshape(-1, len(quad.points))).reshape(p, n_boot, -1)
        info = np.sum(tables["info"][items] * valid[..., None], 1)[:, None, :]  # (P, 1, Q)
        j = np.sum(tables["j"][items] * valid[..., None], 1)[:, None, :]
        theta_star = _grid_estimate(method, loglik, score, info, j, quad)

    rows = np.broadcast_to(items[:, None, :], sim.shape).ravel()
    th_rep = np.broadcast_to(theta_star[..., None], sim.shape).ravel()
    rep_probs = category_probs_at(params, th_rep, rows)
    resid = _scaled_residuals(params, sim.ravel(), rep_probs, rows).reshape(sim.shape)
    resid = np.where(valid[:, None, :], resid, 0.0)
    return _cusum_from_residuals(resid, n[:, None])


__all__ = ["Cusum", "CusumTest", "FitResult", "cusum", "cusum_test", "lz", "lz_star"]
