"""The exam builder's form: an ``ExamConfig`` and its window from flat form fields, and back.

Pure functions, so the committee's page and its tests share one reading of the form. Every
problem names its field (``s2_max_items``, ``opens_at`` …) and the page shows it beside
that field; nothing is saved while there is one.

Fields: ``code``, ``title``, ``duration_minutes``, ``points_correct`` (points for a correct
TWK/TIU-style answer; empty keeps the draft's, or the default a new exam gets),
``opens_at`` and ``closes_at`` (local
time, ``YYYY-MM-DDTHH:MM`` as an HTML ``datetime-local`` input sends it), and per section
``i`` (1-based, up to ``sections``): ``s{i}_name``, ``s{i}_domain``, ``s{i}_kind``,
``s{i}_min_items``, ``s{i}_max_items``, ``s{i}_se_target``, ``s{i}_passing_grade``,
``s{i}_time_limit_minutes``, ``s{i}_exposure``, ``s{i}_topics`` (one ``topic min max``
per line), and ``s{i}_prior_mean``, ``s{i}_prior_sd`` (the ability prior of the section's
estimates, N(0, 1) when empty; after a Rasch calibration, its ``ability_mean`` and
``ability_sd``, as ``seleksi bank params`` prints them). A section whose name is empty
is left out. The selection rules: ``vacancies`` (one ``formation name  count`` per line,
the count last), ``quota_multiplier``, ``tie_break`` (section names in order) and
``tracks`` (one ``track total_min SECTION:min …`` per line, ``-`` for no minimum total);
an optional weighted final score: ``final`` (one ``stage SECTION+SECTION max percent`` per
line, e.g. ``SKD TWK+TIU+TKP 550 40``) and ``final_tie_break``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from fractions import Fraction

from exam.cat.blueprint import (
    EXPOSURE_METHODS,
    MAX_POINTS_CORRECT,
    SECTION_KINDS,
    BlueprintError,
    ContentRule,
    ExamConfig,
    ExposureConfig,
    SectionConfig,
)

MAX_SECTIONS = 8
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
_LOCAL_TIME = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class ExamForm:
    """A valid form: the definition and the window (aware datetimes, or None)."""

    config: ExamConfig
    opens_at: datetime | None
    closes_at: datetime | None


class FormError(ValueError):
    """Field name → message, for every field that is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def section_count(form: dict[str, str]) -> int:
    """How many section fieldsets the form has (at least one, at most MAX_SECTIONS)."""
    try:
        n = int(form.get("sections", "1"))
    except ValueError:
        n = 1
    return min(max(n, 1), MAX_SECTIONS)


def _int(form: dict, key: str, errors: dict, low: int, high: int, default=None) -> int | None:
    raw = form.get(key, "").strip()
    if not raw:
        if default is None:
            errors[key] = "required"
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        errors[key] = f"{raw!r} is not a whole number from {low} to {high}"
        return default
    return int(raw)


def _float(form: dict, key: str, errors: dict, low: float, high: float) -> float | None:
    raw = form.get(key, "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        errors[key] = f"{raw!r} is not a number from {low:g} to {high:g}"
        return None
    return value


def _prior(form: dict, p: str, section: str, errors: dict) -> tuple[float, float]:
    """The section's ability prior N(mean, sd²): finite, |mean| ≤ 10, 0 < sd ≤ 10; empty
    fields give N(0, 1). A Rasch calibration's ``ability_mean``/``ability_sd`` go here."""
    out = []
    for key, label, default, ok, rule in (
        (p + "prior_mean", "prior mean", 0.0, lambda v: -10 <= v <= 10, "from -10 to 10"),
        (p + "prior_sd", "prior SD", 1.0, lambda v: 0 < v <= 10, "greater than 0, at most 10"),
    ):
        raw = form.get(key, "").strip().replace(",", ".")
        try:
            value = float(raw) if raw else default
        except ValueError:
            value = float("nan")
        if not (math.isfinite(value) and ok(value)):
            errors[key] = f"section {section}: {label} {raw[:20]!r} is not a number {rule}"
            value = default
        out.append(value)
    return out[0], out[1]


def _time(form: dict, key: str, errors: dict, tz: tzinfo) -> datetime | None:
    raw = form.get(key, "").strip()
    if not raw:
        return None
    try:
        return datetime.strptime(raw[:16], _LOCAL_TIME).replace(tzinfo=tz)
    except ValueError:
        errors[key] = f"{raw!r} is not a date and time (YYYY-MM-DDTHH:MM)"
        return None


def _topics(raw: str, key: str, errors: dict) -> tuple[ContentRule, ...]:
    rules = []
    for n, line in enumerate(raw.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts[1:]):
            errors[key] = f"line {n}: {line.strip()!r} is not 'topic min max'"
            return ()
        rules.append(ContentRule(parts[0], int(parts[1]), int(parts[2])))
    return tuple(rules)


def _section(
    form: dict, i: int, domains: set[str], errors: dict, previous: dict[str, SectionConfig]
) -> SectionConfig | None:
    p = f"s{i}_"
    name = form.get(p + "name", "").strip()
    if not name:
        return None
    before = dict(errors)
    domain = form.get(p + "domain", "").strip()
    if domain not in domains:
        errors[p + "domain"] = (
            f"{domain!r} is not a domain of the bank ({', '.join(sorted(domains))})"
        )
    kind = form.get(p + "kind", "adaptive")
    if kind not in SECTION_KINDS:
        errors[p + "kind"] = "choose adaptive or fixed"
    max_items = _int(form, p + "max_items", errors, 1, 500)
    min_items = _int(form, p + "min_items", errors, 1, 500, default=max_items or 1)
    if kind == "fixed":
        min_items = max_items
    se_target = _float(form, p + "se_target", errors, 0.05, 2.0)
    passing = _float(form, p + "passing_grade", errors, 0, 10_000)
    limit = _int(form, p + "time_limit_minutes", errors, 1, 600, default=0)
    method = form.get(p + "exposure", "sympson-hetter")
    if method not in EXPOSURE_METHODS:
        errors[p + "exposure"] = f"choose one of {', '.join(EXPOSURE_METHODS)}"
    topics = _topics(form.get(p + "topics", ""), p + "topics", errors)
    prior_mean, prior_sd = _prior(form, p, name, errors)
    if errors != before or max_items is None:
        return None
    # Settings the form does not show (randomesque k, pilots, classification) are kept
    # from the section of the same name when a draft is edited.
    base = previous.get(name) or SectionConfig(name=name, domain=domain)
    section = dataclasses.replace(
        base,
        name=name,
        domain=domain,
        kind=kind,
        min_items=min_items,
        max_items=max_items,
        se_target=se_target if kind == "adaptive" else None,
        time_limit_s=limit * 60 if limit else None,
        content=topics,
        exposure=base.exposure if base.exposure.method == method else ExposureConfig(method=method),
        passing_grade=passing,
        prior_mean=prior_mean,
        prior_sd=prior_sd,
    )
    try:
        section.validate()
    except BlueprintError as exc:
        errors[p + "name"] = str(exc)
        return None
    return section


def read_exam_form(
    form: dict[str, str],
    domains: set[str],
    tz: tzinfo,
    previous: ExamConfig | None = None,
    *,
    points_default: int,
) -> ExamForm:
    """The exam the form describes; raises FormError naming every wrong field.
    ``previous`` is the draft being edited; ``points_default`` is the points for a correct
    answer a new exam gets when the field is empty (the settings' ``points_correct``)."""
    errors: dict[str, str] = {}
    before = {s.name: s for s in previous.sections} if previous else {}
    code = form.get("code", "").strip().upper()
    if not _CODE.match(code):
        errors["code"] = "2–32 capital letters, digits, '-' or '_'"
    title = form.get("title", "").strip()
    if not title:
        errors["title"] = "required"
    duration = _int(form, "duration_minutes", errors, 1, 600)
    points = _int(
        form,
        "points_correct",
        errors,
        1,
        MAX_POINTS_CORRECT,
        default=previous.points_correct if previous else points_default,
    )
    opens_at = _time(form, "opens_at", errors, tz)
    closes_at = _time(form, "closes_at", errors, tz)
    if opens_at and closes_at and closes_at <= opens_at:
        errors["closes_at"] = "the exam must close after it opens"
    sections = [
        s
        for i in range(1, section_count(form) + 1)
        if (s := _section(form, i, domains, errors, before)) is not None
    ]
    names = [s.name for s in sections]
    if not sections and not errors:
        errors["s1_name"] = "an exam needs at least one section"
    elif len(set(names)) != len(names):
        errors["s1_name"] = "section names must be unique"
    rules = _rules(form, [s.name for s in sections], errors)
    if errors:
        raise FormError(errors)
    config = ExamConfig(code, title, tuple(sections), duration * 60, rules, points)
    try:
        config.validate()
    except BlueprintError as exc:
        raise FormError({"tie_break": str(exc)}) from None
    return ExamForm(config, opens_at, closes_at)


def _rules(form: dict, names: list[str], errors: dict) -> dict:
    rules: dict = {}
    vacancies = {}
    for n, line in enumerate(form.get("vacancies", "").splitlines(), start=1):
        if not line.strip():
            continue
        name, _, count = line.strip().rpartition(" ")
        if not name.strip() or not count.isdigit():
            errors["vacancies"] = f"line {n}: {line.strip()!r} is not 'formation count'"
            break
        vacancies[name.strip()] = int(count)
    rules["vacancies"] = vacancies
    rules["quota_multiplier"] = _int(form, "quota_multiplier", errors, 1, 100, default=3)
    order = form.get("tie_break", "").replace(",", " ").split()
    if order:
        unknown = [x for x in order if x not in names]
        if unknown:
            errors["tie_break"] = f"unknown sections {', '.join(unknown)}"
        rules["tie_break"] = order
    tracks = {}
    for n, line in enumerate(form.get("tracks", "").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        mins = {}
        ok = len(parts) >= 2 and (parts[1] == "-" or parts[1].isdigit())
        for p in parts[2:]:
            section, _, value = p.partition(":")
            ok = ok and section in names and value.isdigit()
            if ok:
                mins[section] = int(value)
        if not ok:
            errors["tracks"] = f"line {n}: {line.strip()!r} is not 'track total_min SECTION:min …'"
            break
        tracks[parts[0]] = {"total_min": None if parts[1] == "-" else int(parts[1]), "min": mins}
    rules["tracks"] = tracks
    components = {}
    for n, line in enumerate(form.get("final", "").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        ok = len(parts) == 4 and parts[2].isdigit() and parts[3].isdigit()
        sections = parts[1].split("+") if ok else []
        if not ok or any(x not in names for x in sections):
            errors["final"] = (
                f"line {n}: {line.strip()!r} is not 'stage SECTION+SECTION max percent'"
            )
            break
        components[parts[0]] = {
            "sections": sections,
            "max": int(parts[2]),
            "weight": str(Fraction(int(parts[3]), 100)),
        }
    if components:
        if sum(Fraction(c["weight"]) for c in components.values()) != 1:
            errors["final"] = "the percentages must add up to 100"
        order = form.get("final_tie_break", "").replace(",", " ").split()
        if any(x not in names for x in order):
            errors["final_tie_break"] = "unknown sections"
        rules["final"] = {"components": components, "tie_break": order}
    return rules


def exam_form_fields(
    config: ExamConfig, opens_at: datetime | None, closes_at: datetime | None, tz: tzinfo
) -> dict[str, str]:
    """The form fields that ``read_exam_form`` reads back as ``config`` (for editing)."""
    fields = {
        "code": config.code,
        "title": config.title,
        "duration_minutes": str(config.duration_s // 60),
        "points_correct": str(config.points_correct),
        "opens_at": opens_at.astimezone(tz).strftime(_LOCAL_TIME) if opens_at else "",
        "closes_at": closes_at.astimezone(tz).strftime(_LOCAL_TIME) if closes_at else "",
        "sections": str(len(config.sections)),
    }
    rules = config.rules or {}
    fields |= {
        "vacancies": "\n".join(f"{k} {v}" for k, v in rules.get("vacancies", {}).items()),
        "quota_multiplier": str(rules.get("quota_multiplier", 3)),
        "tie_break": " ".join(rules.get("tie_break", [])),
        "tracks": "\n".join(
            " ".join(
                [
                    name,
                    "-" if t.get("total_min") is None else str(t["total_min"]),
                    *(f"{s}:{m}" for s, m in t.get("min", {}).items()),
                ]
            )
            for name, t in rules.get("tracks", {}).items()
        ),
        "final": "\n".join(
            f"{name} {'+'.join(c['sections'])} {c['max']} {int(Fraction(c['weight']) * 100)}"
            for name, c in (rules.get("final") or {}).get("components", {}).items()
        ),
        "final_tie_break": " ".join((rules.get("final") or {}).get("tie_break", [])),
    }
    for i, s in enumerate(config.sections, start=1):
        p = f"s{i}_"
        fields |= {
            p + "name": s.name,
            p + "domain": s.domain,
            p + "kind": s.kind,
            p + "min_items": str(s.min_items),
            p + "max_items": str(s.max_items),
            p + "se_target": "" if s.se_target is None else f"{s.se_target:g}",
            p + "passing_grade": "" if s.passing_grade is None else f"{s.passing_grade:g}",
            p + "time_limit_minutes": str(s.time_limit_s // 60) if s.time_limit_s else "",
            p + "exposure": s.exposure.method,
            p + "topics": "\n".join(f"{r.topic} {r.min} {r.max}" for r in s.content),
            p + "prior_mean": f"{s.prior_mean:g}",
            p + "prior_sd": f"{s.prior_sd:g}",
        }
    return fields
