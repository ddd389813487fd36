"""The live ranking observers watch, in the style of CAT BKN's live score: one row per
applicant (pseudonym), section points, total, pass or fail against each section's passing
grade, status and the number of proctoring flags. A pure function of plain rows.

Order: applicants who meet every passing grade first, then by total, then by the
sections in reverse order of the exam (TKP, TIU, TWK for an SKD: the tie-break CAT BKN
uses), then by pseudonym so the order is total. A row whose stored points differ from what
the audit log states is never shown: it carries no points and no rank, only ``mismatch``,
and comes last. This is a live view only: the published ranking per formation, with quotas
and track rules, is the results module's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

STATUSES = ("not_started", "active", "finished")


@dataclass(frozen=True)
class LiveRow:
    pseudonym: str
    status: str
    points: Mapping[str, int]
    total: int
    passed: Mapping[str, bool | None]
    passed_all: bool
    flags: int
    rank: int | None = None
    #: the stored row differs from the audit log: its points are withheld
    mismatch: bool = False


def live_ranking(
    attempts: Sequence[tuple[str, str, Mapping[str, int]]],
    passing_grades: Mapping[str, float | None],
    flags: Mapping[str, int] | None = None,
    mismatched: Collection[str] = (),
) -> list[LiveRow]:
    """Rows for (pseudonym, status, points per section) triples; ``passing_grades`` in
    section order. Finished applicants are ranked (1, 2, 2, 4 on equal keys); those in
    ``mismatched`` are shown without points or rank."""
    sections = list(passing_grades)
    flags = flags or {}
    rows = []
    for pseudonym, status, points in attempts:
        if pseudonym in mismatched:
            none: dict[str, bool | None] = dict.fromkeys(sections)
            row = LiveRow(pseudonym, status, {}, 0, none, False, flags.get(pseudonym, 0))
            rows.append(dataclasses.replace(row, mismatch=True))
            continue
        passed = {
            s: None
            if passing_grades[s] is None or s not in points
            else points[s] >= passing_grades[s]
            for s in sections
        }
        passed_all = status == "finished" and all(v is not False for v in passed.values())
        rows.append(
            LiveRow(
                pseudonym,
                status,
                dict(points),
                sum(points.values()),
                passed,
                passed_all,
                flags.get(pseudonym, 0),
            )
        )

    def key(r: LiveRow):
        return (
            r.mismatch,
            r.status != "finished",
            not r.passed_all,
            -r.total,
            *(-r.points.get(s, 0) for s in reversed(sections)),
        )

    rows.sort(key=lambda r: (*key(r), r.pseudonym))
    ranked, previous, rank = [], None, 0
    for n, row in enumerate(rows, start=1):
        if row.status != "finished" or row.mismatch:
            ranked.append(row)
            continue
        if key(row) != previous:
            rank, previous = n, key(row)
        ranked.append(dataclasses.replace(row, rank=rank))
    return ranked
