"""Item-preknowledge statistics for a known set of compromised items, pure numpy.

Each person's items split into the compromised items (CI) and the rest (NCI); an examinee
who saw the CI beforehand scores better on them, or answers them faster, than the NCI
predict. Both statistics are signed square roots of a likelihood-ratio test of one
person parameter for all items against one for the CI and another for the NCI.

- Item scores (Sinharay 2017, Journal of Educational and Behavioral Statistics 42): with
  ln L_S(θ) the log-likelihood of the answers to the item set S,
  LRT = 2 [sup ln L_CI + sup ln L_NCI − sup ln L_CI∪NCI] and
  L_s = sign(θ̂_CI − θ̂_NCI) · sqrt(LRT), asymptotically N(0, 1) without preknowledge;
  preknowledge is the upper tail. The suprema are over the whole real line: the maximum
  is found on the quadrature grid and refined by bisection of the score, and compared with
  the likelihood's limits as θ → ±∞ (an all-correct CI has sup ln L_CI = 0 and θ̂_CI = +∞),
  so the statistic is finite where the MLE is not.
- Response times (Sinharay 2020, Applied Psychological Measurement 44) under van der
  Linden's (2006, Journal of Educational and Behavioral Statistics 31) lognormal model
  ln t_ij ~ N(β_i − τ_j, 1/α_i²): with y_i = β_i − ln t_ij and W_S = Σ_S α_i², the speed
  MLE on S is τ̂_S = Σ_S α_i² y_i / W_S and the LRT of τ_CI = τ_NCI is
  (τ̂_CI − τ̂_NCI)² / (1/W_CI + 1/W_NCI), so
  L_s = (τ̂_CI − τ̂_NCI) / sqrt(1/W_CI + 1/W_NCI), exactly N(0, 1) for known item
  parameters; answering the CI faster is the upper tail.

A person whose presented items are all CI or all NCI gets NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.sparse import csr_matrix
from scipy.stats import norm

from scoring.ability import DEFAULT_QUADRATURE, Quadrature, loglik_on_grid, validate_responses
from scoring.irt import P_FLOOR, category_functions, category_probs_at
from scoring.params import FAMILY_DICHOTOMOUS, ItemParams

_BISECTIONS = 48
#: Replicate answers per bootstrap block (persons × replicates × items); bounds memory.
_BOOT_CELLS = 500_000


class Preknowledge(NamedTuple):
    """L_s per person, its upper-tail p-value 1 − Φ(L_s), and the person parameter
    (θ̂ for item scores, τ̂ for response times) on the CI and on the NCI."""

    statistic: np.ndarray
    p_value: np.ndarray
    estimate_ci: np.ndarray
    estimate_nci: np.ndarray


def _compromised_mask(compromised: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.asarray(compromised)
    if mask.dtype != bool:
        raise ValueError("compromised must be a boolean mask over items (or persons x items)")
    if mask.shape not in ((shape[1],), shape):
        raise ValueError("compromised must have one entry per item, or the shape of the data")
    return np.broadcast_to(mask, shape)


def _loglik_at(params: ItemParams, x: np.ndarray, theta: np.ndarray, order: int):
    """ln L at each row's own θ and, with order 1, the score d ln L / dθ."""
    parts = category_functions(params, theta, order)
    onehot = (x[..., None] == np.arange(parts[0].shape[-1])).astype(float)
    safe = np.maximum(parts[0], P_FLOOR)
    loglik = np.sum(onehot * np.log(safe), axis=(1, 2))
    if order == 0:
        return loglik, None
    return loglik, np.sum(onehot * parts[1] / safe, axis=(1, 2))


def _lower_table(params: ItemParams) -> np.ndarray:
    """Each (item, category)'s term of lim ln L(θ) as θ → −∞, shape (N, C).

    A polytomous item's bottom category then has probability 1, a 3PL item's right answer
    c and its wrong answer 1 − c.
    """
    cats = params.max_categories
    dich = (params.family == FAMILY_DICHOTOMOUS)[:, None]
    k = np.arange(cats)
    with np.errstate(divide="ignore"):
        log_c, log_1mc = np.log(params.c)[:, None], np.log1p(-params.c)[:, None]
    dich_term = np.where(k == 0, log_1mc, np.where(k == 1, log_c, 0.0))
    return np.where(dich, dich_term, np.where(k == 0, 0.0, -np.inf))


def _limits(params: ItemParams, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lim ln L(θ) as θ → −∞ and θ → +∞ for each row. At +∞ every item's top category has
    probability 1: the limit is 0 for an all-top pattern and −∞ otherwise."""
    presented = x >= 0
    top = params.n_categories - 1
    upper = np.where(np.all(~presented | (x == top), 1), 0.0, -np.inf)
    term = np.take_along_axis(_lower_table(params)[None], np.maximum(x, 0)[..., None], 2)
    lower = np.sum(np.where(presented, term[..., 0], 0.0), 1)
    return lower, upper


def sup_loglik(
    params: ItemParams, responses: np.ndarray, quad: Quadrature = DEFAULT_QUADRATURE
) -> tuple[np.ndarray, np.ndarray]:
    """θ̂ = argmax ln L(θ) over the real line and sup ln L of each row of ``responses``.

    The grid maximum is refined by bisection of the score between its neighbours, then
    compared with the limits as θ → ±∞; θ̂ is ±∞ when a limit is the supremum. A maximum at
    the grid's edge that no limit exceeds is taken at the edge.
    """
    x = np.atleast_2d(np.asarray(responses, dtype=np.int64))
    pts = quad.points
    grid = loglik_on_grid(params, x, quad)
    idx = np.argmax(grid, 1)
    interior = (idx > 0) & (idx < len(pts) - 1)
    lo = pts[np.maximum(idx - 1, 0)].astype(float)
    hi = pts[np.minimum(idx + 1, len(pts) - 1)].astype(float)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        up = _loglik_at(params, x, mid, 1)[1] > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    theta = np.where(interior, 0.5 * (lo + hi), pts[idx])
    best = np.maximum(_loglik_at(params, x, theta, 0)[0], grid[np.arange(len(idx)), idx])
    lower, upper = _limits(params, x)
    theta = np.where(upper >= best, np.inf, np.where(lower >= best, -np.inf, theta))
    return theta, np.maximum(best, np.maximum(lower, upper))


def signed_lr(
    params: ItemParams,
    responses: np.ndarray,
    compromised: np.ndarray,
    quad: Quadrature = DEFAULT_QUADRATURE,
    *,
    n_boot: int = 0,
    rng: np.random.Generator | None = None,
) -> Preknowledge:
    """Sinharay's (2017) L_s from item scores, one per person.

    ``responses``: persons × items category numbers, −1 = not presented. ``compromised``:
    a boolean mask over items, or one per person and item. Upper-tail p-values: from the
    standard normal by default; with ``n_boot`` > 0 from a parametric bootstrap under the
    null, ``n_boot`` response vectors per person drawn at θ̂ on all that person's items
    (θ̂ clipped to the grid's range), p = (1 + #{L_s* ≥ L_s}) / (n_boot + 1).

    The normal approximation is good where θ̂_CI and θ̂_NCI are finite; a short CI that is
    answered all correctly (θ̂_CI = +∞) gives an L_s larger than the normal predicts, so
    with few compromised items the normal p-values reject too often. The bootstrap
    p-values do not depend on that approximation.
    """
    x = np.atleast_2d(np.asarray(responses, dtype=np.int64))
    if x.shape[1] != len(params):
        raise ValueError("responses must be persons x items, one column per item")
    validate_responses(params, x)
    ci = _compromised_mask(compromised, x.shape)
    presented = x >= 0
    n = x.shape[0]
    stacked = np.concatenate([x, np.where(ci, x, -1), np.where(ci, -1, x)])
    theta, sup = sup_loglik(params, stacked, quad)
    theta_ci, theta_nci = theta[n : 2 * n], theta[2 * n :]
    stat = _signed_from_sups(
        [theta[:n], theta_ci, theta_nci], [sup[:n], sup[n : 2 * n], sup[2 * n :]]
    )
    usable = np.any(presented & ci, 1) & np.any(presented & ~ci, 1)
    stat = np.where(usable, stat, np.nan)
    if n_boot > 0:
        null_theta = np.clip(theta[:n], quad.lo, quad.hi)
        p_value = _bootstrap_p(params, x, ci, null_theta, stat, n_boot, rng, quad)
    else:
        p_value = norm.sf(stat)
    return Preknowledge(
        stat,
        np.where(usable, p_value, np.nan),
        np.where(usable, theta_ci, np.nan),
        np.where(usable, theta_nci, np.nan),
    )


def _signed_from_sups(th: list[np.ndarray], sup: list[np.ndarray]) -> np.ndarray:
    """L_s from (all, CI, NCI) estimates and suprema."""
    lrt = np.maximum(2.0 * (sup[1] + sup[2] - sup[0]), 0.0)
    with np.errstate(invalid="ignore"):
        sign = np.nan_to_num(np.sign(th[1] - th[2]))
    return np.where(lrt > 0, sign * np.sqrt(lrt), 0.0)


def _grid_sup(onehot: csr_matrix, tables: dict[str, np.ndarray], quad: Quadrature):
    """θ̂ and sup ln L of each sparse one-hot row: the grid maximum refined by the vertex
    of the parabola through it and its neighbours, then compared with the limits ±∞."""
    grid = onehot @ tables["logp"]  # (R, Q)
    pts, q = quad.points, len(quad.points)
    idx = np.argmax(grid, 1)
    rows = np.arange(grid.shape[0])
    mid = np.clip(idx, 1, q - 2)
    y0, y1, y2 = grid[rows, mid - 1], grid[rows, mid], grid[rows, mid + 1]
    curv = y0 - 2.0 * y1 + y2
    inner = (idx == mid) & (curv < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(inner, 0.5 * (y0 - y2) / curv, 0.0)
    step = pts[1] - pts[0]
    theta = np.where(inner, pts[mid] + shift * step, pts[idx])
    best = np.where(inner, y1 - 0.25 * (y0 - y2) * shift, grid[rows, idx])
    lower = onehot @ tables["lower"]
    upper = np.where(onehot @ tables["not_top"] > 0, -np.inf, 0.0)
    theta = np.where(upper >= best, np.inf, np.where(lower >= best, -np.inf, theta))
    return theta, np.maximum(best, np.maximum(lower, upper))


def _bootstrap_p(
    params: ItemParams,
    x: np.ndarray,
    ci: np.ndarray,
    theta: np.ndarray,
    observed: np.ndarray,
    n_boot: int,
    rng: np.random.Generator | None,
    quad: Quadrature,
) -> np.ndarray:
    rng = np.random.default_rng() if rng is None else rng
    cats = params.max_categories
    probs = category_functions(params, quad.points, 0)[0]  # (Q, N, C)
    exists = np.arange(cats) < params.n_categories[:, None]
    logp = np.where(exists, np.log(np.maximum(probs, P_FLOOR)), 0.0)
    tables = {
        "logp": logp.transpose(1, 2, 0).reshape(-1, len(quad.points)),
        "lower": _lower_table(params).reshape(-1),
        "not_top": (np.arange(cats) != (params.n_categories - 1)[:, None]).astype(float).ravel(),
    }
    presented = x >= 0
    counts = presented.sum(1)
    width = max(int(counts.max(initial=0)), 1)
    items = np.argsort(~presented, axis=1, kind="stable")[:, :width]
    valid = np.arange(width) < counts[:, None]
    in_ci = np.take_along_axis(ci, items, 1) & valid
    out = np.full(x.shape[0], np.nan)
    block = max(1, _BOOT_CELLS // (n_boot * width))
    for start in range(0, x.shape[0], block):
        blk = slice(start, start + block)
        p, it = items[blk].shape[0], items[blk]
        cum = np.cumsum(category_probs_at(params, np.repeat(theta[blk], width), it.ravel()), -1)
        u = rng.random((p, n_boot, width, 1))
        top = params.n_categories[it] - 1
        sim = np.minimum((cum.reshape(p, 1, width, -1) <= u).sum(-1), top[:, None, :])
        cols = it[:, None, :] * cats + sim
        th, sup = [], []
        for keep in (valid[blk], in_ci[blk], valid[blk] & ~in_ci[blk]):
            mask = np.broadcast_to(keep[:, None, :], sim.shape)
            indptr = np.concatenate([[0], np.cumsum(mask.reshape(p * n_boot, width).sum(1))])
            onehot = csr_matrix(
                (np.ones(int(indptr[-1])), cols[mask], indptr),
                shape=(p * n_boot, len(params) * cats),
            )
            t, m = _grid_sup(onehot, tables, quad)
            th.append(t.reshape(p, n_boot))
            sup.append(m.reshape(p, n_boot))
        replicate = _signed_from_sups(th, sup)
        tol = 1e-9  # replicates equal to the observed value count as at least as extreme
        out[blk] = (1 + np.sum(replicate >= observed[blk, None] - tol, 1)) / (n_boot + 1)
    return out


def signed_lr_times(
    log_times: np.ndarray,
    beta: np.ndarray,
    alpha: np.ndarray,
    compromised: np.ndarray,
) -> Preknowledge:
    """Sinharay's (2020) L_s from log response times, one per person.

    ``log_times``: persons × items ln t, NaN = not presented. ``beta`` and ``alpha``: each
    item's time intensity and time discrimination under van der Linden's (2006) lognormal
    model. ``compromised``: a boolean mask over items, or one per person and item.
    Upper-tail p-values (faster on the compromised items).
    """
    logt = np.atleast_2d(np.asarray(log_times, dtype=float))
    beta = np.asarray(beta, dtype=float)
    alpha = np.asarray(alpha, dtype=float)
    if beta.shape != (logt.shape[1],) or alpha.shape != (logt.shape[1],):
        raise ValueError("beta and alpha must have one value per item (column of log_times)")
    if not np.all(alpha > 0):
        raise ValueError("time discriminations alpha must be > 0")
    ci = _compromised_mask(compromised, logt.shape)
    seen = ~np.isnan(logt)
    weight = np.where(seen, alpha**2, 0.0)
    y = np.where(seen, beta - logt, 0.0)
    w_ci = np.sum(weight * ci, 1)
    w_nci = np.sum(weight * ~ci, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau_ci = np.sum(weight * y * ci, 1) / w_ci
        tau_nci = np.sum(weight * y * ~ci, 1) / w_nci
        stat = (tau_ci - tau_nci) / np.sqrt(1.0 / w_ci + 1.0 / w_nci)
    usable = (w_ci > 0) & (w_nci > 0)
    stat = np.where(usable, stat, np.nan)
    return Preknowledge(
        stat,
        norm.sf(stat),
        np.where(usable, tau_ci, np.nan),
        np.where(usable, tau_nci, np.nan),
    )


__all__ = ["Preknowledge", "signed_lr", "signed_lr_times", "sup_loglik"]
