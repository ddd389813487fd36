"""Ability estimation with standard errors: EAP, MAP, MLE and WLE.

Responses are an int matrix (persons × items) of category numbers, −1 where the item was
not presented. Every estimator works for the mixed dichotomous/polytomous tables of
``scoring.params``.

- EAP (Bock & Mislevy 1982, Applied Psychological Measurement 6): the posterior mean on a
  fixed quadrature grid; its SE is the posterior standard deviation. The log-likelihood on
  the grid is a sum over answers, so adding an answer costs O(Q) (``Quadrature``).
- MAP (Baker & Kim 2004, ch. 7): the posterior mode, SE =
  1 / sqrt(I(θ) + 1/σ²).
- MLE (Lord 1980, ch. 4): the likelihood maximum, SE = 1 / sqrt(I(θ)). All-correct and
  all-wrong patterns have no finite MLE; they fall back to MAP and say so in ``reason``.
- WLE (Warm 1989, Psychometrika 54): the root of ∂lnL/∂θ + J(θ) / (2 I(θ)) with
  J(θ) = Σ_i Σ_k P'_ik P''_ik / P_ik (Samejima 1998 for polytomous items); finite for
  extreme patterns, SE = 1 / sqrt(I(θ)) (Warm 1989, eq. 10).

Maxima and roots are bracketed on the quadrature grid and refined by bisection, so a
multimodal 3PL likelihood still yields its global maximum on the grid's range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.irt import P_FLOOR, category_functions, log_prob_table
from scoring.params import ItemParams

METHODS = ("eap", "map", "mle", "wle")
_BISECTIONS = 48


@dataclass(frozen=True, eq=False)
class Quadrature:
    """A fixed θ grid with a normal prior: the basis of EAP and of root bracketing."""

    points: np.ndarray
    log_prior: np.ndarray
    mean: float = 0.0
    sd: float = 1.0

    @classmethod
    def normal(
        cls, n: int = 121, lo: float = -6.0, hi: float = 6.0, mean: float = 0.0, sd: float = 1.0
    ) -> Quadrature:
        """Equally spaced points on [lo, hi] weighted by the N(mean, sd²) density."""
        pts = np.linspace(lo, hi, n)
        log_prior = -0.5 * ((pts - mean) / sd) ** 2
        return cls(pts, log_prior - np.log(np.exp(log_prior).sum()), mean, sd)

    @property
    def moments(self) -> np.ndarray:
        """The columns 1, θ, θ² of the grid, shape (Q, 3)."""
        if "_moments" not in self.__dict__:
            pts = self.points
            self.__dict__["_moments"] = np.stack([np.ones_like(pts), pts, pts * pts], -1)
        return self.__dict__["_moments"]

    @property
    def lo(self) -> float:
        return float(self.points[0])

    @property
    def hi(self) -> float:
        return float(self.points[-1])


DEFAULT_QUADRATURE = Quadrature.normal()


@dataclass(frozen=True)
class AbilityScale:
    """The ability distribution N(mean, sd²) of a calibration: the origin and unit of the
    scale its item parameters are on, and so the prior that EAP and MAP should use on it
    (Bock & Mislevy 1982; Mislevy 1984, Psychometrika 49, on estimating the latent
    distribution). A 2PL/3PL/GPCM/GRM calibration fixes N(0, 1) to identify the scale;
    a Rasch calibration fixes a = 1 and estimates the SD."""

    mean: float = 0.0
    sd: float = 1.0

    def quadrature(self) -> Quadrature:
        return prior_quadrature(self.mean, self.sd)


def prior_quadrature(mean: float = 0.0, sd: float = 1.0) -> Quadrature:
    """The grid for an N(mean, sd²) prior: the default 121 points over [−6, 6], and for
    sd > 1 (a Rasch scale, say) widened to cover mean ± 6 sd at the same spacing of 0.1,
    so the grid keeps the prior's tails. Priors with sd ≤ 1 keep the grid they always had,
    so exams committed before the widening replay unchanged."""
    if sd <= 1.0:
        return Quadrature.normal(mean=mean, sd=sd)
    lo, hi = min(-6.0, mean - 6.0 * sd), max(6.0, mean + 6.0 * sd)
    return Quadrature.normal(round((hi - lo) / 0.1) + 1, lo, hi, mean, sd)


@dataclass(frozen=True)
class Estimate:
    """One ability estimate. ``method`` is the one actually used, ``reason`` why it
    differs from the one asked for (or None)."""

    theta: float
    se: float
    method: str
    reason: str | None = None


def eap_from_loglik(loglik: np.ndarray, quad: Quadrature) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and SD from log-likelihoods on the grid, shape (..., Q) → (...)."""
    w = loglik + quad.log_prior
    w -= w.max(-1, keepdims=True)
    np.exp(w, out=w)
    # Σ w, Σ wθ, Σ wθ² as one sum over the grid axis rather than a matrix product: one
    # row's result then does not depend on how many rows are computed together, so a
    # batch and a replay agree.
    m = (w[..., None] * quad.moments).sum(-2)
    total = m[..., 0]
    theta = m[..., 1] / total
    return theta, np.sqrt(np.maximum(m[..., 2] / total - theta * theta, 0.0))


def loglik_on_grid(params: ItemParams, responses: np.ndarray, quad: Quadrature) -> np.ndarray:
    """Σ_i log P_i,r(θ_q) for each person and grid point, shape (P, Q)."""
    table = log_prob_table(params, quad.points)  # (N, Q, C)
    onehot = _onehot(responses, table.shape[-1])
    return np.einsum("pnc,nqc->pq", onehot, np.where(np.isfinite(table), table, 0.0))


def validate_responses(params: ItemParams, responses: np.ndarray) -> None:
    """Raise ValueError if a response is not a category of its item."""
    responses = np.asarray(responses)
    bad = (responses < -1) | (responses >= params.n_categories[None, :])
    if bad.any():
        p, i = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(
            f"person row {p}, item {params.ids[i]}: response {int(responses[p, i])} is not "
            f"a category 0..{int(params.n_categories[i]) - 1}"
        )


def _onehot(responses: np.ndarray, width: int) -> np.ndarray:
    r = np.asarray(responses)
    return (r[..., None] == np.arange(width)).astype(float)


def _derivatives(
    params: ItemParams, theta: np.ndarray, onehot: np.ndarray, presented: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per person at its own θ: d lnL/dθ, test information I and Warm's J."""
    probs, d1, d2 = category_functions(params, theta, 2)  # (P, N, C)
    exists = np.arange(probs.shape[-1]) < params.n_categories[:, None]
    safe = np.maximum(probs, P_FLOOR)
    score = np.sum(onehot * d1 / safe, axis=(1, 2))
    info_terms = np.where(exists, d1 * d1 / safe, 0.0).sum(-1)
    j_terms = np.where(exists, d1 * d2 / safe, 0.0).sum(-1)
    return score, (info_terms * presented).sum(-1), (j_terms * presented).sum(-1)


def _estimating_function(
    method: str, params, theta, onehot, presented, quad: Quadrature
) -> np.ndarray:
    score, info, j = _derivatives(params, theta, onehot, presented)
    if method == "map":
        return score - (theta - quad.mean) / quad.sd**2
    if method == "wle":
        return score + j / (2.0 * np.maximum(info, P_FLOOR))
    return score


def _grid_functions(params: ItemParams, quad: Quadrature, onehot, presented) -> dict:
    """Log-likelihood, information and J for every person on the whole grid, (P, Q)."""
    probs, d1, d2 = category_functions(params, quad.points, 2)  # (Q, N, C)
    exists = np.arange(probs.shape[-1]) < params.n_categories[:, None]  # (N, C)
    safe = np.maximum(probs, P_FLOOR)
    logp = np.where(exists, np.log(safe), 0.0)
    info_item = np.where(exists, d1 * d1 / safe, 0.0).sum(-1)  # (Q, N)
    j_item = np.where(exists, d1 * d2 / safe, 0.0).sum(-1)
    score = np.einsum("pnc,qnc->pq", onehot, np.where(exists, d1 / safe, 0.0))
    return {
        "loglik": np.einsum("pnc,qnc->pq", onehot, logp),
        "info": presented @ info_item.T,
        "j": presented @ j_item.T,
        "score": score,
    }


def _bracket(method: str, grid: dict, quad: Quadrature) -> tuple[np.ndarray, np.ndarray]:
    """Index of the grid point nearest the estimate, and whether it is interior."""
    q = len(quad.points)
    if method == "wle":
        g = grid["score"] + grid["j"] / (2.0 * np.maximum(grid["info"], P_FLOOR))
        # Downward zero crossings of g are maxima of the Warm-weighted likelihood; pick
        # the one where L·sqrt(I) is largest.
        objective = grid["loglik"] + 0.5 * np.log(np.maximum(grid["info"], P_FLOOR))
        crossing = (g[:, :-1] > 0) & (g[:, 1:] <= 0)
        cand = np.where(crossing, objective[:, :-1], -np.inf)
        has = crossing.any(1)
        idx = np.argmax(cand, 1)
        fallback = np.where(g[:, 0] <= 0, 0, q - 1)
        return np.where(has, idx, fallback), has
    objective = grid["loglik"] + (quad.log_prior if method == "map" else 0.0)
    idx = np.argmax(objective, 1)
    return idx, (idx > 0) & (idx < q - 1)


def _refine(method, params, onehot, presented, quad, idx, interior):
    """Bisection of the estimating function between neighbouring grid points."""
    pts = quad.points
    if method == "wle":
        lo, hi = pts[idx], pts[np.minimum(idx + 1, len(pts) - 1)]
    else:
        lo, hi = pts[np.maximum(idx - 1, 0)], pts[np.minimum(idx + 1, len(pts) - 1)]
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        f = _estimating_function(method, params, mid, onehot, presented, quad)
        up = f > 0
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    theta = 0.5 * (lo + hi)
    return np.where(interior, theta, pts[idx])


def _extreme_reason(params: ItemParams, responses: np.ndarray) -> list[str | None]:
    top = params.n_categories[None, :] - 1
    presented = responses >= 0
    out: list[str | None] = []
    for p in range(responses.shape[0]):
        mask = presented[p]
        if not mask.any():
            out.append("no responses")
        elif np.all(responses[p, mask] == top[0, mask]):
            out.append("all responses in the top category: the MLE is +inf")
        elif np.all(responses[p, mask] == 0):
            out.append("all responses in the bottom category: the MLE is -inf")
        else:
            out.append(None)
    return out


def estimate(
    params: ItemParams,
    responses: np.ndarray,
    method: str = "eap",
    quad: Quadrature = DEFAULT_QUADRATURE,
) -> list[Estimate]:
    """Ability estimates with standard errors for each row of ``responses``."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    responses = np.atleast_2d(np.asarray(responses, dtype=np.int64))
    validate_responses(params, responses)
    if responses.shape[0] == 0:
        return []
    onehot = _onehot(responses, params.max_categories)
    presented = (responses >= 0).astype(float)
    grid = _grid_functions(params, quad, onehot, presented)
    if method == "eap":
        theta, se = eap_from_loglik(grid["loglik"], quad)
        return [Estimate(float(t), float(s), "eap") for t, s in zip(theta, se, strict=True)]

    result_method = np.full(responses.shape[0], method, dtype=object)
    reasons: list[str | None] = [None] * responses.shape[0]
    for p, why in enumerate(_extreme_reason(params, responses)):
        # Without responses every estimator is the prior's; MLE also has no finite
        # estimate for all-top or all-bottom patterns (WLE does).
        if why is not None and (method == "mle" or why == "no responses"):
            result_method[p], reasons[p] = "map", f"{why}; used MAP"
    _idx, interior = _bracket(method, grid, quad)
    for p in np.flatnonzero(~interior & (result_method == method)):
        if method == "mle":
            result_method[p] = "map"
            reasons[p] = "no finite likelihood maximum inside the θ range; used MAP"
        else:
            reasons[p] = f"estimate at the edge of the θ range [{quad.lo}, {quad.hi}]"

    theta = np.empty(responses.shape[0])
    for m in ("mle", "map", "wle"):
        rows = np.flatnonzero(result_method == m)
        if rows.size == 0:
            continue
        sub = {k: v[rows] for k, v in grid.items()}
        i, inner = _bracket(m, sub, quad)
        theta[rows] = _refine(m, params, onehot[rows], presented[rows], quad, i, inner)

    _, info, _ = _derivatives(params, theta, onehot, presented)
    prior_precision = np.where(result_method == "map", 1.0 / quad.sd**2, 0.0)
    se = 1.0 / np.sqrt(np.maximum(info + prior_precision, P_FLOOR))
    return [
        Estimate(float(t), float(s), str(m), r)
        for t, s, m, r in zip(theta, se, result_method, reasons, strict=True)
    ]


def estimate_one(
    params: ItemParams,
    items: list[int] | np.ndarray,
    responses: list[int] | np.ndarray,
    method: str = "eap",
    quad: Quadrature = DEFAULT_QUADRATURE,
) -> Estimate:
    """One person's estimate from the rows ``items`` of ``params`` and their responses."""
    sub = params.subset(np.asarray(items, dtype=np.int64))
    return estimate(sub, np.asarray(responses, dtype=np.int64)[None, :], method, quad)[0]


__all__ = [
    "DEFAULT_QUADRATURE",
    "METHODS",
    "AbilityScale",
    "Estimate",
    "Quadrature",
    "eap_from_loglik",
    "estimate",
    "estimate_one",
    "loglik_on_grid",
    "prior_quadrature",
]
