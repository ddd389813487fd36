"""IRT calibration of response data (girth + Bock–Aitkin EM), item fit, and
fixed-parameter calibration of pilot items.

Responses are an int matrix (persons × items) of category numbers 0..K, −1 where the item
was not presented — the convention of ``scoring.files.read_responses_csv``. girth works on
items × persons with ``girth.INVALID_RESPONSE`` (−99999) for missing data; this module
converts.

Estimates are marginal maximum likelihood over a normal ability distribution (Bock &
Aitkin 1981, Psychometrika 46) in the D = 1 logistic metric of ``scoring.irt``, the metric
girth uses too. girth 0.8.0 gives the starting values:

- ``2pl``: ``girth.twopl_mml`` (girth's graded-model code with two categories);
- ``gpcm``: ``girth.pcm_mml``, which estimates an a per item, so it is the generalized
  partial credit model P_k ∝ exp Σ_{v≤k} a(θ − b_v) (Muraki 1992), as in ``scoring.irt``;
- ``grm``: ``girth.grm_mml``, P*_k = logistic(a(θ − b_k)) (Samejima 1969), as in
  ``scoring.irt``;
- ``rasch``: ``girth.onepl_mml`` (common a, N(0, 1)) rescaled to a = 1 and θ ~ N(0, a²);
  ``girth.rasch_mml`` fixes a = 1 *and* SD = 1, which biases b when the SD is not 1;
- ``3pl``: none — ``girth.threepl_mml`` fails on numpy ≥ 2.4 (it stores a length-1 array
  into a scalar slot); start a = 1, c = prior mean, b from the proportion correct.

EM cycles (``itembank.mml``) then finish the maximisation, because girth stops short of
the MML solution in two ways: for ``2pl``/``grm``/``rasch`` it solves each b from the
item's observed category proportions given a, which is right only when who saw an item
does not depend on ability (with two-stage routing its b are off by 0.3–0.5 and the GRM
steps by more, where EM recovers them); and ``pcm_mml`` stops when no a moves by 1e-3,
leaving all steps off by a common ≈ 0.05. ``refine=False`` returns girth's values as they
are. The 3PL has a Beta prior on c, as BILOG does (Mislevy & Bock 1990).

girth also renumbers each item's observed values with ``np.unique`` after subtracting the
smallest value in the whole data set, so a category nobody chose would silently vanish and
the categories above it move down. Every item must therefore show every category 0..K_i
(K_i = its highest observed category), else ``CalibrationError`` names it.

Item fit: infit and outfit mean-squares (Wright & Masters 1982, *Rating Scale Analysis*,
ch. 5) at EAP abilities (``scoring.ability.estimate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import girth
import numpy as np
from tqdm.auto import tqdm

from itembank import mml
from itembank.mml import Params
from scoring.ability import AbilityScale, Quadrature, estimate, loglik_on_grid
from scoring.files import write_params_csv
from scoring.irt import category_probs
from scoring.params import ItemParams, ItemSpec

CALIBRATION_MODELS = ("rasch", "2pl", "3pl", "gpcm", "grm")
PILOT_MODELS = ("rasch", "2pl", "3pl")
#: Beta(α, β) prior on the 3PL c: mode 0.2, BILOG-MG's default for five-option items.
DEFAULT_GUESSING_PRIOR = (5.0, 17.0)
#: Quadrature points of the EM cycles, equally spaced over ±5 SD.
_QUAD_POINTS = 61
_EPS = 1e-12


class CalibrationError(ValueError):
    """The responses cannot be calibrated under the requested model."""


@dataclass(frozen=True)
class ItemFit:
    """Infit and outfit mean-squares of one item (Wright & Masters 1982)."""

    item_id: str
    infit: float
    outfit: float
    flagged: bool
    n: int


@dataclass(frozen=True, eq=False)
class CalibrationResult:
    """Estimated parameters (D = 1 metric), per-item fit, and the ability scale's SD."""

    params: ItemParams
    fit: list[ItemFit]
    model: str
    ability_sd: float = 1.0

    @property
    def flagged(self) -> list[str]:
        """Ids of the items whose infit or outfit is outside the bounds."""
        return [f.item_id for f in self.fit if f.flagged]

    @property
    def ability_scale(self) -> AbilityScale | None:
        """The ability distribution the parameters are on, when the model estimates it:
        N(0, σ²) for ``rasch`` (the other models fix N(0, 1) to set the scale)."""
        return AbilityScale(0.0, self.ability_sd) if self.model == "rasch" else None

    def write_params_csv(self, path: str | Path) -> None:
        """Write the parameters CSV of CONTRACTS.md (``scoring.files.write_params_csv``),
        with the ability scale's columns for ``rasch``."""
        write_params_csv(self.params, path, self.ability_scale)


# ---------------------------------------------------------------------------- input


def _check_matrix(responses: np.ndarray, item_ids: Sequence[str]) -> np.ndarray:
    x = np.asarray(responses)
    if x.ndim != 2:
        raise CalibrationError("responses must be a persons x items matrix")
    if not np.issubdtype(x.dtype, np.integer) and (
        not np.all(np.isfinite(x)) or np.any(x != np.round(x))
    ):
        raise CalibrationError("responses must be whole category numbers (-1 = missing)")
    x = x.astype(np.int64)
    if x.shape[1] != len(item_ids):
        raise CalibrationError(f"{x.shape[1]} response columns but {len(item_ids)} item ids")
    if len(set(item_ids)) != len(item_ids) or not all(item_ids):
        raise CalibrationError("item ids must be unique and non-empty")
    if x.shape[0] < 2:
        raise CalibrationError("calibration needs at least two persons")
    if np.any(x < -1):
        p, i = np.argwhere(x < -1)[0]
        raise CalibrationError(f"item {item_ids[i]}: response {x[p, i]} (row {p}) is not valid")
    return x


def _check_categories(x: np.ndarray, item_ids: Sequence[str], dichotomous: bool) -> np.ndarray:
    """Number of categories per item; every category 0..K_i must be observed."""
    top = x.max(axis=0)
    n_cat = np.maximum(top, 0) + 1
    for i, item in enumerate(item_ids):
        col = x[:, i]
        seen = np.unique(col[col >= 0])
        if dichotomous and top[i] > 1:
            raise CalibrationError(f"item {item}: response {top[i]} in a dichotomous model")
        if seen.size < 2:
            what = "no responses" if seen.size == 0 else f"only category {seen[0]} observed"
            raise CalibrationError(f"item {item}: {what}; its parameters are not estimable")
        missing = np.setdiff1d(np.arange(n_cat[i]), seen)
        if missing.size:
            raise CalibrationError(
                f"item {item}: category {', '.join(map(str, missing))} never observed "
                f"(categories 0..{top[i]} expected); merge or drop it before calibrating"
            )
    return n_cat


def _to_girth(x: np.ndarray) -> np.ndarray:
    """Persons × items with −1 → items × persons with girth.INVALID_RESPONSE."""
    return np.ascontiguousarray(np.where(x < 0, girth.INVALID_RESPONSE, x).T)


# ---------------------------------------------------------------------------- models


def _girth_start(x: np.ndarray, model: str, options: dict | None) -> tuple[Params, float]:
    """girth's estimates as EM start values: (a, b, c) or (a, steps), and the ability SD."""
    data = _to_girth(x)
    n = x.shape[1]
    if model == "rasch":
        with np.errstate(all="ignore"):  # girth takes logs of zeros on odd data
            result = girth.onepl_mml(data, options=options)
        scale = float(np.asarray(result["Discrimination"]).reshape(-1)[0])
        b = np.asarray(result["Difficulty"], dtype=float).reshape(n) * scale
        return (np.ones(n), b, np.zeros(n)), scale
    fit = {"2pl": girth.twopl_mml, "gpcm": girth.pcm_mml, "grm": girth.grm_mml}[model]
    with np.errstate(all="ignore"):
        result = fit(data, options)
    a = np.asarray(result["Discrimination"], dtype=float).reshape(n)
    diff = np.asarray(result["Difficulty"], dtype=float).reshape(n, -1)
    if model == "2pl":
        return (a, diff[:, 0], np.zeros(n)), 1.0
    return (a, diff), 1.0


def _threepl_start(x: np.ndarray, c_prior: tuple[float, float] | None) -> Params:
    """3PL start values: a = 1, c the prior mean, b from the proportion correct."""
    answered = (x >= 0).sum(0)
    p_obs = np.clip((x == 1).sum(0) / answered, 0.02, 0.98)
    c = np.full(x.shape[1], 0.2 if c_prior is None else c_prior[0] / sum(c_prior))
    p_free = np.clip((p_obs - c) / (1 - c), 0.05, 0.95)
    return np.ones(x.shape[1]), -np.log(p_free / (1 - p_free)), c


def _estimate(
    x: np.ndarray,
    item_ids: Sequence[str],
    model: str,
    n_cat: np.ndarray,
    options: dict | None,
    c_prior: tuple[float, float] | None,
    bar: tqdm,
    refine: bool = True,
) -> tuple[ItemParams, float]:
    """girth start (3PL: simple start), then Bock–Aitkin EM to the MML maximum."""
    if model == "3pl":
        start, sd = _threepl_start(x, c_prior), 1.0
    else:
        bar.set_postfix_str("girth")
        start, sd = _girth_start(x, model, options)
    if model in PILOT_MODELS:
        log_probs = mml.dichotomous_log_probs
        m_step = partial(mml.dichotomous_m_step, model=model, c_prior=c_prior)
    else:
        log_probs = mml.gpcm_log_probs if model == "gpcm" else mml.grm_log_probs
        m_step = mml.gpcm_m_step if model == "gpcm" else mml.grm_m_step
    theta = np.linspace(-5.0 * sd, 5.0 * sd, _QUAD_POINTS)

    def report(cycle: int, change: float) -> None:
        bar.set_postfix_str(f"EM cycle {cycle + 1}, change {change:.1e}")

    params = start
    if refine or model == "3pl":
        params, sd = mml.em(
            x, start, log_probs, m_step, theta, sd, estimate_sd=model == "rasch", on_cycle=report
        )
    return _table(model, item_ids, params, n_cat), sd


def _table(model: str, item_ids: Sequence[str], params: Params, n_cat) -> ItemParams:
    """An ItemParams table from (a, b, c) or (a, steps); item i keeps n_cat[i] − 1 steps."""
    if model in PILOT_MODELS:
        a, b, c = (np.asarray(v, dtype=float).tolist() for v in params)
        return ItemParams.from_specs(
            ItemSpec(item, model, 1.0 if model == "rasch" else a[i], b[i], c[i])
            for i, item in enumerate(item_ids)
        )
    a, steps = np.asarray(params[0], dtype=float).tolist(), np.asarray(params[1], dtype=float)
    return ItemParams.from_specs(
        ItemSpec(item, model, a[i], steps=tuple(steps[i, : n_cat[i] - 1].tolist()))
        for i, item in enumerate(item_ids)
    )


# ------------------------------------------------------------------------------- fit


def item_fit(
    params: ItemParams,
    responses: np.ndarray,
    theta: np.ndarray,
    bounds: tuple[float, float] = (0.7, 1.3),
) -> list[ItemFit]:
    """Infit and outfit mean-squares per item (Wright & Masters 1982, ch. 5).

    With E_ni = Σ_k k P_nik and W_ni = Σ_k (k − E_ni)² P_nik at person n's ability:
    outfit_i = mean over respondents of (x_ni − E_ni)² / W_ni (unweighted), infit_i =
    Σ_n (x_ni − E_ni)² / Σ_n W_ni (information-weighted). Both have expectation 1 under the
    model at the true abilities; an item is flagged when either lies outside ``bounds``.

    At EAP abilities from the same responses both run below 1, the more so the steeper the
    item (≈ 0.8–0.95 with 20–30 items; a 2PL item with a ≈ 4 can fall under 0.7), and the
    outfit of an item far from most persons is noisy. Under the 2PL or GPCM a miskeyed
    item is absorbed by a small a rather than flagged: read the fit with a.
    """
    x = np.asarray(responses, dtype=np.int64)
    probs = category_probs(params, np.asarray(theta, dtype=float))  # (P, N, C)
    k = np.arange(probs.shape[-1], dtype=float)
    expected = probs @ k
    variance = np.maximum(probs @ (k * k) - expected**2, _EPS)
    seen = x >= 0
    sq = np.where(seen, (x - expected) ** 2, 0.0)
    n = seen.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        outfit = np.sum(sq / variance, 0) / n
        infit = sq.sum(0) / np.sum(np.where(seen, variance, 0.0), 0)
    lo, hi = bounds
    return [
        ItemFit(
            item,
            float(infit[i]),
            float(outfit[i]),
            bool(not (lo <= infit[i] <= hi and lo <= outfit[i] <= hi)),
            int(n[i]),
        )
        for i, item in enumerate(params.ids)
    ]


def _eap(params: ItemParams, x: np.ndarray, mean: float, sd: float) -> np.ndarray:
    quad = Quadrature.normal(121, mean - 6 * sd, mean + 6 * sd, mean, sd)
    return np.array([e.theta for e in estimate(params, x, "eap", quad)])


# ------------------------------------------------------------------------- public API


def calibrate(
    responses: np.ndarray,
    item_ids: Sequence[str],
    model: str,
    progress: bool | None = False,
    *,
    fit_bounds: tuple[float, float] = (0.7, 1.3),
    girth_options: dict | None = None,
    guessing_prior: tuple[float, float] | None = DEFAULT_GUESSING_PRIOR,
    refine: bool = True,
) -> CalibrationResult:
    """Calibrate every item under ``model`` by MML (Bock & Aitkin 1981): girth's estimates
    refined by EM cycles (``refine=False``: girth's own; the 3PL is always EM).

    ``responses`` is persons × items, categories 0..K, −1 = not presented (ignorable
    missingness: at random, or by an adaptive or multistage design). Returns the
    parameters in the D = 1 metric of ``scoring.irt`` (ability N(0, 1); for ``rasch``
    N(0, σ²) with σ = ``ability_sd``) and each item's infit/outfit (Wright & Masters 1982)
    at EAP abilities, flagged outside ``fit_bounds``. ``girth_options`` goes to girth (e.g.
    ``max_iteration``); ``guessing_prior`` is the Beta prior of the 3PL c (None: plain
    ML). ``progress``: True shows a tqdm bar, False hides it, None lets tqdm decide.
    """
    if model not in CALIBRATION_MODELS:
        raise CalibrationError(f"unknown model {model!r}; use one of {CALIBRATION_MODELS}")
    x = _check_matrix(responses, item_ids)
    n_cat = _check_categories(x, item_ids, model in PILOT_MODELS)
    disable = None if progress is None else not progress
    with tqdm(total=3, desc=f"calibrate {model}", unit="stage", disable=disable) as bar:
        bar.set_postfix_str("estimating parameters")
        params, sd = _estimate(
            x, item_ids, model, n_cat, girth_options, guessing_prior, bar, refine
        )
        bar.update()
        bar.set_postfix_str("EAP abilities")
        theta = _eap(params, x, 0.0, sd)
        bar.update()
        bar.set_postfix_str("item fit")
        fit = item_fit(params, x, theta, fit_bounds)
        bar.update()
    return CalibrationResult(params, fit, model, sd)


def latent_distribution(
    anchors: ItemParams, responses: np.ndarray, max_cycles: int = 200, tol: float = 1e-6
) -> tuple[float, float]:
    """Mean and SD of a normal ability distribution, by marginal ML with the items fixed.

    EM (Bock & Aitkin 1981; Mislevy 1984): the new mean and variance are the averages of the
    persons' posterior means and of their posterior second moments about the new mean.
    """
    grid = np.linspace(-8.0, 8.0, 161)
    loglik = loglik_on_grid(anchors, responses, Quadrature(grid, np.zeros_like(grid)))
    mean, sd = 0.0, 1.0
    for _ in range(max_cycles):
        w = mml.posterior(loglik, -0.5 * ((grid - mean) / sd) ** 2)
        post_mean = w @ grid
        new_mean = float(post_mean.mean())
        new_sd = float(np.sqrt(np.mean(w @ grid**2) - new_mean**2))
        done = abs(new_mean - mean) + abs(new_sd - sd) < tol
        mean, sd = new_mean, new_sd
        if done:
            break
    return mean, sd


def fixed_parameter_calibration(
    responses: np.ndarray,
    item_ids: Sequence[str],
    anchors: ItemParams,
    model: str = "2pl",
    *,
    method: str = "mem",
    guessing_prior: tuple[float, float] | None = DEFAULT_GUESSING_PRIOR,
    max_cycles: int = 200,
    tol: float = 1e-4,
) -> ItemParams:
    """Calibrate pilot items on the scale of fixed operational (anchor) items.

    Columns whose id is in ``anchors`` keep their parameters; the others are pilots,
    estimated under ``model`` (rasch, 2pl, 3pl) by maximum likelihood (scipy L-BFGS-B).
    The anchors alone set the scale: the mean and SD of the ability distribution are
    estimated by marginal ML with the anchors fixed (``latent_distribution``), and
    abilities come from the anchors' parameters, so the pilots land on the operational
    scale (Kim 2006, J. Educ. Meas. 43, "A comparative study of IRT fixed parameter
    calibration methods").

    ``method="mem"`` (default) is Kim's multiple-EM-cycle method: marginal ML of the pilots
    with the anchors fixed, each E-step's posterior using the anchors and the current pilot
    estimates (Bock & Aitkin 1981). ``method="eap"`` plugs in each person's EAP from the
    anchors as a known ability and maximises the pilots' likelihood once; it is simpler but
    the EAP's error attenuates a (by ≈ 5 % with 20 anchors in our simulations; b is barely
    affected). Returns the pilots only, in column order.
    """
    if model not in PILOT_MODELS:
        raise CalibrationError(f"pilot model must be one of {PILOT_MODELS}, not {model!r}")
    if method not in ("mem", "eap"):
        raise CalibrationError(f"unknown method {method!r}; use 'mem' or 'eap'")
    x = _check_matrix(responses, item_ids)
    index = anchors.index()
    anchor_cols = [j for j, item in enumerate(item_ids) if item in index]
    pilot_cols = [j for j, item in enumerate(item_ids) if item not in index]
    if not anchor_cols or not pilot_cols:
        raise CalibrationError("need at least one anchor and one pilot item column")
    fixed = anchors.subset([index[item_ids[j]] for j in anchor_cols])
    xa, xp = x[:, anchor_cols], x[:, pilot_cols]
    pilot_ids = [item_ids[j] for j in pilot_cols]
    if np.any(xa >= fixed.n_categories[None, :]):
        p, i = np.argwhere(xa >= fixed.n_categories[None, :])[0]
        raise CalibrationError(f"item {fixed.ids[i]}: response {xa[p, i]} is not a category")
    _check_categories(xp, pilot_ids, dichotomous=True)
    mean, sd = latent_distribution(fixed, xa)
    answered = (xp >= 0).sum(0)
    p_obs = np.clip((xp == 1).sum(0) / answered, 0.02, 0.98)
    m = len(pilot_cols)
    start = (np.ones(m), mean - sd * np.log(p_obs / (1 - p_obs)), np.zeros(m))
    if model == "3pl":
        start = (start[0], start[1], np.full(m, 0.2))
    m_step = partial(mml.dichotomous_m_step, model=model, c_prior=guessing_prior)
    if method == "eap":
        theta = _eap(fixed, xa, mean, sd)
        counts = np.stack([(xp == 0).T, (xp == 1).T], -1).astype(float)  # (m, P, 2)
        params = m_step(theta, counts, start, maxiter=2000)
    else:
        # Centre the grid on the anchors' scale: θ = mean + grid, prior N(mean, sd²).
        grid = np.linspace(-6.0 * sd, 6.0 * sd, 121)
        anchor_ll = loglik_on_grid(fixed, xa, Quadrature(grid + mean, np.zeros_like(grid)))
        shifted = (start[0], start[1] - mean, start[2])
        params, _ = mml.em(
            xp,
            shifted,
            mml.dichotomous_log_probs,
            m_step,
            grid,
            sd,
            offset=anchor_ll,
            max_cycles=max_cycles,
            tol=tol,
        )
        params = (params[0], params[1] + mean, params[2])
    return _table(model, pilot_ids, params, None)


__all__ = [
    "CALIBRATION_MODELS",
    "DEFAULT_GUESSING_PRIOR",
    "PILOT_MODELS",
    "CalibrationError",
    "CalibrationResult",
    "ItemFit",
    "calibrate",
    "fixed_parameter_calibration",
    "item_fit",
    "latent_distribution",
]
