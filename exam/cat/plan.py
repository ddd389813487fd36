"""A section compiled against the bank: the arrays the engine reads on every step.

Compiling once per exam keeps the hot path free of dictionaries and string handling:
the pool's parameters, topic codes, enemy lists (CSR), category points and the table of
log P_k(θ_q) that makes every ability update an O(Q) addition.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from exam.cat.blueprint import SectionConfig
from itembank.table import BankTable
from scoring.ability import Quadrature, prior_quadrature
from scoring.irt import log_prob_table
from scoring.params import ItemParams

ANY_TOPIC = "*"


class InfeasibleError(ValueError):
    """The section's constraints cannot be met; ``problems`` says which and why.

    The engine raises this instead of relaxing a constraint.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, eq=False)
class SectionPlan:
    """Everything the engine needs about one section, as arrays over the pool."""

    config: SectionConfig
    rows: np.ndarray
    ids: tuple[str, ...]
    params: ItemParams
    topic_names: tuple[str, ...]
    topic_of: np.ndarray
    topic_min: np.ndarray
    topic_max: np.ndarray
    target: np.ndarray
    enemy_ptr: np.ndarray
    enemy_idx: np.ndarray
    points: np.ndarray
    logp: np.ndarray
    quad: Quadrature
    sh_k: np.ndarray
    ref_params: ItemParams
    ref_points: np.ndarray
    ref_factor: float
    sprt_logp: np.ndarray | None
    has_enemy: np.ndarray = dataclasses.field(init=False)
    info_scale: np.ndarray = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "has_enemy", np.diff(self.enemy_ptr) > 0)
        p = self.params
        object.__setattr__(self, "info_scale", p.a * p.a * (1.0 - p.c))

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def n_topics(self) -> int:
        return len(self.topic_names)

    def enemies_of(self, item: int) -> np.ndarray:
        return self.enemy_idx[self.enemy_ptr[item] : self.enemy_ptr[item + 1]]

    def with_exposure_parameters(self, sh_k: np.ndarray) -> SectionPlan:
        """The same plan with Sympson–Hetter parameters K_i (one per pool item)."""
        k = np.asarray(sh_k, dtype=float)
        if k.shape != (self.size,) or np.any((k < 0) | (k > 1)):
            raise ValueError("Sympson-Hetter parameters must be one value in [0, 1] per item")
        return dataclasses.replace(self, sh_k=k)


def _enemy_csr(bank: BankTable, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = {bank.params.ids[r]: i for i, r in enumerate(rows)}
    neighbours: list[set[int]] = [set() for _ in rows]
    for group in bank.enemy_sets:
        members = [pos[m] for m in group if m in pos]
        for i in members:
            neighbours[i].update(j for j in members if j != i)
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(s) for s in neighbours])
    idx = np.array([j for s in neighbours for j in sorted(s)], dtype=np.int64)
    return ptr, idx


def _sprt_table(config: SectionConfig, params: ItemParams) -> np.ndarray | None:
    """log P_k(cut + δ) − log P_k(cut − δ) per item and category, (N, C): one answer's
    contribution to the classification test's log likelihood ratio."""
    rule = config.classification
    if rule is None:
        return None
    table = log_prob_table(params, np.array([rule.cut - rule.delta, rule.cut + rule.delta]))
    return np.nan_to_num(table[:, 1, :] - table[:, 0, :])


def compile_section(
    config: SectionConfig, bank: BankTable, quad: Quadrature | None = None
) -> SectionPlan:
    """Compile ``config`` against ``bank``; raises InfeasibleError for an empty pool or an
    unknown reference-form item."""
    config.validate()
    quad = quad or prior_quadrature(config.prior_mean, config.prior_sd)
    domain_rows = bank.rows_in_domain(config.domain)
    if config.content:
        names = tuple(r.topic for r in config.content)
        wanted = set(names)
        rows = np.array([r for r in domain_rows if bank.topics[r] in wanted], dtype=np.int64)
        tmin = np.array([r.min for r in config.content], dtype=np.int64)
        tmax = np.array([r.max for r in config.content], dtype=np.int64)
    else:
        names, rows = (ANY_TOPIC,), domain_rows.astype(np.int64)
        tmin = np.zeros(1, dtype=np.int64)
        tmax = np.array([config.max_items], dtype=np.int64)
    if rows.size == 0:
        raise InfeasibleError([f"section {config.name}: no items in domain {config.domain!r}"])
    code = {t: i for i, t in enumerate(names)}
    topic_of = np.array([code.get(bank.topics[r], 0) for r in rows], dtype=np.int64)
    # Kingsbury & Zara (1989) balance towards target shares; the minimums carry them.
    target = tmin / tmin.sum() if tmin.sum() > 0 else np.full(len(names), 1.0 / len(names))
    params = bank.params.subset(rows)
    ptr, idx = _enemy_csr(bank, rows)

    if config.reference_form:
        index = bank.params.index()
        missing = [i for i in config.reference_form if i not in index]
        if missing:
            raise InfeasibleError(
                [f"section {config.name}: reference form names unknown items {missing}"]
            )
        ref_rows = np.array([index[i] for i in config.reference_form], dtype=np.int64)
        ref_factor = 1.0
    else:
        # Without a reference form the scale is an average form of the section's length.
        ref_rows, ref_factor = rows, config.max_items / len(rows)
    width = params.max_categories
    sh_k = np.ones(len(rows))
    pool_index = {item_id: i for i, item_id in enumerate(params.ids)}
    for item_id, k in config.exposure.parameters:
        if item_id in pool_index:
            sh_k[pool_index[item_id]] = k
    return SectionPlan(
        config=config,
        rows=rows,
        ids=params.ids,
        params=params,
        topic_names=names,
        topic_of=topic_of,
        topic_min=tmin,
        topic_max=tmax,
        target=target,
        enemy_ptr=ptr,
        enemy_idx=idx,
        points=bank.points[rows][:, :width],
        logp=log_prob_table(params, quad.points),
        quad=quad,
        sh_k=sh_k,
        ref_params=bank.params.subset(ref_rows),
        ref_points=bank.points[ref_rows],
        ref_factor=ref_factor,
        sprt_logp=_sprt_table(config, params),
    )
