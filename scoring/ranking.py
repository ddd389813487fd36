"""Selection rules and the ranking per formation: a pure function from scores and rules to
a table, the same one the committee's publication and an observer's verification use.

The rules follow the CAT BKN practice for the SKD (Seleksi Kompetensi Dasar) of recent CPNS
rounds (PermenPANRB 27/2021 and its successors; BKN's announcements): a passing grade
("nilai ambang batas") per section — by default TWK 65, TIU 80, TKP 166 — or, for an
applicant on a special track (cum laude, disability, Papuan or other regional tracks), that
track's alternative rule, typically a minimum total and a minimum TIU score. Within a
formation (the position applied for), those who pass are ordered by total and then by the
sections of the tie-break list (TKP, then TIU, then TWK by default); applicants equal on all
of these share a rank (competition ranking: 1, 2, 2, 4). Up to ``quota_multiplier`` ×
vacancies ranks proceed to the next stage, and everyone sharing the last proceeding rank
proceeds too. An optional final score weights stages, e.g. SKD 40 % + SKB 60 %, each scaled
to 100, with its own tie-break list.

Totals are exact: section points are integers, and a weighted final score is computed with
``fractions.Fraction`` and written with two decimals, so every verifier reads the same table.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

DEFAULT_PASSING_GRADES = {"TWK": 65, "TIU": 80, "TKP": 166}
DEFAULT_TIE_BREAK = ("TKP", "TIU", "TWK")


class RulesError(ValueError):
    """Rules that cannot be applied, naming the field."""


@dataclass(frozen=True)
class TrackRule:
    total_min: int | None = None
    min: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Component:
    """One stage of a weighted final score: the sum of ``sections`` out of ``max``."""

    sections: tuple[str, ...]
    max: int
    weight: Fraction


@dataclass(frozen=True)
class Final:
    components: Mapping[str, Component]
    tie_break: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rules:
    sections: tuple[str, ...]
    passing_grades: Mapping[str, int]
    tracks: Mapping[str, TrackRule] = field(default_factory=dict)
    vacancies: Mapping[str, int] = field(default_factory=dict)
    quota_multiplier: int = 3
    tie_break: tuple[str, ...] = DEFAULT_TIE_BREAK
    final: Final | None = None

    @classmethod
    def from_json(cls, data: Mapping) -> Rules:
        """Rules from their JSON form (CONTRACTS.md); RulesError names a wrong field."""
        try:
            sections = tuple(str(s) for s in data["sections"])
            # Without passing grades given, an SKD's sections get CAT BKN's defaults.
            default = {s: g for s, g in DEFAULT_PASSING_GRADES.items() if s in sections}
            grades = {str(k): int(v) for k, v in data.get("passing_grades", default).items()}
            tracks = {
                str(name): TrackRule(
                    None if t.get("total_min") is None else int(t["total_min"]),
                    {str(k): int(v) for k, v in t.get("min", {}).items()},
                )
                for name, t in data.get("tracks", {}).items()
            }
            vacancies = {str(k): int(v) for k, v in data.get("vacancies", {}).items()}
            multiplier = int(data.get("quota_multiplier", 3))
            tie_break = tuple(str(s) for s in data.get("tie_break", DEFAULT_TIE_BREAK))
            final = None
            if data.get("final"):
                f = data["final"]
                final = Final(
                    {
                        str(name): Component(
                            tuple(str(s) for s in c["sections"]),
                            int(c["max"]),
                            Fraction(str(c["weight"])),
                        )
                        for name, c in f["components"].items()
                    },
                    tuple(str(s) for s in f.get("tie_break", ())),
                )
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            raise RulesError(f"rules: {exc.__class__.__name__} {exc}") from None
        rules = cls(sections, grades, tracks, vacancies, multiplier, tie_break, final)
        rules.validate()
        return rules

    def to_json(self) -> dict:
        out: dict = {
            "sections": list(self.sections),
            "passing_grades": dict(self.passing_grades),
            "tracks": {
                n: {"total_min": t.total_min, "min": dict(t.min)} for n, t in self.tracks.items()
            },
            "vacancies": dict(self.vacancies),
            "quota_multiplier": self.quota_multiplier,
            "tie_break": list(self.tie_break),
        }
        if self.final:
            out["final"] = {
                "components": {
                    n: {"sections": list(c.sections), "max": c.max, "weight": str(c.weight)}
                    for n, c in self.final.components.items()
                },
                "tie_break": list(self.final.tie_break),
            }
        return out

    def validate(self) -> None:
        known = set(self.sections)
        if not self.sections or len(known) != len(self.sections):
            raise RulesError("sections: a non-empty list without repeats")
        for where, names in [
            ("passing_grades", self.passing_grades),
            ("tie_break", self.tie_break),
            *((f"tracks.{n}.min", t.min) for n, t in self.tracks.items()),
        ]:
            unknown = sorted(set(names) - known)
            if unknown:
                raise RulesError(f"{where}: unknown sections {', '.join(unknown)}")
        if self.quota_multiplier < 1:
            raise RulesError("quota_multiplier: must be at least 1")
        if any(v < 0 for v in self.vacancies.values()):
            raise RulesError("vacancies: must not be negative")
        if self.final:
            for name, c in self.final.components.items():
                if set(c.sections) - known or c.max <= 0 or c.weight <= 0:
                    raise RulesError(
                        f"final.components.{name}: known sections, max > 0, weight > 0"
                    )
            if sum(c.weight for c in self.final.components.values()) != 1:
                raise RulesError("final.components: the weights must add up to 1")
            if set(self.final.tie_break) - known:
                raise RulesError("final.tie_break: unknown sections")


@dataclass(frozen=True)
class Score:
    person_id: str
    formation: str
    track: str
    points: Mapping[str, int]


@dataclass(frozen=True)
class Ranked:
    person_id: str
    formation: str
    track: str
    points: Mapping[str, int]
    total: str  # exact: an integer, or a final score with two decimals
    passed: bool
    rank: int | None
    proceeds: bool


def passes(score: Score, rules: Rules) -> bool:
    """The section passing grades, or the applicant's track rule instead."""
    total = sum(score.points.get(s, 0) for s in rules.sections)
    rule = rules.tracks.get(score.track) if score.track else None
    if rule is not None:
        return (rule.total_min is None or total >= rule.total_min) and all(
            score.points.get(s, 0) >= m for s, m in rule.min.items()
        )
    return all(score.points.get(s, 0) >= g for s, g in rules.passing_grades.items())


def final_score(score: Score, final: Final) -> Fraction:
    return sum(
        (
            c.weight * Fraction(sum(score.points.get(s, 0) for s in c.sections) * 100, c.max)
            for c in final.components.values()
        ),
        Fraction(0),
    )


def _fmt(x: Fraction) -> str:
    """Two decimals, half up (exact)."""
    cents = (x * 100 + Fraction(1, 2)).__floor__()
    return f"{cents // 100}.{cents % 100:02d}"


def rank(scores: Sequence[Score], rules: Rules) -> list[Ranked]:
    """The ranking table, per formation (formations in name order), deterministic."""
    seen: set[str] = set()
    for s in scores:
        if s.person_id in seen:
            raise RulesError(f"person {s.person_id} appears twice")
        seen.add(s.person_id)
    tie_break = rules.final.tie_break if rules.final else rules.tie_break

    def key(s: Score) -> tuple:
        if rules.final:
            main = final_score(s, rules.final)
        else:
            main = Fraction(sum(s.points.get(x, 0) for x in rules.sections))
        return (main, *(s.points.get(t, 0) for t in tie_break))

    out: list[Ranked] = []
    for formation in sorted({s.formation for s in scores}):
        group = [s for s in scores if s.formation == formation]
        passing = sorted(
            (s for s in group if passes(s, rules)),
            key=lambda s: (tuple(-k for k in key(s)), s.person_id),
        )
        ranks, previous = [], None
        for n, s in enumerate(passing, start=1):
            k = key(s)
            ranks.append(n if k != previous else ranks[-1])
            previous = k
        quota = rules.quota_multiplier * rules.vacancies.get(formation, 0)
        # Everyone sharing the rank of the last place within the quota proceeds too.
        cutoff = ranks[min(quota, len(ranks)) - 1] if quota and ranks else 0
        out += [
            _ranked(s, rules, True, r, r <= cutoff) for s, r in zip(passing, ranks, strict=True)
        ]
        failing = sorted((s for s in group if not passes(s, rules)), key=lambda s: s.person_id)
        out += [_ranked(s, rules, False, None, False) for s in failing]
    return out


def _ranked(s: Score, rules: Rules, passed: bool, rank_: int | None, proceeds: bool) -> Ranked:
    total = (
        _fmt(final_score(s, rules.final))
        if rules.final
        else str(sum(s.points.get(x, 0) for x in rules.sections))
    )
    return Ranked(s.person_id, s.formation, s.track, dict(s.points), total, passed, rank_, proceeds)


# -- files -----------------------------------------------------------------------------------


def ranking_csv(rows: Sequence[Ranked]) -> str:
    """The Ranking CSV of CONTRACTS.md: person_id,formation,total,passed,rank,proceeds."""
    return _csv(rows, [], with_track=False)


def results_table(rows: Sequence[Ranked], sections: Sequence[str]) -> str:
    """The canonical results table (CSV) that a publication hashes: the ranking columns
    plus track and every section's points, in the ranking's order."""
    return _csv(rows, sections, with_track=True)


def _csv(rows: Sequence[Ranked], sections: Sequence[str], with_track: bool) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    track = ["track"] if with_track else []
    w.writerow(["person_id", "formation", *track, *sections, "total", "passed", "rank", "proceeds"])
    for r in rows:
        w.writerow(
            [
                r.person_id,
                r.formation,
                *([r.track] if with_track else []),
                *(r.points.get(s, 0) for s in sections),
                r.total,
                "true" if r.passed else "false",
                "" if r.rank is None else r.rank,
                "true" if r.proceeds else "false",
            ]
        )
    return out.getvalue()


def table_sha256(table: str) -> str:
    return hashlib.sha256(table.encode("utf-8")).hexdigest()


def read_scores_csv(text: str, source: str, sections: Sequence[str]) -> list[Score]:
    """Scores CSV (CONTRACTS.md): person_id,formation,track,<section>,…; RulesError names
    the line and the field of every problem."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise RulesError(f"{source}: not CSV ({exc})") from None
    if not rows:
        raise RulesError(f"{source}:1: empty file")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("person_id", "formation", "track", *sections) if c not in header]
    if missing:
        raise RulesError(f"{source}:1: missing columns {', '.join(missing)}")
    problems, scores = [], []
    for n, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(f"{source}:{n}: {len(cells)} fields, the header has {len(header)}")
            continue
        row = dict(zip(header, (c.strip() for c in cells), strict=True))
        points = {}
        for s in sections:
            if not row[s].lstrip("-").isdigit():
                problems.append(f"{source}:{n}: {s}: {row[s]!r} is not a whole number")
            else:
                points[s] = int(row[s])
        if not row["person_id"]:
            problems.append(f"{source}:{n}: person_id: empty")
        scores.append(Score(row["person_id"], row["formation"], row["track"], points))
    if problems:
        raise RulesError("\n".join(problems))
    return scores


def rules_from_text(text: str, source: str) -> Rules:
    try:
        return Rules.from_json(json.loads(text))
    except json.JSONDecodeError as exc:
        raise RulesError(f"{source}:{exc.lineno}: not JSON ({exc.msg})") from None
    except RulesError as exc:
        raise RulesError(f"{source}: {exc}") from None
