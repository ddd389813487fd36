"""CAT simulation studies: thousands of simulated applicants through the real engine.

The simulator drives the engine's batch primitives (the same functions the single
attempt uses, on B rows at once) and reports the figures of a standard CAT simulation
study (Thompson & Weiss 2011, Practical Assessment, Research & Evaluation 16):
mean test length, bias and RMSE of θ̂, the conditional SEM by θ bin, the maximum item
exposure rate and the test overlap rate (Chen, Ankenmann & Spray 2003).

Simulated answers use a counter-based generator (SplitMix64 of seed, examinee and item;
Steele, Lea & Flood 2014), so an examinee answers an item the same way whatever else is
simulated alongside, and a second engine can be run on exactly the same simulees.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from exam.cat import engine
from exam.cat.blueprint import SectionConfig
from exam.cat.outcome import final_estimates
from exam.cat.plan import SectionPlan, compile_section
from itembank.table import BankTable
from scoring.irt import category_probs_at

log = logging.getLogger(__name__)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix_uniforms(seed: int, examinee: np.ndarray, item: np.ndarray) -> np.ndarray:
    """A uniform number in [0, 1) per (examinee, item) pair: SplitMix64 finaliser of
    seed ⊕ (examinee · 2³² + item)."""
    with np.errstate(over="ignore"):
        z = (np.asarray(examinee, dtype=np.uint64) << np.uint64(32)) ^ np.asarray(
            item, dtype=np.uint64
        )
        z = (z + np.uint64(seed % 2**64) * np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def simulated_responses(
    plan: SectionPlan, theta: np.ndarray, items: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """The category each simulee gives: the first k with Σ_{j≤k} P_j(θ) > u."""
    probs = category_probs_at(plan.params, theta, items)
    return np.minimum(
        (np.cumsum(probs, 1) <= u[:, None]).sum(1), plan.params.n_categories[items] - 1
    )


@dataclass
class SimulationResult:
    """Per-simulee outcomes and the pool's exposure counts."""

    true_theta: np.ndarray
    theta: np.ndarray
    se: np.ndarray
    length: np.ndarray
    items: np.ndarray  # (K, L), −1 padded
    exposure_counts: np.ndarray  # (N,)
    faced_counts: np.ndarray  # (N,) Sympson–Hetter lotteries faced
    bank_size: int
    step_us: np.ndarray  # single-attempt step timings (decide + answer), µs

    @property
    def exposure_rates(self) -> np.ndarray:
        return self.exposure_counts / max(len(self.true_theta), 1)

    def csem(self, edges: np.ndarray | None = None) -> list[dict]:
        """RMSE and mean SE by bin of true θ (simulees outside the edges join the end bins)."""
        edges = np.arange(-4.0, 4.01, 0.5) if edges is None else edges
        which = np.clip(np.digitize(self.true_theta, edges) - 1, 0, len(edges) - 2)
        out = []
        for k in range(len(edges) - 1):
            sel = which == k
            if not sel.any():
                continue
            err = self.theta[sel] - self.true_theta[sel]
            out.append(
                {
                    "theta_low": float(edges[k]),
                    "theta_high": float(edges[k + 1]),
                    "n": int(sel.sum()),
                    "rmse": float(np.sqrt(np.mean(err**2))),
                    "mean_se": float(np.mean(self.se[sel])),
                }
            )
        return out

    def summary(self) -> dict:
        """The contract's simulation JSON (CONTRACTS.md)."""
        k = len(self.true_theta)
        err = self.theta - self.true_theta
        counts = self.exposure_counts.astype(float)
        mean_len = float(self.length.mean()) if k else 0.0
        # Expected share of one examinee's items also given to another random examinee.
        pairs = k * (k - 1)
        overlap = float((counts * (counts - 1)).sum() / pairs / mean_len) if pairs else 0.0
        steps = self.step_us
        return {
            "examinees": k,
            "bank_size": self.bank_size,
            "mean_length": mean_len,
            "bias": float(err.mean()) if k else 0.0,
            "rmse": float(np.sqrt(np.mean(err**2))) if k else 0.0,
            "max_exposure": float(self.exposure_rates.max(initial=0.0)),
            "overlap_rate": overlap,
            "step_us_median": float(np.median(steps)) if steps.size else None,
            "step_us_p99": float(np.percentile(steps, 99)) if steps.size else None,
            "csem": self.csem(),
        }


def pseudonym(i: int) -> str:
    return f"sim{i:07d}"


def _run_batch(
    plan: SectionPlan,
    theta: np.ndarray,
    first: int,
    seed: bytes,
    answer_seed: int,
    faced_counts: np.ndarray,
    on_step: Callable[[int], None] | None,
) -> engine.EngineState:
    """Run one batch to the end; finished attempts leave the working batch, so every
    engine call works on whole arrays."""
    b = len(theta)
    names = np.array([pseudonym(first + i) for i in range(b)], dtype=object)
    st = engine.initial_state(plan, b)
    if plan.config.kind == "fixed":
        for i, name in enumerate(names):
            form = engine.draw_form(plan, seed, name)
            st.form[i, : len(form)] = form
    done = st.copy()
    ids = np.arange(b)  # batch row of each working attempt
    scratch = engine.Scratch()
    want_faced = plan.config.exposure.method == "sympson-hetter"
    while True:
        finished = engine.stop_codes(plan, st) != 0
        if finished.any():
            for f in _FIELDS:
                getattr(done, f)[ids[finished]] = getattr(st, f)[finished]
            keep = np.flatnonzero(~finished)
            st, ids = st.take(keep), ids[keep]
        if st.batch == 0:
            return done
        rows = np.arange(st.batch)
        if plan.config.kind == "fixed":
            items = st.form[rows, st.n]
        else:
            draw = engine.attempt_draws(seed, list(names[ids]), plan.config.name, st.n)
            items, faced = engine.select_items(plan, st, draw, True, scratch)
            if want_faced:
                np.add.at(faced_counts, faced, 1)
        u = splitmix_uniforms(answer_seed, first + ids, plan.rows[items])
        responses = simulated_responses(plan, theta[ids], items, u)
        engine.record(plan, st, items, responses)
        if on_step:
            on_step(int(st.batch))


_FIELDS = tuple(f.name for f in dataclasses.fields(engine.EngineState))


def time_single_attempts(
    plan: SectionPlan,
    theta: np.ndarray,
    seed: bytes,
    answer_seed: int,
    items: np.ndarray,
    thetas: np.ndarray,
) -> np.ndarray:
    """Run the first simulees again through the single-attempt API, timing each step
    (decide + answer), and check they match the batch run: the same items and the same
    θ after every answer, to the last bit."""
    timings: list[float] = []
    for i, th in enumerate(theta):
        name = pseudonym(i)
        st = engine.start(plan, seed, name)
        while True:
            t0 = time.perf_counter_ns()
            decision = engine.decide(plan, st, seed, name)
            if decision.item is None:
                break
            u = splitmix_uniforms(answer_seed, np.array([i]), plan.rows[[decision.item]])
            resp = int(simulated_responses(plan, np.array([th]), np.array([decision.item]), u)[0])
            st = engine.answer(plan, st, decision.item, resp)
            timings.append((time.perf_counter_ns() - t0) / 1000.0)
        if not (
            np.array_equal(st.items[0], items[i]) and st.thetas[0].tobytes() == thetas[i].tobytes()
        ):
            raise RuntimeError(f"simulee {i}: single-attempt and batch runs disagree")
    return np.array(timings)


def simulate(
    plan: SectionPlan,
    true_theta: np.ndarray,
    seed: bytes,
    answer_seed: int = 0,
    batch_size: int = 2000,
    timed: int = 0,
    progress: bool | None = False,
) -> SimulationResult:
    """Run every simulee in ``true_theta`` through the engine.

    ``timed`` simulees are also run one by one through the single-attempt API to time
    a step and to cross-check the batch run. ``progress``: False for no bar, True for a
    bar, None for a bar only on a terminal.
    """
    true_theta = np.asarray(true_theta, dtype=float)
    k, length = len(true_theta), plan.config.max_items
    theta, se = np.empty(k), np.empty(k)
    lengths = np.empty(k, dtype=np.int64)
    items = np.full((k, length), -1, dtype=np.int64)
    faced = np.zeros(plan.size, dtype=np.int64)
    bar = None
    if progress is not False:
        bar = tqdm(
            total=k * length,
            unit="step",
            desc=f"simulating {plan.config.name}",
            disable=None if progress is None else False,
            leave=False,
        )
    thetas = np.full((k, length), np.nan)
    for first in range(0, k, batch_size):
        chunk = true_theta[first : first + batch_size]
        st = _run_batch(plan, chunk, first, seed, answer_seed, faced, bar.update if bar else None)
        ests = final_estimates(plan, st)
        theta[first : first + len(chunk)] = [e.theta for e in ests]
        se[first : first + len(chunk)] = [e.se for e in ests]
        lengths[first : first + len(chunk)] = st.n
        items[first : first + len(chunk)] = st.items
        thetas[first : first + len(chunk)] = st.thetas
    if bar:
        bar.close()
    used = items[items >= 0]
    step_us = (
        time_single_attempts(plan, true_theta[:timed], seed, answer_seed, items, thetas)
        if timed
        else np.array([])
    )
    return SimulationResult(
        true_theta=true_theta,
        theta=theta,
        se=se,
        length=lengths,
        items=items,
        exposure_counts=np.bincount(used, minlength=plan.size),
        faced_counts=faced,
        bank_size=plan.size,
        step_us=step_us,
    )


@dataclass(frozen=True)
class ExposureDerivation:
    """What the Sympson–Hetter derivation reached: the K_i and the exposure they gave on
    simulees that did not derive them (the round after the K_i were set)."""

    k: np.ndarray
    r_max: float
    tolerance: float
    max_exposure: float
    items_over: int  # items above r_max + tolerance in that round
    rounds: int
    converged: bool
    reason: str | None = None  # why the cap cannot be reached at all, when known

    @property
    def cap(self) -> float:
        return self.r_max + self.tolerance

    @property
    def excess(self) -> float:
        """How far the most exposed item stays above the cap (0 when it is held)."""
        return max(0.0, self.max_exposure - self.cap)

    def describe(self, section: str) -> str:
        """One sentence for the committee: held, or not and by how much."""
        cap = f"r_max {self.r_max:.3g}" + (
            f" + tolerance {self.tolerance:.3g}" if self.tolerance else ""
        )
        if self.converged:
            return (
                f"section {section}: Sympson-Hetter holds item exposure at {cap} "
                f"(maximum {self.max_exposure:.3f} on fresh simulees, {self.rounds} rounds)"
            )
        cannot = f"section {section}: Sympson-Hetter cannot hold item exposure at {cap}"
        if self.reason:
            return f"{cannot}: {self.reason}"
        return (
            f"{cannot}: after "
            f"{self.rounds} rounds the best gives a maximum of {self.max_exposure:.3f}, "
            f"{self.excess:.3f} above, with {self.items_over} item(s) over"
        )


class ExposureCapError(ValueError):
    """The derivation could not bring every item's exposure to r_max (+ tolerance).

    ``derivation`` says by how much; ``config`` is the section with the best parameters
    found, for a study that wants to go on with them."""

    def __init__(self, section: str, derivation: ExposureDerivation, config: SectionConfig):
        super().__init__(derivation.describe(section))
        self.derivation = derivation
        self.config = config


def _exposure_bound(plan: SectionPlan, cap: float) -> str | None:
    """Why no exposure control can hold every item at ``cap``, if counting shows it: the
    exposure rates add up to the mean test length, so a test of at least m items (or m
    items of a topic) needs m ≤ cap × the items available."""
    config = plan.config
    if config.min_items > cap * plan.size:
        return (
            f"every test has at least {config.min_items} items from a pool of {plan.size}, "
            f"so the mean exposure is at least {config.min_items / plan.size:.3f}"
        )
    counts = np.bincount(plan.topic_of, minlength=plan.n_topics)
    for t, name in enumerate(plan.topic_names):
        if plan.topic_min[t] > cap * counts[t]:
            return (
                f"topic {name} needs {plan.topic_min[t]} items per test from {counts[t]}, "
                f"a mean exposure of {plan.topic_min[t] / counts[t]:.3f}"
            )
    return None


def derive_sympson_hetter(
    plan: SectionPlan,
    examinees: int = 2000,
    iterations: int = 60,
    seed: int = 0,
    tolerance: float = 0.0,
    margin_z: float = 4.0,
    check_z: float = 2.0,
    progress: bool | None = False,
) -> ExposureDerivation:
    """Exposure parameters K_i by the iterative simulation of Sympson & Hetter (1985),
    as Hetter & Sympson (1997) and Stocking & Lewis (1998) describe it: simulate
    applicants from the section's prior N(μ, σ²) with the current K, estimate P(S_i), the
    rate at which item i faces its lottery, and set K_i = r / P(S_i) where P(S_i) > r
    (else 1); repeat. Rounds far from the cap (maximum above cap + 0.1) use a quarter of
    the simulees.

    The cap is r_max + ``tolerance`` (the tolerance is a setting, 0 by default). Every
    rate is an estimate from n = ``examinees`` simulees, with standard error s =
    √(r_max(1 − r_max)/n), and so is any later check: with dozens of items at the cap the
    largest observed rate lies 2–3 s above their true rate. So the adjustment aims
    ``margin_z`` s below the cap (r = cap − z s), and the derivation stops once two
    successive rounds with the same K_i, each on new simulees (abilities, answers and the
    engine's random draws, none of which set the K_i), have every item at most at the cap
    and, pooled, at most ``check_z`` s below it — so that a new sample of n applicants
    also stays under the cap. Aiming at the cap itself leaves about half the capped items
    above it on any new sample. (On the iterative adjustment and its slow, fluctuating
    convergence see van der Linden 2003; van der Linden & Veldkamp 2007 for a variant
    that targets r_max directly.) When no round gets there, or when counting shows that
    no exposure control can (``_exposure_bound``), the result says so and by how much,
    with the best K_i found (``converged`` False).
    """
    rng = np.random.default_rng(seed)
    config = plan.config
    r_max = config.exposure.r_max
    cap = r_max + tolerance
    se = np.sqrt(r_max * (1 - r_max) / examinees)
    target = max(cap - margin_z * se, 0.5 * cap)
    current = plan.with_exposure_parameters(np.ones(plan.size))
    bound = _exposure_bound(plan, cap)
    if bound is not None:
        return ExposureDerivation(current.sh_k, r_max, tolerance, 1.0, 0, 0, False, bound)
    steps = range(1, iterations + 1)
    if progress is not False:
        steps = tqdm(
            steps,
            desc=f"exposure parameters {config.name}",
            unit="round",
            disable=None if progress is None else False,
            leave=False,
        )
    best: ExposureDerivation | None = None
    worst, passed = 1.0, None
    for round_ in steps:
        # Far from the cap a quarter of the simulees is precise enough to move the K_i.
        n = examinees if worst <= cap + 0.1 else max(examinees // 4, 1)
        theta = config.prior_mean + config.prior_sd * rng.standard_normal(n)
        result = simulate(current, theta, rng.bytes(32), int(rng.integers(2**63)))
        rates = result.exposure_rates
        worst = float(rates.max(initial=0.0))
        outcome = ExposureDerivation(
            current.sh_k, r_max, tolerance, worst, int((rates > cap).sum()), round_, False
        )
        if n == examinees and worst <= cap:
            if passed is None:
                passed = result.exposure_counts  # once more with the same K_i, new simulees
                continue
            pooled = (passed + result.exposure_counts) / (2 * n)
            if pooled.max() <= cap - check_z * se:
                return dataclasses.replace(
                    outcome, max_exposure=float(pooled.max()), converged=True
                )
        passed = None
        if n == examinees and (best is None or worst < best.max_exposure):
            best = outcome
        p_faced = result.faced_counts / n
        k = np.where(p_faced > target, target / np.maximum(p_faced, 1e-12), 1.0)
        current = current.with_exposure_parameters(np.minimum(k, 1.0))
    best = best or outcome
    log.warning("%s", best.describe(config.name))
    return dataclasses.replace(best, rounds=iterations)


def with_exposure_parameters(
    config: SectionConfig,
    bank: BankTable,
    seed: int = 0,
    progress: bool | None = False,
    *,
    tolerance: float,
) -> SectionConfig:
    """``config`` with derived Sympson–Hetter parameters (unchanged for other methods or
    when already derived). The parameters become part of the exam definition, so the
    committed definition alone replays every attempt. ``tolerance`` is how far above
    r_max an item's exposure may go (the ``exposure_tolerance`` setting). Raises
    ExposureCapError when the cap cannot be held (Sympson & Hetter 1985)."""
    exposure = config.exposure
    if config.kind != "adaptive" or exposure.method != "sympson-hetter" or exposure.derived:
        return config
    plan = compile_section(config, bank)
    derivation = derive_sympson_hetter(plan, seed=seed, tolerance=tolerance, progress=progress)
    k = derivation.k
    params = tuple((plan.ids[i], round(float(k[i]), 6)) for i in np.flatnonzero(k < 1.0))
    derived = dataclasses.replace(
        config, exposure=dataclasses.replace(exposure, parameters=params, derived=True)
    )
    if not derivation.converged:
        raise ExposureCapError(config.name, derivation, derived)
    return derived
