"""Publishing an exam's results, bound to the audit log.

The scores come from the finished attempts, each row checked against what the audit log
states (points per section, formation and track: ``exam.usecases.score_check``); a row that differs
stops the publication. The rules from the exam's committed definition,
and the ranking from the pure function ``scoring.ranking.rank``. Publishing signs a
checkpoint of the log as it stands (the state the results were computed from), then appends
``results_published`` with the canonical table itself (pseudonyms, formation, track, points,
total, outcome, rank), its SHA-256, that checkpoint's size and root, the version and, from the
second version on, who changed; a second checkpoint then covers the publication. Every
version stays: a later one (after an upheld appeal) never replaces the first on the page.
``proctoring.verify`` recomputes the table from the log and the revealed rules.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, Enrollment, Exam, Publication
from exam.cat.blueprint import ExamConfig
from exam.usecases.delivery import DeliveryError
from exam.usecases.events import event
from exam.usecases.integrity import check_exam, exam_log_end
from exam.usecases.score_check import checked_rows
from proctoring import checkpoints, cosignatures, log
from proctoring.cosign import WitnessKey
from proctoring.note import Checkpoint, Signer
from scoring.ranking import Ranked, Score, rank, results_table, table_sha256


@dataclass(frozen=True)
class Computed:
    rows: list[Ranked]
    table: str
    sha256: str
    sections: tuple[str, ...]
    #: pseudonym → how its stored row differs from the audit log; with any, the table is
    #: empty and nothing may be published
    mismatches: dict[str, list[str]] = field(default_factory=dict)


def scores(session: Session, exam: Exam) -> tuple[list[Score], dict[str, list[str]]]:
    """The points of every finished attempt, by pseudonym, with formation and track, each
    row checked against the audit log (points per section, formation, track); and the rows
    that differ from it, which are left out."""
    checked = checked_rows(session, exam, placements=True)
    rows = [
        Score(r.pseudonym, r.formation, r.track, {n: v["points"] for n, v in r.results.items()})
        for r in checked.rows
        if r.status == "finished" and r.pseudonym not in checked.mismatches
    ]
    # An enrollment without an attempt is not ranked; its placement does not count either.
    finished = {r.pseudonym for r in checked.rows if r.status == "finished"}
    finished |= {p for p, a in checked.logged.attempts.items() if a.finished}
    return rows, {p: d for p, d in checked.mismatches.items() if p in finished}


def compute(session: Session, exam: Exam) -> Computed:
    """The ranking as it would be published now; with rows that differ from the log, an
    empty table and the differences instead."""
    rules = ExamConfig.from_dict(exam.definition).ranking_rules()
    rows, mismatches = scores(session, exam)
    if mismatches:
        rows = []
    ranked = rank(rows, rules)
    table = results_table(ranked, rules.sections)
    return Computed(ranked, table, table_sha256(table), rules.sections, mismatches)


def mismatch_reason(mismatches: dict[str, list[str]]) -> str:
    return "the stored rows do not match the audit log: " + "; ".join(
        f"{p}: {', '.join(d)}" for p, d in sorted(mismatches.items())
    )


def changes(before: str, after: str) -> list[dict]:
    """Who changed between two versions of a table: pseudonym, and what (points, total,
    passed, rank, proceeds) was and is."""

    def by_person(table: str) -> dict[str, dict]:
        return {row["person_id"]: row for row in csv.DictReader(io.StringIO(table))}

    old, new = by_person(before), by_person(after)
    out = []
    for person in sorted(set(old) | set(new)):
        a, b = old.get(person), new.get(person)
        if a != b:
            out.append({"pseudonym": person, "before": a, "after": b})
    return out


def publish(
    session: Session,
    exam: Exam,
    by: int,
    now: datetime,
    signer: Signer,
    witnesses: Sequence[WitnessKey] = (),
    min_witnesses: int = 0,
) -> Publication:
    """Publish (a new version of) the results of a closed exam. When the exam (or, for an
    exam without its own number, ``min_witnesses``) asks for K witness cosignatures, the
    results are bound to a checkpoint that covers the exam's whole log and carries K valid
    cosignatures of ``witnesses``; without one, nothing is published."""
    if exam.status != "closed":
        raise DeliveryError(f"exam {exam.code} is {exam.status}: close it before publishing")
    # The whole exam replays from its log before anything is published: a row changed in
    # the database behind the application's back stops the publication here.
    problems = check_exam(session, exam)
    if problems:
        shown = "; ".join(problems[:5]) + (
            f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        )
        raise DeliveryError(f"the results do not follow from the audit log: {shown}")
    computed = compute(session, exam)
    if computed.mismatches:
        raise DeliveryError(mismatch_reason(computed.mismatches))
    previous = session.scalar(
        select(Publication)
        .where(Publication.exam_id == exam.id)
        .order_by(Publication.version.desc())
        .limit(1)
    )
    if previous is not None and previous.table_sha256 == computed.sha256:
        raise DeliveryError(f"the results of {exam.code} are already published as they stand")
    required = exam.min_witnesses if exam.min_witnesses is not None else min_witnesses
    if required:
        note = _witnessed_checkpoint(session, exam, witnesses, required)
    else:
        note = checkpoints.sign(session, signer, signer.name, "results")
    cp = Checkpoint.parse_text(note.split("\n\n")[0] + "\n")
    version = (previous.version + 1) if previous else 1
    fields = {
        "by": by,
        "version": version,
        "table": computed.table,
        "table_sha256": computed.sha256,
        "checkpoint_size": cp.size,
        "checkpoint_root": base64.b64encode(cp.root).decode(),
    }
    if previous is not None:
        fields["changes"] = changes(previous.table_csv, computed.table)
        fields["supersedes"] = previous.log_index
    publication = Publication(
        exam_id=exam.id,
        version=version,
        table_csv=computed.table,
        table_sha256=computed.sha256,
        checkpoint_size=cp.size,
        checkpoint_root=fields["checkpoint_root"],
        log_index=-1,
        published_at=now,
    )
    session.add(publication)
    log.record(
        session,
        [event("results_published", exam.code, now, **fields)],
        then=log.index_into(publication),
    )
    # The checkpoint that proves the publication covers its entry (``sign`` appends it).
    checkpoints.sign(session, signer, signer.name, "results_published")
    return publication


def _witnessed_checkpoint(
    session: Session, exam: Exam, witnesses: Sequence[WitnessKey], required: int
) -> str:
    """The note of a stored checkpoint covering the exam's whole log with ``required``
    valid cosignatures of the known witnesses; DeliveryError saying what is missing."""
    end = exam_log_end(session, exam.code)
    found = cosignatures.best_cosigned(session, witnesses, end)
    names = found[1] if found else []
    if len(names) >= required:
        return found[0].note
    if required > len(witnesses):
        raise DeliveryError(
            f"the results of {exam.code} need {required} witness cosignatures, but the server "
            f"knows only {len(witnesses)} witnesses (SELEKSI_WITNESSES)"
        )
    have = ", ".join(names) if names else "none"
    raise DeliveryError(
        f"the results of {exam.code} need {required} witness cosignatures on a checkpoint "
        f"covering the exam's log ({end} entries); the best one has {len(names)} of "
        f"{len(witnesses)} known witnesses ({have}). Nothing was published: ask the "
        "witnesses to cosign (seleksi log cosign) and publish again"
    )


def publications(session: Session, exam: Exam) -> list[Publication]:
    return list(
        session.scalars(
            select(Publication).where(Publication.exam_id == exam.id).order_by(Publication.version)
        )
    )


def count_absent(session: Session, exam: Exam) -> int:
    """Enrolled applicants without a finished attempt (they are not ranked)."""
    finished = (
        select(Attempt.enrollment_id)
        .where(Attempt.exam_id == exam.id, Attempt.status == "finished")
        .scalar_subquery()
    )
    return session.scalar(
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.exam_id == exam.id, Enrollment.id.not_in(finished))
    )
