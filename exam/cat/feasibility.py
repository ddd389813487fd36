"""Can a section's constraints be met at all? Checked before an exam opens.

Counting catches the plain cases with a plain message (too few items in a topic). The
exact question — is there one set of ``max_items`` items that meets every topic minimum
and maximum and holds no two enemies? — is a 0-1 integer programme, solved with HiGHS
through ``scipy.optimize.milp``. An adaptive attempt can always run to its maximum length
only if such a set exists; a fixed form is such a set.

The engine itself never relaxes a constraint: if an attempt runs out of eligible items it
raises ``InfeasibleError``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from exam.cat.blueprint import ExamConfig, SectionConfig
from exam.cat.plan import InfeasibleError, SectionPlan, compile_section
from itembank.table import BankTable


def section_problems(plan: SectionPlan) -> list[str]:
    """Every reason the section cannot be delivered; empty when it can."""
    cfg = plan.config
    where = f"section {cfg.name}"
    problems: list[str] = []
    if plan.size < cfg.max_items:
        problems.append(
            f"{where}: the pool has {plan.size} items, fewer than max_items {cfg.max_items}"
        )
    sizes = np.bincount(plan.topic_of, minlength=plan.n_topics)
    for t, name in enumerate(plan.topic_names):
        if sizes[t] < plan.topic_min[t]:
            problems.append(
                f"{where}: topic {name} has {sizes[t]} items, fewer than its "
                f"minimum {plan.topic_min[t]}"
            )
    if problems:
        return problems
    if not _has_form(plan):
        problems.append(
            f"{where}: no set of {cfg.max_items} items meets every topic minimum and maximum "
            "without two enemy items; add items or relax the blueprint"
        )
    return problems


def _has_form(plan: SectionPlan) -> bool:
    n, t = plan.size, plan.n_topics
    rows, cols, data = [], [], []
    lower, upper = [], []
    # Form length.
    rows += [0] * n
    cols += list(range(n))
    data += [1.0] * n
    lower.append(plan.config.max_items)
    upper.append(plan.config.max_items)
    # Topic quotas.
    for k in range(t):
        members = np.flatnonzero(plan.topic_of == k)
        r = len(lower)
        rows += [r] * members.size
        cols += members.tolist()
        data += [1.0] * members.size
        lower.append(float(plan.topic_min[k]))
        upper.append(float(plan.topic_max[k]))
    # Enemies: at most one of each enemy pair.
    for i in range(n):
        for j in plan.enemies_of(i):
            if j > i:
                r = len(lower)
                rows += [r, r]
                cols += [i, int(j)]
                data += [1.0, 1.0]
                lower.append(-np.inf)
                upper.append(1.0)
    matrix = coo_array((data, (rows, cols)), shape=(len(lower), n)).tocsr()
    result = milp(
        c=np.zeros(n),
        constraints=LinearConstraint(matrix, lower, upper),
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"time_limit": 30.0},
    )
    return result.status == 0


def check_section(config: SectionConfig, bank: BankTable) -> SectionPlan:
    """Compile and check one section; raises InfeasibleError listing every problem."""
    plan = compile_section(config, bank)
    problems = section_problems(plan)
    if problems:
        raise InfeasibleError(problems)
    return plan


def check_exam(config: ExamConfig, bank: BankTable) -> list[str]:
    """Every problem of every section of an exam (empty when it can be delivered)."""
    problems: list[str] = []
    for section in config.sections:
        try:
            problems += section_problems(compile_section(section, bank))
        except InfeasibleError as exc:
            problems += exc.problems
    return problems
