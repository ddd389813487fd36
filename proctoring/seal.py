"""Sealed log entries: salted commitments that keep the public log from helping anyone
answer an item, and the openings that let an entitled verifier replay everything.

The public log must stay checkable by anyone while the items it speaks of can still be
served, yet an answer's choice, its scored outcome, or even which item was served at a step
(in an adaptive section the next item tells whether the last answer was right) narrows an
item's key. So such an entry shows only what is harmless (its type, exam, time, pseudonym,
section and step) and a commitment to the rest, its *record*::

    sealed = SHA-256("seleksi/seal/v1\\n" ‖ salt ‖ canonical JSON of the record)

with a fresh 16-byte random salt per entry (Halevi and Micali 1996: a hash commitment is
hiding when the committed value carries enough fresh randomness; 128 bits of salt make
guessing the few possible records useless). The *opening* of an entry is its salt and
record. The server keeps every opening; whoever is given them (an applicant their own, the
observers all of an exam once it closes, everyone once its items are retired) checks each
against the logged commitment and then sees the entry as if the record were in it, so the
replay of every attempt is the same as for an unsealed log.

A record may hold an *inner* sealed part: what narrows an item's key even for the applicant
who answered it (an answer's scored outcome, an item's content hash). It is sealed on its
own, with its own fresh salt, and the outer record carries its commitment (``INNER``). The
applicant's receipt opens the outer record only: in a fixed section an answer can be
changed, and an applicant who could read the outcome of each choice in turn would find the
key while the exam runs. Whoever holds both openings sees the whole record.

Pure functions of plain values: no clock except the salt's randomness, no database.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from proctoring.canonical import canonical

_DOMAIN = b"seleksi/seal/v1\n"
SALT_BYTES = 16
#: The mark ``open_entries`` leaves on an entry it opened entirely (its inner part too).
OPENED = "_opened"
#: The field of an outer record that holds the commitment to its inner part.
INNER = "inner"
#: What an openings file says it is (``bundle``).
FORMAT = "seleksi-openings/v1"


def commitment(salt: bytes, record: dict[str, Any]) -> str:
    """The commitment to ``record`` under ``salt``, hex."""
    return hashlib.sha256(_DOMAIN + salt + canonical(record).encode()).hexdigest()


@dataclass(frozen=True)
class Opening:
    """A sealed entry's commitment with what opens it."""

    sealed: str
    salt: str  # hex
    record: dict[str, Any]

    def holds(self) -> bool:
        """Whether the salt and record give the commitment."""
        try:
            return commitment(bytes.fromhex(self.salt), self.record) == self.sealed
        except (ValueError, TypeError):
            return False

    def to_dict(self) -> dict[str, Any]:
        return {"sealed": self.sealed, "salt": self.salt, "record": self.record}


def seal(record: dict[str, Any]) -> Opening:
    """Seal ``record`` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    return Opening(commitment(salt, record), salt.hex(), record)


def sealed_entry(
    public: dict[str, Any], record: dict[str, Any], inner: dict[str, Any] | None = None
) -> tuple[dict, Opening, Opening | None]:
    """A log entry that shows ``public`` and commits to ``record``, with its opening; with
    ``inner``, the record also carries the commitment to ``inner``, sealed apart, whose
    opening comes third (None without ``inner``)."""
    nested = None if inner is None else seal(inner)
    if nested is not None:
        if INNER in record:
            raise ValueError(f"a record with an inner part has no field {INNER!r} of its own")
        record = {**record, INNER: nested.sealed}
    opening = seal(record)
    return {**public, "sealed": opening.sealed}, opening, nested


@dataclass
class Opened:
    """How many sealed entries there were, how many opened, and what did not hold; of the
    opened ones, how many had an inner part (``inner``) and how many of those opened too."""

    sealed: int = 0
    opened: int = 0
    inner: int = 0
    inner_opened: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.opened == self.sealed and self.inner_opened == self.inner and not self.problems


def open_entries(entries: list[dict], openings: Iterable[Opening]) -> Opened:
    """Merge each opening's record into the entry that carries its commitment (in place);
    when the record carries an inner commitment (``INNER``) and its opening is given,
    merge that record too. Mark an entry with ``OPENED`` once all it commits to is merged.

    An opening whose salt and record do not give its commitment, or whose record would
    overwrite a field already there, is a problem; an entry, or its inner part, may stay
    sealed (not every verifier holds every opening: an applicant holds only the outer
    openings of their own entries)."""
    result = Opened()
    by_sealed: dict[str, Opening] = {}
    for opening in openings:
        if not opening.holds():
            result.problems.append(f"an opening does not give its commitment {opening.sealed}")
            continue
        by_sealed[opening.sealed] = opening
    for entry in entries:
        sealed = entry.get("sealed")
        if not isinstance(sealed, str):
            continue
        result.sealed += 1
        opening = by_sealed.get(sealed)
        if opening is None:
            continue
        clash = sorted(set(opening.record) & set(entry))
        if clash:
            result.problems.append(
                f"entry {entry.get('_index', '?')}: its opening would overwrite {', '.join(clash)}"
            )
            continue
        entry.update(opening.record)
        result.opened += 1
        if INNER not in opening.record:
            entry[OPENED] = True
            continue
        result.inner += 1
        nested = opening.record[INNER]
        inner = by_sealed.get(nested) if isinstance(nested, str) else None
        if inner is None:
            continue
        clash = sorted(set(inner.record) & set(entry))
        if clash:
            result.problems.append(
                f"entry {entry.get('_index', '?')}: its inner opening would overwrite "
                f"{', '.join(clash)}"
            )
            continue
        entry.update(inner.record)
        entry[OPENED] = True
        result.inner_opened += 1
    return result


def bundle(exam: str, openings: Iterable[Opening]) -> str:
    """An openings file: JSON ``{"format", "exam", "openings": [{sealed, salt, record}]}``."""
    return json.dumps(
        {"format": FORMAT, "exam": exam, "openings": [o.to_dict() for o in openings]},
        ensure_ascii=False,
        separators=(",", ":"),
    )


class OpeningsError(ValueError):
    """An openings file that cannot be read; the message names the place."""


def parse_bundle(text: str, source: str = "openings") -> tuple[str, list[Opening]]:
    """(exam, openings) from an openings file; raises OpeningsError naming what is wrong."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise OpeningsError(f"{source}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise OpeningsError(f"{source}: not a {FORMAT} file")
    exam, rows = data.get("exam"), data.get("openings")
    if not isinstance(exam, str) or not isinstance(rows, list):
        raise OpeningsError(f"{source}: needs the fields exam (text) and openings (a list)")
    openings = []
    for i, row in enumerate(rows):
        where = f"{source}: openings[{i}]"
        if not isinstance(row, dict):
            raise OpeningsError(f"{where}: not an object")
        sealed, salt, record = row.get("sealed"), row.get("salt"), row.get("record")
        if not (isinstance(sealed, str) and isinstance(salt, str) and isinstance(record, dict)):
            raise OpeningsError(f"{where}: needs sealed and salt (text) and record (an object)")
        openings.append(Opening(sealed, salt, record))
    return exam, openings
