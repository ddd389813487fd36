"""The statistics of a per-exam fairness report: the same exam for everyone, measured.

In an adaptive exam applicants get different items, so "the same exam for everyone" cannot
mean the same questions. Its measurable meaning is equal precision at equal ability, with
items that work the same way for every group and a pool that is not worn out by a few
items. This module computes, from plain arrays:

1. ``dif_by_attribute``: Mantel–Haenszel DIF (Holland & Thayer 1988; ETS A/B/C classes,
   Zwick 2012) of every item for every recorded group attribute, the largest group of an
   attribute as reference and each other large enough group as focal. Persons are matched
   on binned θ̂, not on the sum score: in an adaptive test sum scores over different items
   are not comparable, and matching on an IRT ability estimate (or its monotone transform,
   the expected true score on the pool) is what Zwick, Thayer & Wingersky (1994, Journal
   of Educational Measurement 31, "A simulation study of methods for assessing
   differential item functioning in computerized adaptive tests") found to work for CAT
   data.
2. ``conditional_se``: the mean standard error of θ̂ by θ̂ bin for every group, the
   conditional standard error of measurement (Lord 1980, ch. 5: SE(θ) = 1/√I(θ) varies
   with θ), reported at several ability levels and for each relevant subgroup as the
   Standards ask (AERA, APA & NCME 2014, ch. 2 on reliability and precision; ch. 3 on
   fairness), with the largest between-group ratio of mean SE within a bin.
3. ``exposure_distribution``: item exposure rates and the test overlap rate, exactly from
   the exposure rates (Chen, Ankenmann & Spray 2003, Journal of Educational Measurement 40,
   "The relationship between item exposure and test overlap in computerized adaptive
   testing") and as the empirical mean over pairs of attempts.
4. ``information_curves``: the pool's information, the mean information of the tests
   actually given, and that mean per group, with the matching SE curves 1/√I (Lord 1980;
   Birnbaum 1968).

Inputs are numpy arrays: ``responses`` persons × items of category numbers with −1 for
"not presented" (as in ``scoring.ability``), ``theta`` and ``se`` one value per person,
``groups`` a mapping from attribute name (gender, region, age band …) to one label per
person; an empty label, None or NaN means "not recorded" and leaves the person out of that
attribute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.stats import t as student_t

from scoring.dif import mantel_haenszel
from scoring.irt import item_information
from scoring.params import ItemParams

#: θ̂ bin edges of the conditional SE table; values below the first or above the last edge
#: form two open-ended bins.
SE_EDGES = np.round(np.arange(-3.0, 3.0 + 1e-9, 0.5), 10)
#: θ̂ bin edges of the DIF matching strata (open-ended at both ends as well).
DIF_EDGES = np.round(np.arange(-3.0, 3.0 + 1e-9, 0.25), 10)
#: Exposure-rate histogram bins; the last one is closed, [0.9, 1].
EXPOSURE_EDGES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: Default θ grid of the information curves.
THETA_GRID = np.round(np.linspace(-4.0, 4.0, 81), 10)


# --------------------------------------------------------------------------- groups


def _labels(values: np.ndarray | Sequence, n: int, attribute: str) -> np.ndarray:
    """Labels as strings, '' where not recorded."""
    raw = np.asarray(values, dtype=object)
    if raw.shape != (n,):
        raise ValueError(f"groups[{attribute!r}] must hold one label per person ({n})")
    out = np.empty(n, dtype=object)
    for k, v in enumerate(raw):
        if v is None or (isinstance(v, float | np.floating) and np.isnan(v)):
            out[k] = ""
        else:
            out[k] = str(v).strip()
    return out


def _group_sizes(labels: np.ndarray) -> list[tuple[str, int]]:
    """Recorded groups, largest first (ties by label)."""
    names, counts = np.unique(labels[labels != ""].astype(str), return_counts=True)
    return sorted(
        ((str(g), int(c)) for g, c in zip(names, counts, strict=True)),
        key=lambda gc: (-gc[1], gc[0]),
    )


def _bin_index(theta: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin 0 is (−∞, e₀), bin k is [e_{k−1}, e_k), the last is [e_last, ∞)."""
    return np.searchsorted(edges, theta, side="right")


def _bin_bounds(edges: np.ndarray) -> list[tuple[float, float]]:
    full = np.concatenate([[-np.inf], edges, [np.inf]])
    return [(float(full[k]), float(full[k + 1])) for k in range(len(edges) + 1)]


def _check_edges(edges: np.ndarray | Sequence[float] | None, default: np.ndarray) -> np.ndarray:
    e = default if edges is None else np.asarray(edges, dtype=float)
    if e.ndim != 1 or e.size == 0 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ValueError("bin edges must be a non-empty, strictly increasing list of numbers")
    return e


# --------------------------------------------------------------------------- 1. DIF


@dataclass(frozen=True)
class DifRow:
    """Mantel–Haenszel DIF of one item for one focal group against the reference group.

    ``d_dif`` is MH D-DIF on the ETS delta scale (negative: the item is harder for matched
    focal-group members), ``ets_class`` A/B/C (AA/BB/CC for polytomous items, whose
    ``d_dif`` is NaN and ``smd`` set) or NA with a ``note``.
    """

    attribute: str
    reference: str
    focal: str
    item_id: str
    d_dif: float
    p_value: float
    ets_class: str
    n_reference: int
    n_focal: int
    se_d_dif: float = float("nan")
    chi_square: float = float("nan")
    smd: float = float("nan")
    method: str = "MH"
    note: str = ""


@dataclass(frozen=True)
class SkippedGroup:
    """A recorded group that was not compared, and why."""

    attribute: str
    group: str
    n: int
    reason: str


@dataclass(frozen=True)
class DifByAttribute:
    """All DIF rows of an exam, the groups left out, and the θ̂ edges of the strata."""

    rows: tuple[DifRow, ...]
    skipped: tuple[SkippedGroup, ...]
    edges: tuple[float, ...]

    def flagged(self, classes: Sequence[str] = ("B", "C", "BB", "CC")) -> tuple[DifRow, ...]:
        """The rows in the given ETS classes."""
        return tuple(r for r in self.rows if r.ets_class in classes)


def dif_by_attribute(
    items: ItemParams | Sequence[str],
    responses: np.ndarray,
    theta: np.ndarray,
    groups: Mapping[str, np.ndarray | Sequence],
    *,
    edges: np.ndarray | Sequence[float] | None = None,
    min_group: int = 100,
    min_item: int = 20,
    alpha: float = 0.05,
) -> DifByAttribute:
    """MH DIF of every item, for every attribute and every focal group vs the reference.

    The reference group of an attribute is its largest recorded group; every other group
    with at least ``min_group`` persons is a focal group. Persons are matched on θ̂ binned
    at ``edges`` (default ``DIF_EDGES``, 0.25 wide, open-ended at ±3): in adaptive tests
    sum scores are not comparable and θ̂, a monotone transform of the expected true score
    on the pool, is the matching variable (Zwick, Thayer & Wingersky 1994, Journal of
    Educational Measurement 31). Each item is analysed over the persons who saw it
    (``scoring.dif.mantel_haenszel`` with ``strata=``). An item seen by fewer than
    ``min_item`` persons of either group gets class NA, NaN statistics and a note.
    Persons with a NaN θ̂ or no label are left out.
    """
    item_ids = list(items.ids) if isinstance(items, ItemParams) else [str(i) for i in items]
    x = np.asarray(responses)
    if x.ndim != 2 or x.shape[1] != len(item_ids):
        raise ValueError("responses must be persons x items, one column per item")
    n = x.shape[0]
    th = np.asarray(theta, dtype=float)
    if th.shape != (n,):
        raise ValueError("theta must hold one value per person")
    e = _check_edges(edges, DIF_EDGES)
    known = np.isfinite(th)
    strata = np.where(known, _bin_index(np.where(known, th, 0.0), e), 0).astype(np.int64)
    rows: list[DifRow] = []
    skipped: list[SkippedGroup] = []
    for attribute, values in groups.items():
        labels = _labels(values, n, attribute)
        labels = np.where(known, labels, "")
        sizes = _group_sizes(labels)
        if not sizes:
            continue
        ref_name, ref_n = sizes[0]
        if ref_n < min_group:
            skipped.extend(
                SkippedGroup(attribute, g, c, f"fewer than {min_group} persons in every group")
                for g, c in sizes
            )
            continue
        reference = labels == ref_name
        for focal_name, focal_n in sizes[1:]:
            if focal_n < min_group:
                skipped.append(
                    SkippedGroup(attribute, focal_name, focal_n, f"fewer than {min_group} persons")
                )
                continue
            focal = labels == focal_name
            results = mantel_haenszel(x, item_ids, focal, reference, strata=strata, alpha=alpha)
            for r in results:
                few = min(r.n_reference, r.n_focal) < min_item
                note = r.note
                if few:
                    note = (
                        f"fewer than {min_item} responses in the "
                        + ("reference" if r.n_reference < min_item else "focal")
                        + " group: not analysed"
                    )
                nan = float("nan")
                rows.append(
                    DifRow(
                        attribute=attribute,
                        reference=ref_name,
                        focal=focal_name,
                        item_id=r.item_id,
                        d_dif=nan if few else r.mh_d_dif,
                        p_value=nan if few else r.p_value,
                        ets_class="NA" if few else r.ets_class,
                        n_reference=r.n_reference,
                        n_focal=r.n_focal,
                        se_d_dif=nan if few else r.se_d_dif,
                        chi_square=nan if few else r.chi_square,
                        smd=nan if few else r.smd,
                        method=r.method,
                        note=note,
                    )
                )
    return DifByAttribute(tuple(rows), tuple(skipped), tuple(float(v) for v in e))


# --------------------------------------------------------------------------- 2. SE by θ


@dataclass(frozen=True)
class SEBin:
    """Mean SE of θ̂ of one group in one θ̂ bin [low, high), with a t-based interval
    (NaN bounds when n < 2)."""

    attribute: str
    group: str
    low: float
    high: float
    n: int
    mean_se: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class SEGap:
    """The largest ratio of two groups' mean SE within one θ̂ bin of an attribute.

    ``ratio`` is NaN (and ``bins_compared`` 0) when no bin had two groups with enough
    persons.
    """

    attribute: str
    ratio: float
    low: float
    high: float
    group_high: str
    group_low: str
    bins_compared: int


@dataclass(frozen=True)
class ConditionalSE:
    """The conditional SE table (non-empty bins only) and the per-attribute summary."""

    edges: tuple[float, ...]
    bins: tuple[SEBin, ...]
    gaps: tuple[SEGap, ...]
    level: float = 0.95


def conditional_se(
    theta: np.ndarray,
    se: np.ndarray,
    groups: Mapping[str, np.ndarray | Sequence],
    edges: np.ndarray | Sequence[float] | None = None,
    *,
    min_per_group: int = 30,
    level: float = 0.95,
) -> ConditionalSE:
    """Mean SE of θ̂ by θ̂ bin for every attribute and group, and the largest gap.

    The conditional standard error (Lord 1980, ch. 5) should be reported at several
    ability levels and for each relevant subgroup (AERA, APA & NCME 2014, ch. 2 and 3):
    equal mean SE at equal θ̂ is the measurable meaning of an equally precise
    exam. Bins are [e_{k−1}, e_k) at ``edges`` (default −3 … 3 by 0.5) plus the open ends
    below and above. The interval is mean ± t_{(1+level)/2, n−1} · s/√n. The summary gives,
    per attribute, the largest max/min ratio of group means within a bin in which at least
    two groups have ``min_per_group`` persons or more.
    """
    th = np.asarray(theta, dtype=float)
    s = np.asarray(se, dtype=float)
    if th.ndim != 1 or s.shape != th.shape:
        raise ValueError("theta and se must be 1-D arrays of the same length")
    e = _check_edges(edges, SE_EDGES)
    usable = np.isfinite(th) & np.isfinite(s)
    which = _bin_index(np.where(usable, th, 0.0), e)
    bounds = _bin_bounds(e)
    n_bins = len(bounds)
    quantile = (1.0 + level) / 2.0
    out_bins: list[SEBin] = []
    gaps: list[SEGap] = []
    for attribute, values in groups.items():
        labels = np.where(usable, _labels(values, th.size, attribute), "")
        names = [g for g, _ in _group_sizes(labels)]
        means = np.full((len(names), n_bins), np.nan)
        counts = np.zeros((len(names), n_bins), dtype=np.int64)
        for gi, name in enumerate(names):
            sel = labels == name
            w = which[sel]
            vals = s[sel]
            cnt = np.bincount(w, minlength=n_bins)
            counts[gi] = cnt
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.bincount(w, vals, minlength=n_bins) / cnt
                dev = vals - mean[w]
                var = np.bincount(w, dev * dev, minlength=n_bins) / (cnt - 1)
            means[gi] = mean
            for k in np.flatnonzero(cnt):
                nk = int(cnt[k])
                if nk >= 2:
                    half = float(student_t.ppf(quantile, nk - 1) * np.sqrt(var[k] / nk))
                    lo, hi = float(mean[k]) - half, float(mean[k]) + half
                else:
                    lo = hi = float("nan")
                out_bins.append(SEBin(attribute, name, *bounds[k], nk, float(mean[k]), lo, hi))
        nan = float("nan")
        best: tuple = (nan, nan, nan, "", "")
        compared = 0
        for k in range(n_bins):
            ok = np.flatnonzero(counts[:, k] >= min_per_group)
            if ok.size < 2:
                continue
            compared += 1
            hi_g = ok[np.argmax(means[ok, k])]
            lo_g = ok[np.argmin(means[ok, k])]
            ratio = float(means[hi_g, k] / means[lo_g, k])
            if np.isnan(best[0]) or ratio > best[0]:
                best = (ratio, *bounds[k], names[hi_g], names[lo_g])
        gaps.append(SEGap(attribute, *best, compared))
    return ConditionalSE(tuple(float(v) for v in e), tuple(out_bins), tuple(gaps), level)


# --------------------------------------------------------------------------- 3. exposure


@dataclass(frozen=True, eq=False)
class ExposureReport:
    """Item exposure and test overlap of a set of attempts.

    ``rates[i]`` is the share of attempts that presented item i; ``histogram`` counts
    items per bin of ``hist_edges`` ([0, .05), [.05, .1), …, [.9, 1]). ``overlap_formula``
    is Chen, Ankenmann & Spray's (2003) exact expression from the rates;
    ``overlap_empirical`` the mean over pairs of attempts of |A∩B| / ((|A| + |B|)/2),
    computed over all pairs or, when ``pairs_sampled``, over ``pairs_used`` pairs drawn
    with a seeded generator (``overlap_empirical_se`` is then its Monte Carlo standard
    error, 0 otherwise).
    """

    n_attempts: int
    counts: np.ndarray
    rates: np.ndarray
    hist_edges: tuple[float, ...]
    histogram: np.ndarray
    max_rate: float
    never_used: float
    mean_length: float
    fixed_length: bool
    overlap_formula: float
    overlap_empirical: float
    overlap_empirical_se: float
    pairs_used: int
    pairs_sampled: bool


def incidence_matrix(
    administered: Sequence[np.ndarray | Sequence[int]], n_items: int
) -> sparse.csr_matrix:
    """The attempts × items 0/1 matrix (scipy CSR) of the items each attempt presented."""
    lengths = np.array([len(a) for a in administered], dtype=np.int64)
    cols = (
        np.concatenate([np.asarray(a, dtype=np.int64).ravel() for a in administered])
        if len(administered)
        else np.zeros(0, dtype=np.int64)
    )
    if cols.size and (cols.min() < 0 or cols.max() >= n_items):
        raise ValueError(f"item indices must lie in 0..{n_items - 1}")
    rows = np.repeat(np.arange(len(administered)), lengths)
    x = sparse.csr_matrix((np.ones(cols.size), (rows, cols)), shape=(len(administered), n_items))
    if x.nnz != cols.size or (x.data > 1).any():
        raise ValueError("an attempt lists the same item more than once")
    return x


def chen_overlap(rates: np.ndarray, n_attempts: int, mean_length: float) -> float:
    """Test overlap rate from exposure rates (Chen, Ankenmann & Spray 2003).

    With m attempts, exposure rates r_i of the N pool items and test length L:
    T = (m Σ r_i² / L − 1) / (m − 1) = m/(m−1) · (N S_r²/L + L/N) − 1/(m−1), S_r² the
    variance of the rates (divisor N); for large m, T ≈ N S_r²/L + L/N. It is exact:
    item i is shared by m r_i (m r_i − 1)/2 of the m(m − 1)/2 pairs. For fixed length it
    equals the mean over pairs of |A∩B| / L. With variable length and L the mean length
    it is the ratio of the mean overlap count to the mean length.
    """
    r = np.asarray(rates, dtype=float)
    if n_attempts < 2 or mean_length <= 0:
        return float("nan")
    return float((n_attempts * np.sum(r * r) / mean_length - 1.0) / (n_attempts - 1))


def _pair_overlaps(x, lengths: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    common = np.asarray(x[i].multiply(x[j]).sum(1)).ravel()
    half = (lengths[i] + lengths[j]) / 2.0
    return np.divide(common, half, out=np.zeros_like(common), where=half > 0)


def exposure_distribution(
    administered: Sequence[np.ndarray | Sequence[int]],
    n_items: int,
    *,
    max_exact: int = 2000,
    n_pairs: int = 200_000,
    seed: int = 0,
) -> ExposureReport:
    """Exposure rates, their histogram and the test overlap rate of a set of attempts.

    ``administered`` lists, per attempt, the pool indices (0..n_items−1) of the items it
    presented. The empirical overlap of attempts A and B is |A∩B| / ((|A| + |B|)/2),
    which is |A∩B| / L for a fixed length L (two empty attempts overlap 0). Up to
    ``max_exact`` attempts it is averaged over every pair, from the product of the sparse
    incidence matrix with its transpose; beyond that over ``n_pairs`` distinct-attempt
    pairs drawn by ``numpy.random.default_rng(seed)``.
    """
    m = len(administered)
    x = incidence_matrix(administered, n_items)
    counts = np.asarray(x.sum(0)).ravel().astype(np.int64)
    lengths = np.asarray(x.sum(1)).ravel()
    rates = counts / m if m else np.zeros(n_items)
    edges = np.asarray(EXPOSURE_EDGES)
    hist = np.histogram(rates, bins=edges)[0].astype(np.int64)
    mean_length = float(lengths.mean()) if m else 0.0
    fixed = bool(m) and bool(np.all(lengths == lengths[0]))
    formula = chen_overlap(rates, m, mean_length)
    total_pairs = m * (m - 1) // 2
    sampled = False
    empirical_se = 0.0
    if total_pairs == 0:
        empirical, used = float("nan"), 0
    elif m <= max_exact:
        gram = sparse.triu(x @ x.T, k=1).tocoo()
        half = (lengths[gram.row] + lengths[gram.col]) / 2.0
        empirical = float(np.sum(gram.data / half) / total_pairs)
        used = total_pairs
    else:
        rng = np.random.default_rng(seed)
        i = rng.integers(0, m, n_pairs)
        j = rng.integers(0, m - 1, n_pairs)
        j += j >= i
        values = np.concatenate(
            [
                _pair_overlaps(x, lengths, i[k : k + 20_000], j[k : k + 20_000])
                for k in range(0, n_pairs, 20_000)
            ]
        )
        empirical = float(values.mean())
        empirical_se = float(values.std(ddof=1) / np.sqrt(n_pairs)) if n_pairs > 1 else 0.0
        used, sampled = n_pairs, True
    return ExposureReport(
        n_attempts=m,
        counts=counts,
        rates=rates,
        hist_edges=EXPOSURE_EDGES,
        histogram=hist,
        max_rate=float(rates.max(initial=0.0)),
        never_used=float(np.mean(counts == 0)) if n_items else 0.0,
        mean_length=mean_length,
        fixed_length=fixed,
        overlap_formula=formula,
        overlap_empirical=empirical,
        overlap_empirical_se=empirical_se,
        pairs_used=used,
        pairs_sampled=sampled,
    )


# --------------------------------------------------------------------------- 4. information


@dataclass(frozen=True, eq=False)
class GroupInformation:
    """Mean test information (and 1/√I) of the tests one group's applicants got."""

    attribute: str
    group: str
    n: int
    information: np.ndarray
    se: np.ndarray


@dataclass(frozen=True, eq=False)
class InformationCurves:
    """Information and SE curves over ``theta``: of the whole pool, of the mean test
    given, and of the mean test given to each group."""

    theta: np.ndarray
    pool_information: np.ndarray
    pool_se: np.ndarray
    mean_information: np.ndarray
    mean_se: np.ndarray
    groups: tuple[GroupInformation, ...]


def _se_curve(info: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 1.0 / np.sqrt(info)


def information_curves(
    params: ItemParams,
    administered: Sequence[np.ndarray | Sequence[int]],
    theta_grid: np.ndarray | Sequence[float] | None = None,
    groups: Mapping[str, np.ndarray | Sequence] | None = None,
) -> InformationCurves:
    """Test information curves I(θ) = Σ_i I_i(θ) (Birnbaum 1968; Lord 1980, ch. 5).

    The pool curve sums every item; the mean curve is the mean over attempts of the
    information of the items each attempt presented, Σ_i r_i I_i(θ) with r_i the exposure
    rate; a group curve does the same over that group's attempts (``groups`` holds one
    label per attempt). SE curves are 1/√I(θ) of the mean information (by Jensen's
    inequality no larger than the mean of the tests' own SE curves).
    """
    grid = THETA_GRID if theta_grid is None else np.asarray(theta_grid, dtype=float)
    x = incidence_matrix(administered, len(params))
    info = item_information(params, grid)  # (T, N)
    pool = info.sum(-1)
    m = x.shape[0]

    def mean_info(rows: np.ndarray) -> np.ndarray:
        rate = np.asarray(x[rows].sum(0)).ravel() / max(rows.size, 1)
        return info @ rate

    mean = mean_info(np.arange(m))
    curves: list[GroupInformation] = []
    for attribute, values in (groups or {}).items():
        labels = _labels(values, m, attribute)
        for name, size in _group_sizes(labels):
            g = mean_info(np.flatnonzero(labels == name))
            curves.append(GroupInformation(attribute, name, size, g, _se_curve(g)))
    return InformationCurves(
        theta=grid,
        pool_information=pool,
        pool_se=_se_curve(pool),
        mean_information=mean,
        mean_se=_se_curve(mean),
        groups=tuple(curves),
    )


__all__ = [
    "DIF_EDGES",
    "EXPOSURE_EDGES",
    "SE_EDGES",
    "THETA_GRID",
    "ConditionalSE",
    "DifByAttribute",
    "DifRow",
    "ExposureReport",
    "GroupInformation",
    "InformationCurves",
    "SEBin",
    "SEGap",
    "SkippedGroup",
    "chen_overlap",
    "conditional_se",
    "dif_by_attribute",
    "exposure_distribution",
    "incidence_matrix",
    "information_curves",
]
