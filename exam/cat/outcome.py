"""Section results: the final ability estimate and the score on the points scale.

- An adaptive section reports θ with the section's estimator and maps it to the expected
  points on the section's reference form through the test characteristic curve
  (Lord 1980, ch. 4; Kolen & Brennan 2014, ch. 6 on true-score scales). An adaptive TWK
  section thus reports on the familiar 0–150 scale and a passing grade keeps its meaning.
- A fixed section scores by points: the points of each answered category (5 per correct
  TWK/TIU item, 1–5 per TKP option), as CAT BKN does.

Scores are rounded half up to whole points; the unrounded value is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from exam.cat.engine import EngineState
from exam.cat.plan import SectionPlan
from scoring.ability import Estimate, eap_from_loglik, estimate
from scoring.irt import expected_points


@dataclass(frozen=True)
class SectionResult:
    """One attempt's outcome in one section."""

    section: str
    items: tuple[str, ...]
    responses: tuple[int, ...]
    thetas: tuple[float, ...]
    ses: tuple[float, ...]
    theta: float
    se: float
    method: str
    method_reason: str | None
    points_exact: float
    points: int
    pilot_items: tuple[str, ...] = ()
    pilot_slots: tuple[int, ...] = ()
    pilot_responses: tuple[int, ...] = ()

    @property
    def n_items(self) -> int:
        return len(self.items)


def round_points(value: float) -> int:
    """Round half up to whole points (CAT BKN reports whole points)."""
    return int(Decimal(repr(float(value))).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def scaled_points(plan: SectionPlan, theta: float) -> float:
    """Expected points on the section's reference form at θ."""
    tcc = expected_points(plan.ref_params, np.array([theta]), plan.ref_points)[0]
    return float(tcc * plan.ref_factor)


def section_result(plan: SectionPlan, st: EngineState, b: int = 0) -> SectionResult:
    """Score attempt ``b`` of ``st``."""
    n = int(st.n[b])
    items = st.items[b, :n]
    responses = st.responses[b, :n]
    cfg = plan.config
    pilots = int((st.pilot_items[b] >= 0).sum())
    [est] = final_estimates(plan, st.take(np.array([b])))
    theta, se, method, reason = est.theta, est.se, est.method, est.reason
    if cfg.kind == "fixed":
        exact = float(np.nansum(plan.points[items, responses]))
    else:
        exact = scaled_points(plan, theta)
    return SectionResult(
        section=cfg.name,
        items=tuple(plan.ids[i] for i in items),
        responses=tuple(int(r) for r in responses),
        thetas=tuple(float(t) for t in st.thetas[b, :n]),
        ses=tuple(float(s) for s in st.ses[b, :n]),
        theta=theta,
        se=se,
        method=method,
        method_reason=reason,
        points_exact=exact,
        points=round_points(exact),
        pilot_items=tuple(cfg.pilot_items[i] for i in st.pilot_items[b, :pilots]),
        pilot_slots=tuple(int(s) for s in st.pilot_slots[b, :pilots]),
        pilot_responses=tuple(int(r) for r in st.pilot_responses[b, : int(st.pilot_n[b])]),
    )


def final_estimates(plan: SectionPlan, st: EngineState) -> list[Estimate]:
    """The final estimate of every attempt in ``st`` with the section's estimator; one
    function for a single attempt and a simulated batch, so both give the same numbers.
    EAP comes from the running grid log-likelihood, the others from the responses."""
    if plan.config.estimator == "eap":
        theta, se = eap_from_loglik(st.loglik, plan.quad)
        return [Estimate(float(t), float(s), "eap") for t, s in zip(theta, se, strict=True)]
    matrix = np.full((st.batch, plan.size), -1, dtype=np.int64)
    rows, cols = np.nonzero(st.items >= 0)
    matrix[rows, st.items[rows, cols]] = st.responses[rows, cols]
    return estimate(plan.params, matrix, plan.config.estimator, plan.quad)
