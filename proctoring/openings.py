"""The openings of sealed log entries (``proctoring.seal``), kept by the server: stored in
the append that logs their entries, and released by the rules below.

Who may read the openings of an exam's entries:
- the committee, always;
- an applicant, those of their own attempt (their receipt);
- logged-in observers, all of them once the exam has closed;
- everyone, once the committee has retired every item the exam could serve (and while
  they stay retired).

While an item can still be served, nothing readable without committee rights opens an
entry about it; that is what keeps the public log from helping anyone answer an item.

An applicant's own openings are the outer ones only: the inner part of a record (an
answer's scored outcome, an item's content hash; ``proctoring.seal.INNER``) is stored as a
*nested* opening, released with all of an exam's openings and never with one applicant's.
Otherwise an applicant could change a fixed-section answer, read its outcome in their own
openings, and so find the key of an item still being served.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from proctoring.canonical import canonical
from proctoring.models import LogOpening
from proctoring.seal import Opening

OPENINGS: Table = LogOpening.__table__


def row(
    exam: str, pseudonym: str | None, opening: Opening, nested: bool = False
) -> tuple[Table, dict[str, Any]]:
    """An opening as a row for ``log.append``'s ``indexed_rows``; ``nested`` for the
    opening of an entry's inner part."""
    values = {
        "sealed": opening.sealed,
        "exam": exam,
        "pseudonym": pseudonym,
        "salt": opening.salt,
        "record": canonical(opening.record),
        "nested": nested,
    }
    return OPENINGS, values


def of_exam(session: Session, exam: str, pseudonym: str | None = None) -> list[Opening]:
    """The openings of an exam's sealed entries, nested ones included; with ``pseudonym``,
    the outer openings of that applicant's entries only (their receipt)."""
    query = select(LogOpening.sealed, LogOpening.salt, LogOpening.record).where(
        LogOpening.exam == exam
    )
    if pseudonym is not None:
        query = query.where(LogOpening.pseudonym == pseudonym, LogOpening.nested.is_(False))
    return [
        Opening(sealed, salt, json.loads(record))
        for sealed, salt, record in session.execute(query.order_by(LogOpening.sealed))
    ]


def may_read_all(role: str | None, exam_status: str, items_retired: bool) -> bool:
    """Whether a reader with ``role`` (None: anonymous) may read all of an exam's openings."""
    if role == "committee" or items_retired:
        return True
    return role == "observer" and exam_status == "closed"
