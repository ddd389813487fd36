"""An applicant's receipt: for every answer, its log index and an offline-verifiable proof
that it is in the log (a c2sp.org/tlog-proof with the entry's own bytes as its ``extra``).

The proofs are against the first stored checkpoint that covers the attempt's last entry;
when the periodic one has not come yet, one is signed now, so a receipt never waits.

An answer's entry is sealed (``proctoring.seal``): each line carries its opening too (the
salt and the record: item, choice, response time), so the applicant, and only they, can
check that the commitment in the public log is their answer. The scored category is
sealed apart inside the record and is not on the receipt: in a fixed section an answer can
be changed, and reading the outcome of each choice in turn would find the key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, Enrollment, Response
from proctoring import checkpoints, log, openings
from proctoring.models import LogEntry
from proctoring.note import Signer, format_proof


@dataclass(frozen=True)
class ReceiptLine:
    step: int
    section: str
    item_id: str
    log_index: int
    proof: str  # c2sp.org/tlog-proof@v1 text
    opening: dict | None = None  # what the entry's commitment seals


@dataclass(frozen=True)
class Receipt:
    checkpoint: str
    size: int
    lines: list[ReceiptLine]


def receipt(session: Session, attempt: Attempt, signer: Signer, origin: str) -> Receipt:
    """The receipt of ``attempt``; may sign a checkpoint (the caller commits)."""
    responses = list(
        session.scalars(
            select(Response).where(Response.attempt_id == attempt.id).order_by(Response.step)
        )
    )
    needed = max((r.log_index for r in responses), default=-1) + 1
    covering = checkpoints.at_least(session, max(needed, 1))
    note = covering.note if covering else checkpoints.sign(session, signer, origin, "receipt")
    size = covering.size if covering else log.size(session)
    texts = {e.index: e.entry for e in _entries(session, [r.log_index for r in responses])}
    pseudonym = session.get(Enrollment, attempt.enrollment_id).pseudonym
    exam = json.loads(texts[responses[0].log_index])["exam"] if responses else ""
    own = {o.sealed: o.to_dict() for o in openings.of_exam(session, exam, pseudonym)}
    lines = [
        ReceiptLine(
            r.step,
            r.section,
            r.item_id,
            r.log_index,
            format_proof(
                r.log_index,
                log.inclusion_proof(session, r.log_index, size),
                note,
                extra=texts[r.log_index].encode(),
            ),
            own.get(json.loads(texts[r.log_index]).get("sealed")),
        )
        for r in responses
    ]
    return Receipt(note, size, lines)


def _entries(session: Session, indices: list[int]):
    if not indices:
        return []
    return session.scalars(select(LogEntry).where(LogEntry.index.in_(indices)))


def verification_code(r: Receipt) -> str:
    """A short code to read out or compare: the checkpoint's root, first 12 base64 chars."""
    return r.checkpoint.split("\n")[2][:12]
