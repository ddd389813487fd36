"""The bank as the engine sees it: parameters plus the metadata that constrains selection.

Pure values only. The database models (``itembank.models``) load into this table; the
engine, the simulator and an observer's replay all work from it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scoring.params import FAMILY_DICHOTOMOUS, ItemParams, ItemSpec

#: Points for a correct dichotomous answer, as CAT BKN scores TWK and TIU.
POINTS_CORRECT = 5


@dataclass(frozen=True, eq=False)
class BankTable:
    """Calibrated items: IRT parameters, section domain, topic, enemy sets and the points
    each response category earns (``points`` is N × C, NaN past an item's categories)."""

    params: ItemParams
    domains: tuple[str, ...]
    topics: tuple[str, ...]
    points: np.ndarray
    enemy_sets: tuple[frozenset[str], ...] = ()

    def __post_init__(self) -> None:
        n = len(self.params)
        if not len(self.domains) == len(self.topics) == self.points.shape[0] == n:
            raise ValueError("bank table columns differ in length")
        known = set(self.params.ids)
        for group in self.enemy_sets:
            unknown = sorted(group - known)
            if unknown:
                raise ValueError(f"enemy set names unknown items: {', '.join(unknown)}")

    def __len__(self) -> int:
        return len(self.params)

    def rows_in_domain(self, domain: str) -> np.ndarray:
        return np.flatnonzero(np.asarray(self.domains) == domain)

    def parameter_table(self) -> str:
        """The canonical parameter table: JSON of every item's id, model, parameters (as
        Python ``repr`` strings, exact), domain, topic and points, and the enemy sets."""
        rows = []
        for i in range(len(self.params)):
            spec = self.params.spec(i)
            pts = [None if np.isnan(p) else float(p) for p in self.points[i]]
            rows.append(
                [
                    spec.item_id,
                    spec.model,
                    repr(spec.a),
                    repr(spec.b),
                    repr(spec.c),
                    [repr(s) for s in spec.steps],
                    self.domains[i],
                    self.topics[i],
                    pts,
                ]
            )
        enemies = sorted(sorted(g) for g in self.enemy_sets)
        return json.dumps({"items": rows, "enemies": enemies}, separators=(",", ":"))

    @classmethod
    def from_parameter_table(cls, text: str) -> BankTable:
        """The table back from ``parameter_table()`` (an observer's replay uses it)."""
        data = json.loads(text)
        specs, domains, topics, points = [], [], [], []
        for item_id, model, a, b, c, steps, domain, topic, pts in data["items"]:
            specs.append(
                ItemSpec(
                    item_id,
                    model,
                    float(a),
                    float(b),
                    float(c),
                    tuple(float(x) for x in steps),
                )
            )
            domains.append(domain)
            topics.append(topic)
            points.append([np.nan if p is None else p for p in pts])
        width = max((len(p) for p in points), default=2)
        table = np.full((len(points), width), np.nan)
        for i, row in enumerate(points):
            table[i, : len(row)] = row
        return cls(
            ItemParams.from_specs(specs),
            tuple(domains),
            tuple(topics),
            table,
            tuple(frozenset(g) for g in data["enemies"]),
        )


def default_points(params: ItemParams) -> np.ndarray:
    """POINTS_CORRECT for a correct dichotomous answer; 1..K+1 for polytomous categories
    (TKP style: every option earns 1 to 5 points)."""
    width = params.max_categories
    pts = np.full((len(params), width), np.nan)
    dich = params.family == FAMILY_DICHOTOMOUS
    pts[dich, 0], pts[dich, 1] = 0.0, POINTS_CORRECT
    for i in np.flatnonzero(~dich):
        k = int(params.n_categories[i])
        pts[i, :k] = np.arange(1, k + 1)
    return pts


def make_table(
    params: ItemParams,
    domains: Sequence[str],
    topics: Sequence[str],
    enemy_sets: Sequence[Sequence[str]] = (),
    points: np.ndarray | None = None,
) -> BankTable:
    """A BankTable with default points unless given."""
    return BankTable(
        params,
        tuple(domains),
        tuple(topics),
        default_points(params) if points is None else np.asarray(points, dtype=float),
        tuple(frozenset(g) for g in enemy_sets),
    )
