"""The scores as the audit log states them: a pure read model over parsed log entries.

The log states every score publicly: ``section_finished`` (pseudonym, section, points, θ,
SE, items), ``attempt_finished`` (points per section, total), ``attempt_rescored`` (a
section's new points, θ and SE after an upheld appeal re-keyed an item), and
``applicants_enrolled`` (the pseudonyms with their formation and track). ``fold`` adds
entries to a ``LoggedScores``; since the log only grows, a caller can keep the model and
fold in only the entries appended since the size it last saw. The ``*_differences``
functions compare what the database stores with the model: everything a board, a result
page or a publication shows must have no difference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: The entry types the model reads.
TYPES = ("applicants_enrolled", "section_finished", "attempt_finished", "attempt_rescored")


@dataclass(frozen=True)
class LoggedSection:
    points: int
    theta: str | None = None
    se: str | None = None
    items: int | None = None


@dataclass(frozen=True)
class LoggedAttempt:
    sections: Mapping[str, LoggedSection] = field(default_factory=dict)
    finished: bool = False

    @property
    def points(self) -> dict[str, int]:
        return {name: s.points for name, s in self.sections.items()}


@dataclass(frozen=True)
class Placement:
    formation: str
    track: str


@dataclass(frozen=True)
class LoggedScores:
    """One exam's scores and placements as its log entries below ``size`` state them.
    ``placements`` maps every enrolled pseudonym to its formation and track, or to None
    when its enrollment entry does not state them (entries written before they were)."""

    size: int = 0
    attempts: Mapping[str, LoggedAttempt] = field(default_factory=dict)
    placements: Mapping[str, Placement | None] = field(default_factory=dict)


def fold(scores: LoggedScores, entries: Iterable[Mapping], size: int) -> LoggedScores:
    """``scores`` with ``entries`` (of its exam, in log order, below ``size``) added. The
    model given is not changed: it may be shared with other readers."""
    attempts = dict(scores.attempts)
    placements = dict(scores.placements)
    for e in entries:
        kind = e["type"]
        if kind == "applicants_enrolled":
            pseudonyms = list(e.get("pseudonyms", []))
            formations, tracks = e.get("formations"), e.get("tracks")
            for k, p in enumerate(pseudonyms):
                placements[p] = (
                    Placement(formations[k], tracks[k])
                    if formations is not None and tracks is not None
                    else None
                )
            continue
        p = e["pseudonym"]
        a = attempts.get(p, LoggedAttempt())
        sections = dict(a.sections)
        if kind == "section_finished":
            sections[e["section"]] = LoggedSection(
                int(e["points"]), e.get("theta"), e.get("se"), e.get("items")
            )
        elif kind == "attempt_finished":
            for name, points in (e.get("points") or {}).items():
                old = sections.get(name, LoggedSection(int(points)))
                sections[name] = dataclasses.replace(old, points=int(points))
            a = dataclasses.replace(a, finished=True)
        elif kind == "attempt_rescored":
            old = sections.get(e["section"], LoggedSection(int(e["points"])))
            sections[e["section"]] = dataclasses.replace(
                old, points=int(e["points"]), theta=e.get("theta"), se=e.get("se")
            )
        attempts[p] = dataclasses.replace(a, sections=sections)
    return LoggedScores(max(size, scores.size), attempts, placements)


def result_differences(
    status: str, results: Mapping[str, Mapping] | None, logged: LoggedAttempt | None
) -> list[str]:
    """How an attempt's stored status and ``results`` (section → points, theta, se, items)
    differ from what the log states; empty when they agree."""
    logged = logged or LoggedAttempt()
    stored = dict(results or {})
    out = []
    if (status == "finished") != logged.finished:
        out.append(
            "stored as finished, the log has no attempt_finished"
            if status == "finished"
            else "the log has finished the attempt, the table has not"
        )
    for name in sorted(set(stored) | set(logged.sections)):
        mine, theirs = stored.get(name), logged.sections.get(name)
        if theirs is None:
            out.append(f"{name}: stored, but the log never finished this section")
            continue
        if mine is None:
            out.append(f"{name}: finished in the log, not stored")
            continue
        checks = [("points", theirs.points), ("theta", theirs.theta), ("se", theirs.se)]
        checks.append(("items", theirs.items))
        for key, want in checks:
            if want is not None and mine.get(key) != want:
                out.append(f"{name}: {key} {mine.get(key)} stored, the log states {want}")
    return out


def placement_difference(
    pseudonym: str, formation: str, track: str, scores: LoggedScores
) -> str | None:
    """How an enrollment's stored formation and track differ from the log, or None."""
    if pseudonym not in scores.placements:
        return f"{pseudonym}: the log has no enrollment of this pseudonym"
    logged = scores.placements[pseudonym]
    if logged is None:
        return f"{pseudonym}: the log does not state the formation and track"
    if (formation, track) != (logged.formation, logged.track):
        return (
            f"{pseudonym}: formation {formation!r}, track {track!r} stored; the log states "
            f"formation {logged.formation!r}, track {logged.track!r}"
        )
    return None
