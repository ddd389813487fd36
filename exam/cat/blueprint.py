"""Exam definitions: sections, content rules, exposure control and stopping rules.

Plain frozen dataclasses with a canonical dict form, so that a definition can be stored,
committed to the audit log by hash, and read back by an observer's replay.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from scoring.ranking import Rules, RulesError

EXPOSURE_METHODS = ("none", "randomesque", "sympson-hetter")
SECTION_KINDS = ("adaptive", "fixed")
#: The most points a correct answer may earn (CAT BKN gives 5).
MAX_POINTS_CORRECT = 100


class BlueprintError(ValueError):
    """An exam or section definition is not valid."""


@dataclass(frozen=True)
class ContentRule:
    """Between ``min`` and ``max`` items of ``topic`` in one attempt of a section."""

    topic: str
    min: int
    max: int

    def validate(self) -> None:
        if not 0 <= self.min <= self.max:
            raise BlueprintError(f"topic {self.topic}: need 0 <= min <= max")


@dataclass(frozen=True)
class ExposureConfig:
    """How the engine spreads item use.

    ``randomesque`` picks at random among the ``k`` most informative items (Kingsbury &
    Zara 1989, Applied Measurement in Education 2). ``sympson-hetter`` (the default)
    walks down the items by information and gives item i with probability K_i
    (``candidates`` only sets how many items a simulated batch ranks at a time). The K_i
    are derived by simulation so that no item's exposure rate exceeds ``r_max`` (plus the
    ``exposure_tolerance`` setting, 0 by default) on applicants who took no part in the
    derivation, or the derivation says by how much it cannot (Sympson & Hetter 1985;
    ``exam.cat.simulation.derive_sympson_hetter``). They are stored in ``parameters``
    (item id, K_i for every K_i < 1), so the exam definition alone replays every attempt
    (docs/psychometrics.md).
    """

    method: Literal["none", "randomesque", "sympson-hetter"] = "sympson-hetter"
    k: int = 5
    r_max: float = 0.2
    candidates: int = 40
    parameters: tuple[tuple[str, float], ...] = ()
    derived: bool = False

    def validate(self) -> None:
        if self.method not in EXPOSURE_METHODS:
            raise BlueprintError(f"exposure method must be one of {', '.join(EXPOSURE_METHODS)}")
        if self.k < 1 or self.candidates < 1:
            raise BlueprintError("exposure k and candidates must be >= 1")
        if not 0 < self.r_max <= 1:
            raise BlueprintError("exposure r_max must be in (0, 1]")
        if any(not 0 <= k <= 1 for _, k in self.parameters):
            raise BlueprintError("exposure parameters must be in [0, 1]")


@dataclass(frozen=True)
class Classification:
    """A classification stop against a cut score on the θ scale: the sequential
    probability ratio test of H0: θ = cut − delta against H1: θ = cut + delta with error
    rates alpha and beta (Wald 1947; Reckase 1983; Eggen 1999, Applied Psychological
    Measurement 23). The section stops, after ``min_items`` and the topic minimums, once
    the log likelihood ratio leaves (ln(β/(1 − α)), ln((1 − β)/α))."""

    cut: float
    delta: float = 0.3
    alpha: float = 0.05
    beta: float = 0.05

    def validate(self) -> None:
        if not self.delta > 0:
            raise BlueprintError("classification delta must be > 0")
        if not (0 < self.alpha < 0.5 and 0 < self.beta < 0.5):
            raise BlueprintError("classification alpha and beta must be in (0, 0.5)")


@dataclass(frozen=True)
class SectionConfig:
    """One exam section: an adaptive test or a fixed form drawn from the blueprint."""

    name: str
    domain: str
    kind: Literal["adaptive", "fixed"] = "adaptive"
    min_items: int = 1
    max_items: int = 30
    se_target: float | None = None
    time_limit_s: int | None = None
    content: tuple[ContentRule, ...] = ()
    exposure: ExposureConfig = field(default_factory=ExposureConfig)
    estimator: Literal["eap", "map", "mle", "wle"] = "eap"
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    reference_form: tuple[str, ...] = ()
    passing_grade: float | None = None
    classification: Classification | None = None
    pilot_items: tuple[str, ...] = ()
    pilot_rate: float = 0.0

    def validate(self) -> None:
        if not self.name:
            raise BlueprintError("a section needs a name")
        where = f"section {self.name}"
        if self.kind not in SECTION_KINDS:
            raise BlueprintError(f"{where}: kind must be adaptive or fixed")
        if not 1 <= self.min_items <= self.max_items:
            raise BlueprintError(f"{where}: need 1 <= min_items <= max_items")
        if self.se_target is not None and not self.se_target > 0:
            raise BlueprintError(f"{where}: se_target must be > 0")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise BlueprintError(f"{where}: time_limit_s must be > 0")
        if self.estimator not in ("eap", "map", "mle", "wle"):
            raise BlueprintError(f"{where}: estimator must be eap, map, mle or wle")
        if not (math.isfinite(self.prior_mean) and math.isfinite(self.prior_sd)):
            raise BlueprintError(f"{where}: prior_mean and prior_sd must be finite numbers")
        if not self.prior_sd > 0:
            raise BlueprintError(f"{where}: prior_sd must be > 0")
        topics = [rule.topic for rule in self.content]
        if len(set(topics)) != len(topics):
            raise BlueprintError(f"{where}: a topic appears twice in the content rules")
        for rule in self.content:
            rule.validate()
        if self.content and sum(r.min for r in self.content) > self.max_items:
            raise BlueprintError(f"{where}: the topic minimums add up to more than max_items")
        if self.content and sum(r.max for r in self.content) < self.min_items:
            raise BlueprintError(f"{where}: the topic maximums add up to less than min_items")
        self.exposure.validate()
        if self.classification is not None:
            self.classification.validate()
        if not 0 <= self.pilot_rate <= 0.5:
            raise BlueprintError(f"{where}: pilot_rate must be in [0, 0.5]")
        if len(set(self.pilot_items)) != len(self.pilot_items):
            raise BlueprintError(f"{where}: a pilot item is listed twice")

    @property
    def length(self) -> int:
        """The length of a fixed form (``max_items``)."""
        return self.max_items


@dataclass(frozen=True)
class ExamConfig:
    """An exam: ordered sections and a total duration."""

    code: str
    title: str
    sections: tuple[SectionConfig, ...]
    duration_s: int
    #: Selection rules beyond the sections' passing grades (scoring.ranking's JSON without
    #: "sections" and "passing_grades", which come from the sections): tracks, vacancies
    #: per formation, quota multiplier, tie-break order, a weighted final score.
    rules: dict | None = None
    #: Points for a correct answer to a keyed (TWK/TIU-style) item; option-scored
    #: (TKP-style) items carry their own points. Part of the definition committed to the
    #: log at opening, so an exam's scoring cannot change while it runs.
    points_correct: int = 5

    def validate(self) -> None:
        if not self.sections:
            raise BlueprintError("an exam needs at least one section")
        names = [s.name for s in self.sections]
        if len(set(names)) != len(names):
            raise BlueprintError("section names must be unique")
        if self.duration_s <= 0:
            raise BlueprintError("duration_s must be > 0")
        if (
            isinstance(self.points_correct, bool)
            or not isinstance(self.points_correct, int)
            or not 1 <= self.points_correct <= MAX_POINTS_CORRECT
        ):
            raise BlueprintError(
                f"points_correct must be a whole number from 1 to {MAX_POINTS_CORRECT}"
            )
        for section in self.sections:
            section.validate()
        if self.rules is not None:
            try:
                self.ranking_rules()
            except RulesError as exc:
                raise BlueprintError(str(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExamConfig:
        sections = tuple(section_from_dict(s) for s in data["sections"])
        return cls(
            data["code"],
            data.get("title", data["code"]),
            sections,
            data["duration_s"],
            data.get("rules"),
            data.get("points_correct", 5),
        )

    def ranking_rules(self) -> Rules:
        """The full ranking rules (scoring.ranking.Rules) of this exam."""
        extra = dict(self.rules or {})
        extra.pop("sections", None)
        extra.pop("passing_grades", None)
        # By default ties break on the sections from the last to the first: for an SKD
        # (TWK, TIU, TKP) that is CAT BKN's order TKP, TIU, TWK.
        extra.setdefault("tie_break", [s.name for s in reversed(self.sections)])
        return Rules.from_json(
            {
                "sections": [s.name for s in self.sections],
                "passing_grades": {
                    s.name: int(s.passing_grade)
                    for s in self.sections
                    if s.passing_grade is not None
                },
                **extra,
            }
        )


def section_from_dict(data: dict[str, Any]) -> SectionConfig:
    """A SectionConfig from its dict form (as ``asdict`` writes it)."""
    data = dict(data)
    data["content"] = tuple(ContentRule(**r) for r in data.get("content", ()))
    exposure = dict(data.get("exposure", {}))
    exposure["parameters"] = tuple((str(i), float(k)) for i, k in exposure.get("parameters", ()))
    data["exposure"] = ExposureConfig(**exposure)
    data["reference_form"] = tuple(data.get("reference_form", ()))
    data["pilot_items"] = tuple(data.get("pilot_items", ()))
    if data.get("classification") is not None:
        data["classification"] = Classification(**data["classification"])
    try:
        return SectionConfig(**data)
    except TypeError as exc:
        raise BlueprintError(f"section definition: {exc}") from exc
