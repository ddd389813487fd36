"""Log entries as the use cases build them: an event's common fields, and a batch of
entries to append together with the openings of the sealed ones (``proctoring.seal``)."""

from __future__ import annotations

from datetime import datetime

from proctoring import openings, seal


def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def event(kind: str, exam: str, now: datetime, **fields) -> dict:
    """A log entry: type, exam, server time in ms, and the event's fields."""
    return {"type": kind, "exam": exam, "t": ms(now), **fields}


class Events(list):
    """Log entries to append together, with the openings of those that are sealed
    (``proctoring.seal``): pass ``rows`` to ``log.append`` so they are stored with them."""

    def __init__(self, entries=()) -> None:
        super().__init__(entries)
        self.rows: list = []

    def sealed(
        self, kind: str, exam: str, now: datetime, record: dict, inner: dict | None = None,
        **public,
    ) -> None:  # fmt: skip
        """Append an entry that shows ``public`` and commits to ``record``; ``inner`` is
        what narrows an item's key even for the applicant the entry is about (a scored
        outcome, a content hash), sealed apart so that their own openings never show it
        (``proctoring.seal.INNER``)."""
        entry, opening, nested = seal.sealed_entry(event(kind, exam, now, **public), record, inner)
        self.append(entry)
        pseudonym = public.get("pseudonym")
        self.rows.append(openings.row(exam, pseudonym, opening))
        if nested is not None:
            self.rows.append(openings.row(exam, pseudonym, nested, nested=True))
