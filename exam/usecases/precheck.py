"""The committee's "check" before opening an exam: feasibility, then a quick simulation.

A pure function of the definition and the bank table. Feasibility comes first: every
section is compiled and checked (``exam.cat.feasibility``), and an infeasible blueprint is
reported with every problem and not simulated. A feasible exam is then run for a sample of
simulees, θ drawn from each section's prior (N(0, 1) unless the definition says otherwise),
through the same engine and exposure control the live exam uses (Sympson–Hetter
parameters are derived as at opening), and each section reports its
precision and item exposure — the simulation study that the CAT literature asks for before
an adaptive test goes live (Thompson & Weiss 2011, Practical Assessment, Research &
Evaluation 16(1)).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from exam.cat.blueprint import ExamConfig
from exam.cat.feasibility import check_exam
from exam.cat.plan import compile_section
from exam.cat.simulation import (
    ExposureCapError,
    SimulationResult,
    simulate,
    with_exposure_parameters,
)
from itembank.table import BankTable


@dataclass(frozen=True)
class SectionCheck:
    name: str
    kind: str
    summary: dict  # the simulation JSON of CONTRACTS.md
    result: SimulationResult


@dataclass(frozen=True)
class ExamCheck:
    problems: list[str]
    sections: list[SectionCheck]

    @property
    def feasible(self) -> bool:
        return not self.problems


def precheck(
    config: ExamConfig,
    bank: BankTable,
    examinees: int = 300,
    seed: int = 0,
    *,
    exposure_tolerance: float = 0.0,
) -> ExamCheck:
    """Feasibility of every section, and a simulation of each when all are feasible. A
    Sympson-Hetter cap (r_max + ``exposure_tolerance``) that cannot be held is a problem,
    with by how much; that section is simulated with the best parameters found."""
    config.validate()
    problems = check_exam(config, bank)
    if problems:
        return ExamCheck(problems, [])
    z = np.random.default_rng(seed).standard_normal(examinees)
    exam_seed = hashlib.sha256(f"seleksi-precheck-{config.code}-{seed}".encode()).digest()
    sections = []
    for section in config.sections:
        try:
            derived = with_exposure_parameters(
                section, bank, seed=seed, tolerance=exposure_tolerance
            )
        except ExposureCapError as exc:
            problems.append(str(exc))
            derived = exc.config
        plan = compile_section(derived, bank)
        theta = section.prior_mean + section.prior_sd * z
        result = simulate(plan, theta, exam_seed, answer_seed=seed)
        sections.append(SectionCheck(section.name, section.kind, result.summary(), result))
    return ExamCheck(problems, sections)
