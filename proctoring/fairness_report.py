"""The fairness report of an exam: is it the same exam for everyone?

Built from the recorded answers with the pure statistics of ``proctoring.fairness``, per
section: DIF by every recorded group attribute (Mantel–Haenszel on θ̂ strata, ETS classes),
the standard error of θ̂ by θ̂ bin for each group (equal precision at equal ability), item
exposure and test overlap, and the test information curves per group. The room or session
an applicant sat in is where they sat, not who they are, so it is not a group attribute here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, Enrollment, Exam, Response
from exam.adapters.runtime import RuntimeRegistry, compiled
from proctoring import fairness, fairness_plots
from proctoring.forensics import ROOM_ATTRIBUTES

PLOTS = ("se", "exposure", "information")
#: Attributes that are not groups of people: identifiers and where one sat.
NOT_GROUPS = frozenset(ROOM_ATTRIBUTES)


@dataclass(frozen=True, eq=False)
class SectionFairness:
    section: str
    attempts: int
    attributes: tuple[str, ...]
    dif: fairness.DifByAttribute | None
    conditional_se: fairness.ConditionalSE | None
    exposure: fairness.ExposureReport | None
    information: fairness.InformationCurves | None

    def plot(self, name: str) -> fairness_plots.Rendered | None:
        """One figure (``se``, ``exposure`` or ``information``), or None when the section
        has no data for it."""
        if name == "se" and self.conditional_se is not None and self.conditional_se.bins:
            return fairness_plots.conditional_se_plot(self.conditional_se, self.section)
        if name == "exposure" and self.exposure is not None:
            return fairness_plots.exposure_plot(self.exposure, self.section)
        if name == "information" and self.information is not None:
            attribute = self.attributes[0] if self.attributes else None
            return fairness_plots.information_plot(self.information, attribute, self.section)
        return None

    def plots(self) -> dict[str, fairness_plots.Rendered]:
        """Every figure the section has, by name."""
        drawn = {name: self.plot(name) for name in PLOTS}
        return {name: r for name, r in drawn.items() if r is not None}


@dataclass(frozen=True, eq=False)
class FairnessReport:
    exam: Exam
    sections: list[SectionFairness]


def report(
    session: Session,
    exam: Exam,
    runtimes: RuntimeRegistry | None = None,
    min_group: int = 50,
    min_item: int = 20,
    min_per_group: int = 20,
) -> FairnessReport:
    """The fairness report over every attempt with a result in a section."""
    if exam.snapshot_sha256 is None:
        return FairnessReport(exam, [])
    rt = compiled(exam, runtimes)
    attempts = session.execute(
        select(Attempt.id, Attempt.results, Enrollment.attributes)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .where(Attempt.exam_id == exam.id)
    ).all()
    answers = session.execute(
        select(Response.attempt_id, Response.section, Response.item_id, Response.category)
        .join(Attempt, Attempt.id == Response.attempt_id)
        .where(Attempt.exam_id == exam.id, Response.pilot.is_(False))
    ).all()
    attributes = sorted({k for _, _, attrs in attempts for k in (attrs or {})} - NOT_GROUPS - {""})
    sections = []
    for plan in rt.plans:
        name = plan.config.name
        scored = [(a, r[name], attrs or {}) for a, r, attrs in attempts if r and name in r]
        if not scored:
            sections.append(SectionFairness(name, 0, tuple(attributes), None, None, None, None))
            continue
        row_of = {a: k for k, (a, _, _) in enumerate(scored)}
        col_of = {item: j for j, item in enumerate(plan.ids)}
        responses = np.full((len(scored), len(plan.ids)), -1, dtype=np.int64)
        for attempt_id, section, item_id, category in answers:
            if section == name and attempt_id in row_of and item_id in col_of:
                responses[row_of[attempt_id], col_of[item_id]] = category
        theta = np.array([float(r["theta"]) for _, r, _ in scored])
        se = np.array([float(r["se"]) for _, r, _ in scored])
        groups = {
            attr: np.array([str(a.get(attr, "")) for _, _, a in scored], dtype=object)
            for attr in attributes
        }
        administered = [np.flatnonzero(row >= 0) for row in responses]
        sections.append(
            SectionFairness(
                name,
                len(scored),
                tuple(attributes),
                fairness.dif_by_attribute(
                    plan.params,
                    responses,
                    theta,
                    groups,
                    min_group=min_group,
                    min_item=min_item,
                )
                if groups
                else None,
                fairness.conditional_se(theta, se, groups, min_per_group=min_per_group)
                if groups
                else None,
                fairness.exposure_distribution(administered, len(plan.ids)),
                fairness.information_curves(plan.params, administered, groups=groups or None),
            )
        )
    return FairnessReport(exam, sections)
