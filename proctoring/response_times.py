"""Response-time forensics: the lognormal model, speed, person fit and rapid guessing.

Log response times are a float matrix (persons × items) of ln t_ij, t in seconds, NaN where
the item was not presented; in an adaptive test every person has a different set of items.

- Lognormal model (van der Linden 2006, J. Educ. Behav. Stat. 31, "A lognormal model for
  response times on test items"): ln t_ij = β_i − τ_j + ε_ij, ε_ij ~ N(0, 1/α_i²), with
  β_i the item's time intensity, α_i its time discrimination and τ_j the person's speed.
  The scale is identified by fixing the mean of τ over persons to 0 (van der Linden 2006).
- Speed for known item parameters (van der Linden 2006): the maximum-likelihood estimate
  τ̂_j = Σ_i α_i² (β_i − ln t_ij) / Σ_i α_i², with SE 1/√(Σ_i α_i²), the inverse square
  root of the Fisher information.
- Person fit (van der Linden & Guo 2008, Psychometrika 73, "Bayesian procedures for
  identifying aberrant response-time patterns in adaptive testing"; Marianti, Fox,
  Avetisyan, Veldkamp & Tijmstra 2014, J. Educ. Behav. Stat. 39): standardized residuals
  z_ij = α_i (ln t_ij − (β_i − τ_j)) and L_T,j = Σ_i z_ij², χ² with n_j degrees of freedom
  for a known τ_j and n_j − 1 when τ_j is its ML estimate (Sinharay 2018, J. Educ. Meas.
  55, "A new person-fit statistic for the lognormal model for response times"). A large
  L_T (upper tail) means times that the person's own speed does not explain: too fast
  on some items and too slow on others, e.g. rapid guessing or preknowledge.
- Rapid guessing: the normative threshold NT10 of an item is 10 % of its mean response
  time, at most 10 s (Wise & Ma 2012, "Setting response time thresholds for a CAT item
  pool: the normative threshold method", NCME annual meeting); a response faster than its
  item's threshold is a rapid guess. Response-time effort RTE_j is the share of a
  person's responses at or above threshold (Wise & Kong 2005, Appl. Meas. Educ. 18,
  "Response time effort: a new measure of examinee motivation in computer-based tests").

Estimation: ``fit_lognormal`` maximizes the likelihood by alternating the closed-form
conditional updates τ_j = Σ_i α_i² (β_i − ln t_ij) / Σ_i α_i² and β_i = mean_j (ln t_ij + τ_j)
(both the likelihood equations given the other parameters), then sets 1/α_i² to the
item's sum of squared residuals over its residual degrees of freedom
d_i = n_i − 1 − Σ_j α_i² / Σ_{k ∈ I_j} α_k² instead of n_i. The subtracted terms are the
leverages of β_i and of each τ_j on the item's observations in the weighted least-squares
fit, so the denominator is the expected number of squared residuals left over; with the ML
denominator n_i, α would be overestimated most for items taken by persons who took few
items. Items with fewer than ``min_obs`` observations get NaN parameters and are left out
of the fit and of every person statistic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

#: Wise & Ma (2012): NT10 is 10 % of the item's mean time, capped at 10 seconds.
NT_FRACTION = 0.10
NT_CAP_SECONDS = 10.0


@dataclass(frozen=True, eq=False)
class LognormalFit:
    """Item parameters β (time intensity) and α (time discrimination), person speeds τ
    (larger is faster; mean 0 over the persons in the fit), each item's observations among
    the persons in the fit (those with at least two fitted items), and whether the
    alternating updates converged. Items with ``n_obs < min_obs`` have NaN β and α;
    persons without a fitted item have NaN τ."""

    beta: np.ndarray
    alpha: np.ndarray
    tau: np.ndarray
    n_obs: np.ndarray
    converged: bool
    iterations: int


@dataclass(frozen=True, eq=False)
class TimeFit:
    """Person fit of response times: speed τ with its SE, L_T with its degrees of freedom
    and upper-tail p-value (NaN when df < 1), and the residuals z (persons × items, NaN
    where not presented or not fitted)."""

    tau: np.ndarray
    se: np.ndarray
    lt: np.ndarray
    df: np.ndarray
    p_value: np.ndarray
    z: np.ndarray


@dataclass(frozen=True, eq=False)
class RapidGuessing:
    """Rapid responses (persons × items, True = faster than the item's threshold), their
    count per person, the number of responses that could be classified (presented, with
    a threshold) and response-time effort RTE = 1 − n_rapid / n_classified."""

    rapid: np.ndarray
    n_rapid: np.ndarray
    n_classified: np.ndarray
    rte: np.ndarray


def _as_log_times(log_times: np.ndarray) -> np.ndarray:
    y = np.asarray(log_times, dtype=float)
    if y.ndim != 2:
        raise ValueError("log_times must be a persons x items matrix")
    if np.any(np.isinf(y)):
        raise ValueError("log_times must be finite or NaN (a time of 0 s has no logarithm)")
    return y


def _usable(mask: np.ndarray, min_obs: int) -> tuple[np.ndarray, np.ndarray]:
    """Items with at least ``min_obs`` observations among persons with at least two
    usable items, and those persons, to a fixed point. A person with one item carries no
    information about the item parameters: τ_j absorbs the whole residual."""
    items = np.ones(mask.shape[1], dtype=bool)
    persons = np.ones(mask.shape[0], dtype=bool)
    while True:
        persons_new = (mask[:, items].sum(1) >= 2) & persons
        items_new = (mask[persons_new].sum(0) >= min_obs) & items
        if np.array_equal(items_new, items) and np.array_equal(persons_new, persons):
            return items, persons
        items, persons = items_new, persons_new


def fit_lognormal(
    log_times: np.ndarray, min_obs: int = 20, tol: float = 1e-8, max_iter: int = 500
) -> LognormalFit:
    """β, α and τ of van der Linden's (2006) lognormal model by alternating ML updates.

    Identification: mean τ = 0 over the persons in the fit (van der Linden 2006). The
    variance update divides by the residual degrees of freedom (module docstring).
    Convergence: the largest change of β, ln α and τ in one sweep is below ``tol``.
    """
    y = _as_log_times(log_times)
    if min_obs < 2:
        raise ValueError("min_obs must be at least 2")
    n_persons, n_items = y.shape
    items, persons = _usable(~np.isnan(y), min_obs)
    mask = ~np.isnan(y) & items[None, :] & persons[:, None]
    n_obs = (~np.isnan(y))[persons].sum(0)
    beta = np.full(n_items, np.nan)
    alpha = np.full(n_items, np.nan)
    tau = np.full(n_persons, np.nan)
    if not items.any():
        return LognormalFit(beta, alpha, tau, n_obs, False, 0)

    m = mask[np.ix_(persons, items)].astype(float)
    y0 = np.where(m > 0, y[np.ix_(persons, items)], 0.0)
    n_i = m.sum(0)
    b = y0.sum(0) / n_i
    t = np.zeros(m.shape[0])
    w = np.ones(m.shape[1])
    w = _precision(m, y0, b, t, w, n_i)
    converged, iterations = False, 0
    while not converged and iterations < max_iter:
        iterations += 1
        t_new = (m @ (w * b) - y0 @ w) / (m @ w)
        t_new -= t_new.mean()
        b_new = (y0.sum(0) + m.T @ t_new) / n_i
        w_new = _precision(m, y0, b_new, t_new, w, n_i)
        change = max(
            np.max(np.abs(b_new - b)),
            np.max(np.abs(t_new - t)),
            0.5 * np.max(np.abs(np.log(w_new / w))),
        )
        b, t, w = b_new, t_new, w_new
        converged = change < tol
    beta[items], alpha[items] = b, np.sqrt(w)
    tau[persons] = t
    # Persons left out of the fit (one usable item) still get a speed estimate.
    others = ~persons & (~np.isnan(y) & items[None, :]).any(1)
    if others.any():
        tau[others] = speed_estimates(y[others], beta, alpha)[0]
    return LognormalFit(beta, alpha, tau, n_obs, bool(converged), iterations)


def _precision(
    m: np.ndarray, y0: np.ndarray, b: np.ndarray, t: np.ndarray, w: np.ndarray, n_i: np.ndarray
) -> np.ndarray:
    """α_i² = d_i / Σ_j r_ij² with the residual degrees of freedom d_i at weights ``w``."""
    resid = m * (y0 - b[None, :] + t[:, None])
    ss = np.einsum("ji,ji->i", resid, resid)
    leverage_tau = w * (m.T @ (1.0 / (m @ w)))
    df = np.maximum(n_i - 1.0 - leverage_tau, 1.0)
    return df / np.maximum(ss, np.finfo(float).tiny)


def _presented(log_times: np.ndarray, beta: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    y = _as_log_times(log_times)
    beta, alpha = np.asarray(beta, dtype=float), np.asarray(alpha, dtype=float)
    if beta.shape != (y.shape[1],) or alpha.shape != (y.shape[1],):
        raise ValueError("beta and alpha must have one value per item (column)")
    fitted = np.isfinite(beta) & np.isfinite(alpha) & (alpha > 0)
    return ~np.isnan(y) & fitted[None, :]


def speed_estimates(
    log_times: np.ndarray, beta: np.ndarray, alpha: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """τ̂_j = Σ α_i² (β_i − ln t_ij) / Σ α_i² and SE 1/√(Σ α_i²) over the person's presented
    items with finite parameters (van der Linden 2006); NaN for a person with none."""
    y = _as_log_times(log_times)
    seen = _presented(y, beta, alpha)
    w = np.where(seen, np.nan_to_num(np.asarray(alpha, dtype=float)) ** 2, 0.0)
    diff = np.where(seen, np.nan_to_num(np.asarray(beta, dtype=float))[None, :] - y, 0.0)
    info = w.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(info > 0, (w * diff).sum(1) / info, np.nan)
        se = np.where(info > 0, 1.0 / np.sqrt(info), np.nan)
    return tau, se


def standardized_residuals(
    log_times: np.ndarray, beta: np.ndarray, alpha: np.ndarray, tau: np.ndarray
) -> np.ndarray:
    """z_ij = α_i (ln t_ij − (β_i − τ_j)) (van der Linden & Guo 2008); NaN where not
    presented or the item has no parameters. Negative: faster than the model expects."""
    y = _as_log_times(log_times)
    seen = _presented(y, beta, alpha)
    tau = np.asarray(tau, dtype=float)
    if tau.shape != (y.shape[0],):
        raise ValueError("tau must have one value per person (row)")
    z = np.asarray(alpha, dtype=float)[None, :] * (
        y - (np.asarray(beta, dtype=float)[None, :] - tau[:, None])
    )
    return np.where(seen, z, np.nan)


def time_person_fit(
    log_times: np.ndarray, beta: np.ndarray, alpha: np.ndarray, tau: np.ndarray | None = None
) -> TimeFit:
    """L_T,j = Σ_i α_i² (ln t_ij − (β_i − τ_j))² with its χ² upper-tail p-value.

    With ``tau`` None the speed is estimated (``speed_estimates``) and the reference is
    χ²(n_j − 1) (Sinharay 2018); with a known ``tau`` it is χ²(n_j) (Marianti et al. 2014).
    """
    y = _as_log_times(log_times)
    est_tau, se = speed_estimates(y, beta, alpha)
    seen = _presented(y, beta, alpha)
    n = seen.sum(1)
    if tau is None:
        tau, df = est_tau, n - 1
    else:
        tau, df = np.asarray(tau, dtype=float), n
    z = standardized_residuals(y, beta, alpha, tau)
    valid = (n > 0) & np.isfinite(tau)
    lt = np.where(valid, np.nansum(z * z, axis=1), np.nan)
    p = np.where(valid & (df >= 1), chi2.sf(lt, np.maximum(df, 1)), np.nan)
    return TimeFit(tau, se, lt, df, p, z)


def nt10_thresholds(
    times: np.ndarray, fraction: float = NT_FRACTION, cap: float = NT_CAP_SECONDS
) -> np.ndarray:
    """Per item: ``fraction`` of its mean response time in seconds, at most ``cap``
    (NT10, Wise & Ma 2012); NaN for an item nobody was presented."""
    t = np.asarray(times, dtype=float)
    if t.ndim != 2:
        raise ValueError("times must be a persons x items matrix in seconds")
    seen = ~np.isnan(t)
    count = seen.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(seen, t, 0.0).sum(0) / count
    return np.where(count > 0, np.minimum(fraction * mean, cap), np.nan)


def flag_rapid_guessing(times: np.ndarray, thresholds: np.ndarray | None = None) -> RapidGuessing:
    """Rapid responses (t < threshold) and response-time effort per person (Wise & Kong
    2005). ``thresholds`` default to NT10 of ``times`` (Wise & Ma 2012); a response to an
    item without a threshold is not classified. RTE is NaN with nothing classified."""
    t = np.asarray(times, dtype=float)
    thr = nt10_thresholds(t) if thresholds is None else np.asarray(thresholds, dtype=float)
    if t.ndim != 2 or thr.shape != (t.shape[1],):
        raise ValueError("times must be persons x items and thresholds one per item")
    classified = ~np.isnan(t) & ~np.isnan(thr)[None, :]
    rapid = classified & (t < np.nan_to_num(thr)[None, :])
    n_rapid, n_classified = rapid.sum(1), classified.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rte = np.where(n_classified > 0, 1.0 - n_rapid / n_classified, np.nan)
    return RapidGuessing(rapid, n_rapid, n_classified, rte)


__all__ = [
    "NT_CAP_SECONDS",
    "NT_FRACTION",
    "LognormalFit",
    "RapidGuessing",
    "TimeFit",
    "fit_lognormal",
    "flag_rapid_guessing",
    "nt10_thresholds",
    "speed_estimates",
    "standardized_residuals",
    "time_person_fit",
]
