"""Item parameter tables: the plain arrays every IRT function in Seleksi works on.

One table holds dichotomous (Rasch/1PL/2PL/3PL) and polytomous (GPCM/GRM) items side by
side. Polytomous step or threshold parameters sit in a NaN-padded matrix, so an item with
K steps has K + 1 response categories scored 0..K.

The metric is logistic with D = 1 (CONTRACTS.md):
P(θ) = c + (1 − c) / (1 + exp(−a(θ − b))).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

DICHOTOMOUS_MODELS = ("rasch", "1pl", "2pl", "3pl")
POLYTOMOUS_MODELS = ("gpcm", "grm")
MODELS = DICHOTOMOUS_MODELS + POLYTOMOUS_MODELS

#: Model family codes used in the vectorised code paths.
FAMILY_DICHOTOMOUS = 0
FAMILY_GPCM = 1
FAMILY_GRM = 2


class ParamsError(ValueError):
    """An item's parameters are not valid for its model."""


@dataclass(frozen=True)
class ItemSpec:
    """One item's parameters as read from a file or the bank."""

    item_id: str
    model: str
    a: float = 1.0
    b: float = float("nan")
    c: float = 0.0
    steps: tuple[float, ...] = ()

    def validate(self) -> None:
        """Raise ParamsError when the parameters cannot define the model."""
        if self.model not in MODELS:
            raise ParamsError(f"item {self.item_id}: unknown model {self.model!r}")
        values = (self.a, self.b, self.c, *self.steps)
        if any(np.isinf(v) for v in values):
            raise ParamsError(f"item {self.item_id}: parameters must be finite")
        if not self.a > 0:
            raise ParamsError(f"item {self.item_id}: discrimination a must be > 0")
        if self.model in DICHOTOMOUS_MODELS:
            if np.isnan(self.b):
                raise ParamsError(f"item {self.item_id}: difficulty b is required")
            if not 0 <= self.c < 1:
                raise ParamsError(f"item {self.item_id}: guessing c must be in [0, 1)")
            if self.model != "3pl" and self.c != 0:
                raise ParamsError(f"item {self.item_id}: c must be 0 unless the model is 3pl")
            if self.model == "rasch" and self.a != 1:
                raise ParamsError(f"item {self.item_id}: a Rasch item has a = 1")
        else:
            if not self.steps:
                raise ParamsError(f"item {self.item_id}: {self.model} needs step parameters")
            if any(np.isnan(s) for s in self.steps):
                raise ParamsError(f"item {self.item_id}: step parameters must be numbers")
            if self.model == "grm" and any(
                hi <= lo for lo, hi in zip(self.steps, self.steps[1:], strict=False)
            ):
                raise ParamsError(f"item {self.item_id}: GRM thresholds must increase")


@dataclass(frozen=True, eq=False)
class ItemParams:
    """A table of item parameters as numpy arrays (one row per item)."""

    ids: tuple[str, ...]
    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    steps: np.ndarray
    family: np.ndarray = field(init=False)
    n_categories: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        family = np.array(
            [
                FAMILY_GPCM if m == "gpcm" else FAMILY_GRM if m == "grm" else FAMILY_DICHOTOMOUS
                for m in self.models
            ],
            dtype=np.int8,
        )
        n_cat = np.where(family == FAMILY_DICHOTOMOUS, 2, 1 + np.sum(~np.isnan(self.steps), 1))
        object.__setattr__(self, "family", family)
        object.__setattr__(self, "n_categories", n_cat.astype(np.int64))
        for arr in (self.a, self.b, self.c, self.steps, family, self.n_categories):
            arr.setflags(write=False)

    @classmethod
    def from_specs(cls, specs: Iterable[ItemSpec]) -> ItemParams:
        """Build a table from item specs, validating each one."""
        specs = list(specs)
        seen: set[str] = set()
        for spec in specs:
            spec.validate()
            if spec.item_id in seen:
                raise ParamsError(f"item {spec.item_id}: duplicate item id")
            seen.add(spec.item_id)
        k = max((len(s.steps) for s in specs), default=0)
        steps = np.full((len(specs), k), np.nan)
        for i, spec in enumerate(specs):
            steps[i, : len(spec.steps)] = spec.steps
        return cls(
            ids=tuple(s.item_id for s in specs),
            models=tuple(s.model for s in specs),
            a=np.array([s.a for s in specs], dtype=float),
            b=np.array([s.b if s.model in DICHOTOMOUS_MODELS else np.nan for s in specs]),
            c=np.array([s.c for s in specs], dtype=float),
            steps=steps,
        )

    @classmethod
    def three_pl(
        cls, a: Sequence[float], b: Sequence[float], c: Sequence[float] | None = None
    ) -> ItemParams:
        """A dichotomous table from arrays (3PL if any c > 0, else 2PL)."""
        a_arr = np.asarray(a, dtype=float)
        c_arr = np.zeros_like(a_arr) if c is None else np.asarray(c, dtype=float)
        specs = [
            ItemSpec(f"i{i:05d}", "3pl" if c_arr[i] > 0 else "2pl", a_arr[i], float(b[i]), c_arr[i])
            for i in range(len(a_arr))
        ]
        return cls.from_specs(specs)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def max_categories(self) -> int:
        """The largest number of response categories of any item."""
        return int(self.n_categories.max(initial=2))

    @property
    def all_dichotomous(self) -> bool:
        return bool(np.all(self.family == FAMILY_DICHOTOMOUS))

    def index(self) -> dict[str, int]:
        """Map item id to row number."""
        return {item_id: i for i, item_id in enumerate(self.ids)}

    def subset(self, rows: Sequence[int] | np.ndarray) -> ItemParams:
        """The table restricted to the given rows, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        steps = self.steps[rows]
        if steps.shape[1]:
            width = int(np.max(np.sum(~np.isnan(steps), 1), initial=0))
            steps = steps[:, :width]
        return ItemParams(
            ids=tuple(self.ids[i] for i in rows),
            models=tuple(self.models[i] for i in rows),
            a=self.a[rows],
            b=self.b[rows],
            c=self.c[rows],
            steps=steps,
        )

    def spec(self, row: int) -> ItemSpec:
        """One row back as an ItemSpec."""
        steps = tuple(float(s) for s in self.steps[row] if not np.isnan(s))
        return ItemSpec(
            self.ids[row],
            self.models[row],
            float(self.a[row]),
            float(self.b[row]),
            float(self.c[row]),
            steps,
        )
