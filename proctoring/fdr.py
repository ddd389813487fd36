"""False discovery rate control across many examinees' p-values, pure numpy.

Benjamini–Hochberg step-up (Benjamini & Hochberg 1995, Journal of the Royal Statistical
Society B 57): with the m p-values sorted, p_(1) ≤ … ≤ p_(m), reject the hypotheses of
p_(1) … p_(k) for the largest k with p_(k) ≤ k q / m. For independent (or positively
dependent) tests the expected share of false discoveries is at most q m₀ / m ≤ q.

The adjusted p-value (q-value) of p_(i) is min_{j ≥ i} min(1, m p_(j) / j); a hypothesis
is a discovery at level q exactly when its adjusted p-value is ≤ q.

NaN p-values (e.g. a person with too few items) are never discoveries and do not count
in m; their adjusted p-values are NaN.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control


def _finite(p_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p_values, dtype=float)
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1] (or be NaN)")
    return p, ok


def benjamini_hochberg(p_values: np.ndarray, q: float = 0.05) -> np.ndarray:
    """Boolean mask (the shape of ``p_values``) of the BH discoveries at FDR level ``q``."""
    if not 0 < q < 1:
        raise ValueError("q must be in (0, 1)")
    p, ok = _finite(p_values)
    found = np.zeros(p.shape, dtype=bool)
    values = p[ok]
    m = values.size
    if m == 0:
        return found
    ranked = np.sort(values)
    below = np.flatnonzero(ranked <= q * np.arange(1, m + 1) / m)
    if below.size:
        # Step-up: everything at or below the largest p_(k) under its bound is rejected,
        # even p-values above their own bound.
        found[ok] = values <= ranked[below[-1]]
    return found


def bh_adjusted(p_values: np.ndarray) -> np.ndarray:
    """BH adjusted p-values (q-values), the shape of ``p_values``; NaN stays NaN."""
    p, ok = _finite(p_values)
    out = np.full(p.shape, np.nan)
    if ok.any():
        # scipy.stats.false_discovery_control (scipy ≥ 1.11, the project's minimum)
        # computes min_{j ≥ i} min(1, m p_(j) / j); it is given only the non-NaN values so
        # that m counts them alone.
        out[ok] = false_discovery_control(p[ok], method="bh")
    return out


__all__ = ["benjamini_hochberg", "bh_adjusted"]
