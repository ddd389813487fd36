"""Marginal maximum likelihood by EM on a fixed quadrature grid (Bock & Aitkin 1981,
Psychometrika 46), for the models of ``scoring.irt`` in its D = 1 metric.

Each cycle computes every person's posterior weights on the grid (E-step), the expected
number of responses in each category of each item at each grid point, and then maximises
the expected complete-data log-likelihood for all items at once with scipy's L-BFGS-B and
analytic gradients (M-step):

- Rasch / 2PL / 3PL: P = c + (1 − c) L, L = logistic(a(θ − b)) (Birnbaum 1968); with a
  Beta(α, β) prior on c for the 3PL, as in BILOG (Mislevy & Bock 1990).
- GPCM: P_k ∝ exp Σ_{v≤k} a(θ − b_v) (Muraki 1992).
- GRM: P_k = P*_k − P*_{k+1}, P*_k = logistic(a(θ − b_k)) (Samejima 1969); thresholds are
  optimised as b_1 and log gaps, so they stay increasing.

Responses are persons × items, categories 0..K, −1 = not presented; a missing response
contributes nothing to either step, so the estimates are full-information MML, valid
whenever the missingness is ignorable (missing at random given the observed responses,
e.g. adaptive or multistage designs) — unlike moment equations fitted to each item's
observed proportions. Parameters travel as tuples of arrays: (a, b, c) for dichotomous
items, (a, steps) for polytomous ones, steps NaN-padded past an item's last step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit, logsumexp

A_BOUNDS = (0.05, 6.0)
B_BOUNDS = (-8.0, 8.0)
C_MAX = 0.5
_GAP_BOUNDS = (np.log(1e-3), np.log(16.0))
_EPS = 1e-12
_FLOOR = 1e-300

Params = tuple[np.ndarray, ...]
LogProbs = Callable[[np.ndarray, Params], np.ndarray]
MStep = Callable[[np.ndarray, np.ndarray, Params], Params]


def posterior(loglik: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """Posterior weights on the grid for each person (rows sum to 1), shape (P, Q)."""
    w = loglik + log_prior
    w -= w.max(1, keepdims=True)
    np.exp(w, out=w)
    w /= w.sum(1, keepdims=True)
    return w


def _lbfgsb(fun, x0: np.ndarray, bounds: list[tuple[float, float]], maxiter: int) -> np.ndarray:
    lo, hi = np.array(bounds, dtype=float).T
    res = minimize(
        fun,
        np.clip(x0, lo, hi),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": maxiter, "ftol": 1e-12, "gtol": 1e-6},
    )
    return res.x


# ------------------------------------------------------------------------ dichotomous


def log_pq(theta: np.ndarray, a, b, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log P, log(1 − P) and L of dichotomous items at θ, shape (Q, N), in log space so
    no term underflows to log 0."""
    z = a * (theta[:, None] - b)
    with np.errstate(divide="ignore"):
        log_c = np.log(c)
    log_p = np.logaddexp(log_c, np.log1p(-c) + log_expit(z))
    return log_p, np.log1p(-c) + log_expit(-z), expit(z)


def dichotomous_log_probs(theta: np.ndarray, params: Params) -> np.ndarray:
    """log P_0, log P_1 of dichotomous items, shape (N, Q, 2)."""
    log_p, log_q, _ = log_pq(theta, *params)
    return np.stack([log_q.T, log_p.T], -1)


def _dichotomous_objective(theta, r, n, a, b, c, c_prior, free):
    """−[Σ r log P + (n − r) log(1 − P) + log prior(c)] and its gradient in ``free``.

    dℓ/dz = (r − nP) L / P (because (1 − c)L(1 − L) / (P(1 − P)) = L/P), so
    ∂ℓ/∂a = Σ (θ − b) dℓ/dz, ∂ℓ/∂b = −a Σ dℓ/dz, ∂ℓ/∂c = Σ (r − nP) / (P(1 − c)).
    """
    log_p, log_q, ell = (v.T for v in log_pq(theta, a, b, c))
    value = np.sum(r * log_p + (n - r) * log_q)
    p = np.exp(log_p)
    resid = r - n * p
    dz = resid * ell / np.maximum(p, _EPS)
    grads = [
        np.sum(dz * (theta - b[:, None]), 1),
        -a * np.sum(dz, 1),
        np.sum(resid / np.maximum(p, _EPS), 1) / (1.0 - c),
    ]
    if c_prior is not None and 2 in free:
        alpha, beta = c_prior
        value += np.sum((alpha - 1) * np.log(c) + (beta - 1) * np.log1p(-c))
        grads[2] = grads[2] + (alpha - 1) / c - (beta - 1) / (1.0 - c)
    return -float(value), -np.stack([grads[k] for k in free], 1).ravel()


def dichotomous_m_step(
    theta: np.ndarray,
    counts: np.ndarray,
    params: Params,
    model: str,
    c_prior: tuple[float, float] | None = None,
    maxiter: int = 30,
) -> Params:
    """Maximise the dichotomous log-likelihood of all items jointly; ``counts`` is
    (N, Q, 2). Rasch: b free (a as given); 2PL: a, b; 3PL: a, b, c."""
    a0, b0, c0 = (np.array(v, dtype=float) for v in params)
    free = {"rasch": (1,), "2pl": (0, 1), "3pl": (0, 1, 2)}[model]
    r, n = counts[..., 1], counts.sum(-1)
    c_bounds = (1e-4 if c_prior is not None else 0.0, C_MAX)
    one = [A_BOUNDS, B_BOUNDS, c_bounds]
    m = len(a0)

    def unpack(v: np.ndarray) -> Params:
        full = [a0, b0, c0]
        for j, col in zip(free, v.reshape(m, len(free)).T, strict=True):
            full[j] = col
        return tuple(full)

    def fun(v: np.ndarray):
        return _dichotomous_objective(theta, r, n, *unpack(v), c_prior, free)

    x0 = np.stack([(a0, b0, c0)[j] for j in free], 1).ravel()
    return unpack(_lbfgsb(fun, x0, [one[j] for j in free] * m, maxiter))


# ------------------------------------------------------------------------------ GPCM


def gpcm_log_probs(theta: np.ndarray, params: Params) -> np.ndarray:
    """log P_k(θ_q) of GPCM items, shape (N, Q, C); −inf past an item's last category."""
    a, steps = params
    z = a[:, None, None] * np.cumsum(theta[None, :, None] - steps[:, None, :], -1)
    z = np.concatenate([np.zeros((*z.shape[:2], 1)), z], -1)
    z = np.where(np.isnan(z), -np.inf, z)
    return z - logsumexp(z, -1, keepdims=True)


def gpcm_m_step(theta: np.ndarray, counts: np.ndarray, params: Params, maxiter: int = 30):
    """GPCM M-step. With z_k = a(kθ − B_k), B_k = Σ_{v≤k} b_v, g_k = r_k − n P_k:
    ∂ℓ/∂a = Σ_q Σ_k g_k (kθ − B_k), ∂ℓ/∂b_v = −a Σ_q Σ_{k≥v} g_k."""
    a, steps = params
    valid = ~np.isnan(steps)
    k = np.arange(steps.shape[1] + 1, dtype=float)
    n_q = counts.sum(-1, keepdims=True)
    m = len(a)

    def unpack(v: np.ndarray) -> Params:
        bb = np.full(steps.shape, np.nan)
        bb[valid] = v[m:]
        return v[:m], bb

    def fun(v: np.ndarray):
        aa, bb = unpack(v)
        logp = gpcm_log_probs(theta, (aa, bb))
        value = np.sum(counts * np.where(np.isfinite(logp), logp, 0.0))
        g = counts - n_q * np.exp(logp)
        big_b = np.concatenate([np.zeros((m, 1)), np.nancumsum(bb, 1)], 1)
        grad_a = np.sum(g * (k * theta[:, None] - big_b[:, None, :]), (1, 2))
        tail = np.flip(np.cumsum(np.flip(g, -1), -1), -1)[..., 1:]  # Σ_{k≥v} g_k
        grad_b = -aa[:, None] * tail.sum(1)
        return -float(value), -np.concatenate([grad_a, grad_b[valid]])

    bounds = [A_BOUNDS] * m + [B_BOUNDS] * int(valid.sum())
    return unpack(_lbfgsb(fun, np.concatenate([a, steps[valid]]), bounds, maxiter))


# ------------------------------------------------------------------------------- GRM


def _grm_probs(theta: np.ndarray, a, steps) -> tuple[np.ndarray, np.ndarray]:
    """P_k (N, Q, C) and P*_j (N, Q, K) of GRM items; P*_j = 0 past an item's K."""
    star = expit(a[:, None, None] * (theta[None, :, None] - steps[:, None, :]))
    star = np.where(np.isnan(star), 0.0, star)
    ones = np.ones((*star.shape[:2], 1))
    cum = np.concatenate([ones, star, np.zeros_like(ones)], -1)
    return cum[..., :-1] - cum[..., 1:], star


def grm_log_probs(theta: np.ndarray, params: Params) -> np.ndarray:
    """log P_k(θ_q) of GRM items, shape (N, Q, C); −inf past an item's last category."""
    a, steps = params
    probs, _ = _grm_probs(theta, a, steps)
    n_cat = 1 + np.sum(~np.isnan(steps), 1)
    impossible = np.arange(probs.shape[-1])[None, :] >= n_cat[:, None]
    logp = np.log(np.maximum(probs, _FLOOR))
    logp[np.broadcast_to(impossible[:, None, :], logp.shape)] = -np.inf
    return logp


def grm_m_step(theta: np.ndarray, counts: np.ndarray, params: Params, maxiter: int = 30):
    """GRM M-step over a, b_1 and u_j = log(b_j − b_{j−1}).

    With D_j = r_j/P_j − r_{j−1}/P_{j−1} and s_j = P*_j(1 − P*_j):
    ∂ℓ/∂b_j = −a Σ_q D_j s_j, ∂ℓ/∂a = Σ_q Σ_j D_j s_j (θ − b_j).
    """
    a, steps = params
    valid = ~np.isnan(steps)
    m = len(a)
    first = np.zeros_like(valid)
    first[:, 0] = True
    gaps = np.diff(steps, axis=1)
    u0 = np.where(first, steps, np.log(np.maximum(np.c_[steps[:, :1], gaps], 1e-3)))

    def unpack(v: np.ndarray) -> Params:
        u = np.zeros(steps.shape)
        u[valid] = v[m:]
        inc = np.where(first, u, np.exp(u))
        return v[:m], np.where(valid, np.cumsum(inc, 1), np.nan)

    def fun(v: np.ndarray):
        aa, bb = unpack(v)
        probs, star = _grm_probs(theta, aa, bb)
        ratio = np.where(counts > 0, counts / np.maximum(probs, _FLOOR), 0.0)
        value = np.sum(np.where(counts > 0, counts * np.log(np.maximum(probs, _FLOOR)), 0.0))
        d = (ratio[..., 1:] - ratio[..., :-1]) * star * (1.0 - star)  # D_j s_j, (N, Q, K)
        d = np.where(valid[:, None, :], d, 0.0)
        grad_b = -aa[:, None] * d.sum(1)  # (N, K)
        grad_a = np.sum(d * (theta[:, None] - np.nan_to_num(bb)[:, None, :]), (1, 2))
        tail = np.flip(np.cumsum(np.flip(grad_b, 1), 1), 1)  # Σ_{j≥i} ∂ℓ/∂b_j
        u = np.zeros(steps.shape)
        u[valid] = v[m:]
        grad_u = np.where(first, tail, np.exp(u) * tail)
        return -float(value), -np.concatenate([grad_a, grad_u[valid]])

    bounds = [A_BOUNDS] * m + [B_BOUNDS if f else _GAP_BOUNDS for f in first[valid]]
    return unpack(_lbfgsb(fun, np.concatenate([a, u0[valid]]), bounds, maxiter))


# -------------------------------------------------------------------------------- EM


def expected_counts(w: np.ndarray, flat: np.ndarray, n_items: int) -> np.ndarray:
    """Σ_p w_pq 1[x_pi = k] for every item, point and category, shape (N, Q, C)."""
    q = w.shape[1]
    return (w.T @ flat).reshape(q, n_items, -1).transpose(1, 0, 2)


def em(
    x: np.ndarray,
    params: Params,
    log_probs: LogProbs,
    m_step: MStep,
    theta: np.ndarray,
    sd: float = 1.0,
    *,
    estimate_sd: bool = False,
    offset: np.ndarray | None = None,
    max_cycles: int = 500,
    tol: float = 1e-4,
    on_cycle: Callable[[int, float], None] | None = None,
) -> tuple[Params, float]:
    """Bock–Aitkin EM cycles from ``params`` until no parameter moves by ``tol``.

    Ability prior N(0, sd²) on the grid ``theta``; ``estimate_sd`` updates sd each cycle to
    the root mean posterior second moment (the Rasch model's free variance). ``offset``
    (P, Q) adds the log-likelihood of fixed items (fixed-parameter calibration).
    """
    n_items = x.shape[1]
    width = log_probs(theta, params).shape[-1]
    flat = (x[..., None] == np.arange(width)).astype(float).reshape(x.shape[0], -1)
    for cycle in range(max_cycles):
        logp = log_probs(theta, params)
        table = np.where(np.isfinite(logp), logp, 0.0).transpose(0, 2, 1).reshape(-1, len(theta))
        loglik = flat @ table if offset is None else flat @ table + offset
        w = posterior(loglik, -0.5 * (theta / sd) ** 2)
        new = m_step(theta, expected_counts(w, flat, n_items), params)
        change = max(float(np.nanmax(np.abs(u - v))) for u, v in zip(new, params, strict=True))
        if estimate_sd:
            new_sd = float(np.sqrt(np.mean(w @ theta**2)))
            change, sd = max(change, abs(new_sd - sd)), new_sd
        params = new
        if on_cycle is not None:
            on_cycle(cycle, change)
        if change < tol:
            break
    return params, sd


__all__ = [
    "A_BOUNDS",
    "B_BOUNDS",
    "C_MAX",
    "Params",
    "dichotomous_log_probs",
    "dichotomous_m_step",
    "em",
    "expected_counts",
    "gpcm_log_probs",
    "gpcm_m_step",
    "grm_log_probs",
    "grm_m_step",
    "log_pq",
    "posterior",
]
