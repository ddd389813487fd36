"""Mantel–Haenszel differential item functioning (DIF), pure numpy.

For each item, persons of the reference and focal groups are matched on a score and the
item's 2 × 2 tables (group × right/wrong) are pooled over the score strata k:

- α_MH = Σ_k A_k D_k / T_k ÷ Σ_k B_k C_k / T_k (Mantel & Haenszel 1959; Holland & Thayer
  1988), A/B the reference group's right/wrong counts, C/D the focal group's, T_k the
  stratum size. α_MH > 1: the item is easier for the reference group than for matched
  focal-group members.
- MH D-DIF = −2.35 ln α_MH, the ETS delta scale (Holland & Thayer 1988); negative values
  mean DIF against the focal group.
- MH χ² = (|Σ A_k − Σ E(A_k)| − ½)² / Σ Var(A_k), with E(A_k) = n_Rk m_1k / T_k and
  Var(A_k) = n_Rk n_Fk m_1k m_0k / (T_k² (T_k − 1)), df 1 (Holland & Thayer 1988).
- SE(D) = 2.35 · SE(ln α_MH), the Robins–Breslow–Greenland (1986) variance.
- ETS classes (Zwick 2012, ETS RR-12-08; Dorans & Holland 1993): **A** if the MH χ² is not
  significant at 5 % or |D| < 1; **C** if |D| ≥ 1.5 and |D| is significantly greater than
  1 ((|D| − 1)/SE(D) > z₀.₉₅, one-sided 5 %); **B** otherwise.

Polytomous items (any observed response above 1) use Mantel's (1963) test of ordered
scores and the standardized mean difference SMD = Σ_k p_Fk (m_Fk − m_Rk) (Dorans & Schmitt
1991), with the ETS rule of Zwick, Thayer & Mazzeo (1997, Appl. Meas. Educ. 10): **AA** if
p ≥ .05 or |SMD/SD| ≤ .17, **CC** if p < .05 and |SMD/SD| > .25, **BB** otherwise (SD: the
item-score SD of both groups together). Their α_MH and D-DIF are NaN.

Matching: by default each person's total score over the items they were presented,
*including* the studied item (Holland & Thayer 1988); ``matching="rest"`` leaves the studied
item out. An item is analysed over the persons who saw it (response ≠ −1), each in the
stratum of their own score. Sum scores compare persons only when they saw the same items
(or randomly equivalent forms); for adaptive or otherwise incomplete designs pass
``strata`` (e.g. binned θ estimates) instead.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.stats import chi2, norm

#: The scale factor of the ETS delta metric: D = −2.35 ln α (Holland & Thayer 1988).
DELTA_SCALE = 2.35
DIF_CSV_HEADER = ("item_id", "mh_odds_ratio", "mh_d_dif", "p_value", "ets_class")


@dataclass(frozen=True)
class DifResult:
    """DIF statistics of one item. ``ets_class`` is A/B/C (dichotomous), AA/BB/CC
    (polytomous) or NA when the item gives no information (``note`` says why)."""

    item_id: str
    mh_odds_ratio: float
    mh_d_dif: float
    p_value: float
    ets_class: str
    se_d_dif: float = float("nan")
    chi_square: float = float("nan")
    smd: float = float("nan")
    n_reference: int = 0
    n_focal: int = 0
    method: str = "MH"
    note: str = ""


@dataclass(frozen=True)
class MHStatistics:
    """The pooled Mantel–Haenszel statistics of one set of 2 × 2 tables."""

    odds_ratio: float
    d_dif: float
    se_d_dif: float
    chi_square: float
    p_value: float


def mh_from_tables(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> MHStatistics:
    """α_MH, D-DIF with its RBG standard error, and the continuity-corrected MH χ².

    ``a, b`` are the reference group's right/wrong counts per stratum, ``c, d`` the focal
    group's (Holland & Thayer 1988). Variance of ln α_MH (Robins, Breslow & Greenland
    1986): Σ P R / 2R₊² + Σ (P S + Q R) / 2R₊S₊ + Σ Q S / 2S₊², with P = (A + D)/T,
    Q = (B + C)/T, R = AD/T, S = BC/T.
    """
    a, b, c, d = (np.asarray(v, dtype=float) for v in (a, b, c, d))
    t = a + b + c + d
    use = t > 1
    a, b, c, d, t = a[use], b[use], c[use], d[use], t[use]
    r, s = a * d / t, b * c / t
    big_p, big_q = (a + d) / t, (b + c) / t
    r_sum, s_sum = r.sum(), s.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = r_sum / s_sum
        d_dif = -DELTA_SCALE * np.log(alpha)
        var_ln = (
            np.sum(big_p * r) / (2 * r_sum**2)
            + np.sum(big_p * s + big_q * r) / (2 * r_sum * s_sum)
            + np.sum(big_q * s) / (2 * s_sum**2)
        )
        n_ref, n_foc, right, wrong = a + b, c + d, a + c, b + d
        expected = np.sum(n_ref * right / t)
        variance = np.sum(n_ref * n_foc * right * wrong / (t * t * (t - 1)))
        stat = max(abs(a.sum() - expected) - 0.5, 0.0) ** 2 / variance
    p = float(chi2.sf(stat, 1)) if variance > 0 else float("nan")
    return MHStatistics(
        float(alpha),
        float(d_dif),
        float(DELTA_SCALE * np.sqrt(var_ln)),
        float(stat) if variance > 0 else float("nan"),
        p,
    )


def ets_class(d_dif: float, se_d_dif: float, p_value: float, alpha: float = 0.05) -> str:
    """The ETS A/B/C category of an item (Zwick 2012, ETS RR-12-08; Dorans & Holland
    1993): A if not significant or |D| < 1; C if |D| ≥ 1.5 and (|D| − 1)/SE > z_{1−α}
    (one-sided); B otherwise. NA if the statistics are undefined."""
    if np.isnan(p_value) or np.isnan(d_dif):
        return "NA"
    size = abs(d_dif)
    if p_value >= alpha or size < 1.0:
        return "A"
    with np.errstate(invalid="ignore"):
        z = (size - 1.0) / se_d_dif
    if size >= 1.5 and np.isfinite(se_d_dif) and z > norm.ppf(1 - alpha):
        return "C"
    return "B"


def polytomous_ets_class(smd_over_sd: float, p_value: float, alpha: float = 0.05) -> str:
    """ETS polytomous category (Zwick, Thayer & Mazzeo 1997): AA, BB or CC."""
    if np.isnan(p_value) or np.isnan(smd_over_sd):
        return "NA"
    size = abs(smd_over_sd)
    if p_value >= alpha or size <= 0.17:
        return "AA"
    return "CC" if size > 0.25 else "BB"


def _stratum_sums(
    item: np.ndarray, stratum: np.ndarray, weights: np.ndarray, n_items: int, n_strata: int
) -> np.ndarray:
    """Σ weights per (item, stratum), shape (N, S): one bincount for every item at once."""
    flat = np.bincount(item * n_strata + stratum, weights, minlength=n_items * n_strata)
    return flat.reshape(n_items, n_strata)


def _matching(
    x: np.ndarray, seen: np.ndarray, matching: str, strata: np.ndarray | None
) -> np.ndarray:
    """Stratum of every (person, item): score over presented items, or ``strata``."""
    if strata is not None:
        s = np.asarray(strata)
        if s.shape != (x.shape[0],) or not np.issubdtype(s.dtype, np.integer) or s.min() < 0:
            raise ValueError("strata must be one non-negative integer per person")
        return np.broadcast_to(s[:, None], x.shape)
    total = np.where(seen, x, 0).sum(1)
    if matching == "total":
        return np.broadcast_to(total[:, None], x.shape)
    if matching == "rest":
        return total[:, None] - np.where(seen, x, 0)
    raise ValueError(f"unknown matching {matching!r}; use 'total' or 'rest'")


def mantel_haenszel(
    responses: np.ndarray,
    item_ids: Sequence[str],
    focal: np.ndarray,
    reference: np.ndarray | None = None,
    *,
    matching: str = "total",
    strata: np.ndarray | None = None,
    alpha: float = 0.05,
) -> list[DifResult]:
    """Mantel–Haenszel DIF of every item (Holland & Thayer 1988) with ETS classes.

    ``responses``: persons × items, 0/1 (or 0..K), −1 = not presented. ``focal`` and
    ``reference`` are boolean masks over persons (default reference: everyone not focal);
    persons in neither are left out. Strata: the total score over presented items
    including the studied item (``matching="total"``), the rest score (``"rest"``), or the
    given integer ``strata`` per person.
    """
    x = np.asarray(responses)
    if x.ndim != 2 or x.shape[1] != len(item_ids):
        raise ValueError("responses must be persons x items, one column per item id")
    x = x.astype(np.int64)
    if np.any(x < -1):
        raise ValueError("responses must be category numbers >= 0, or -1 for not presented")
    focal = np.asarray(focal, dtype=bool)
    reference = ~focal if reference is None else np.asarray(reference, dtype=bool)
    if focal.shape != (x.shape[0],) or reference.shape != (x.shape[0],):
        raise ValueError("focal and reference must be one boolean per person")
    if np.any(focal & reference):
        raise ValueError("a person cannot be in both the focal and the reference group")
    seen = x >= 0
    stratum = _matching(x, seen, matching, strata)
    n_items = x.shape[1]
    n_strata = int(stratum.max(initial=0)) + 1
    p_idx, i_idx = np.nonzero(seen & (focal | reference)[:, None])
    st, y = stratum[p_idx, i_idx], x[p_idx, i_idx].astype(float)
    is_focal = focal[p_idx].astype(float)
    is_ref = 1.0 - is_focal

    def sums(w: np.ndarray) -> np.ndarray:
        return _stratum_sums(i_idx, st, w, n_items, n_strata)

    n_r, n_f = sums(is_ref), sums(is_focal)
    y_r, y_f, y2 = sums(y * is_ref), sums(y * is_focal), sums(y * y)
    top = np.zeros(n_items, dtype=np.int64)
    np.maximum.at(top, i_idx, x[p_idx, i_idx])
    out = []
    for i, item in enumerate(item_ids):
        counts = (int(n_r[i].sum()), int(n_f[i].sum()))
        if top[i] <= 1:
            res = _dichotomous(item, n_r[i], n_f[i], y_r[i], y_f[i], alpha)
        else:
            res = _polytomous(item, n_r[i], n_f[i], y_r[i], y_f[i], y2[i], alpha)
        out.append(_with_counts(res, *counts))
    return out


def _with_counts(res: DifResult, n_ref: int, n_foc: int) -> DifResult:
    note = res.note
    if n_ref == 0 or n_foc == 0:
        note = "no responses from the " + ("reference" if n_ref == 0 else "focal") + " group"
    return replace(res, n_reference=n_ref, n_focal=n_foc, note=note)


def _dichotomous(item, n_r, n_f, y_r, y_f, alpha: float) -> DifResult:
    stats = mh_from_tables(y_r, n_r - y_r, y_f, n_f - y_f)
    note = ""
    if np.isnan(stats.p_value):
        note = "no stratum with both groups and both responses: MH statistics undefined"
    elif not np.isfinite(stats.odds_ratio) or stats.odds_ratio == 0:
        note = "a zero cell in every stratum: the MH odds ratio is not finite"
    return DifResult(
        item,
        stats.odds_ratio,
        stats.d_dif,
        stats.p_value,
        ets_class(stats.d_dif, stats.se_d_dif, stats.p_value, alpha),
        se_d_dif=stats.se_d_dif,
        chi_square=stats.chi_square,
        note=note,
    )


def _polytomous(item, n_r, n_f, y_r, y_f, y2, alpha: float) -> DifResult:
    """Mantel (1963) χ² on item scores and SMD/SD (Zwick, Thayer & Mazzeo 1997)."""
    t = n_r + n_f
    both = (n_r > 0) & (n_f > 0)
    y_all = y_r + y_f
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.sum(np.where(both, n_f * y_all / t, 0.0))
        var_terms = n_r * n_f * (t * y2 - y_all**2) / (t * t * (t - 1))
        variance = np.sum(np.where(both & (t > 1), var_terms, 0.0))
        stat = (np.sum(np.where(both, y_f, 0.0)) - expected) ** 2 / variance
        weight = np.where(both, n_f, 0.0) / np.sum(np.where(both, n_f, 0.0))
        smd = np.sum(np.where(both, weight * (y_f / n_f - y_r / n_r), 0.0))
        total = t.sum()
        sd = np.sqrt(y2.sum() / total - (y_all.sum() / total) ** 2)
    p = float(chi2.sf(stat, 1)) if variance > 0 else float("nan")
    ratio = float(smd / sd) if sd > 0 and both.any() else float("nan")
    note = "polytomous item: Mantel (1963) test and SMD; no MH odds ratio"
    if np.isnan(p):
        note += "; statistics undefined (no stratum with both groups and varying scores)"
    return DifResult(
        item,
        float("nan"),
        float("nan"),
        p,
        polytomous_ets_class(ratio, p, alpha),
        chi_square=float(stat) if variance > 0 else float("nan"),
        smd=float(smd) if both.any() else float("nan"),
        method="Mantel",
        note=note,
    )


def _cell(value: float) -> str:
    return "" if np.isnan(value) else repr(float(value))


def write_dif_csv(results: Sequence[DifResult], path: str | Path) -> None:
    """``item_id,mh_odds_ratio,mh_d_dif,p_value,ets_class`` (CONTRACTS.md); an undefined
    number (e.g. α_MH of a polytomous item) is an empty cell."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(DIF_CSV_HEADER)
        for r in results:
            out.writerow(
                [
                    r.item_id,
                    _cell(r.mh_odds_ratio),
                    _cell(r.mh_d_dif),
                    _cell(r.p_value),
                    r.ets_class,
                ]
            )


__all__ = [
    "DELTA_SCALE",
    "DIF_CSV_HEADER",
    "DifResult",
    "MHStatistics",
    "ets_class",
    "mantel_haenszel",
    "mh_from_tables",
    "polytomous_ets_class",
    "write_dif_csv",
]
