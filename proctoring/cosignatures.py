"""The log's side of witnessing (the database and HTTP edge): sending each new checkpoint
to the known witnesses, keeping their cosignatures, and serving the checkpoint with them.

As c2sp.org/tlog-witness has it, the log calls the witnesses: for each one it sends the
latest signed checkpoint with a consistency proof from the size that witness last
cosigned (``log_witnesses.cosigned_size``). A 409 tells the true size the witness holds:
the log records it and asks again with a proof from there. A cosignature is checked
(``proctoring.cosign``) before it is kept; a refusal (the witness found the checkpoint
inconsistent with what it cosigned) or an unreachable witness is kept too, and shown to
the public until that witness cosigns again.

``collect`` runs the exchange on callables for the database and for HTTP, so the server's
background task (asynchronous) and the command line share it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from proctoring import checkpoints, cosign, log
from proctoring.cosign import WitnessKey
from proctoring.models import LogCheckpoint, LogCosignature, LogWitness
from proctoring.witness import AddCheckpoint

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: (status, body) of POST <url>/add-checkpoint; raises OSError-like errors when unreachable.
Post = Callable[[str, str], Awaitable[tuple[int, str]]]
Run = Callable[[Callable[[Session], T]], Awaitable[T]]


@dataclass(frozen=True)
class Witness:
    url: str
    key: WitnessKey

    @property
    def ident(self) -> str:
        return str(self.key)


@dataclass(frozen=True)
class _Pending:
    witness: Witness
    size: int
    request: AddCheckpoint


@dataclass
class Outcome:
    """What one witness answered for the checkpoint of ``size``."""

    witness: Witness
    size: int
    status: int | None  # None: unreachable
    detail: str = ""
    line: str | None = None
    witness_size: int | None = None  # from a 409: the size the witness holds


# -- reading and writing the database ---------------------------------------------------------


def _pending(session: Session, witnesses: Sequence[Witness]) -> list[_Pending]:
    """A request per witness that has not cosigned the latest checkpoint yet."""
    latest = checkpoints.latest(session)
    if latest is None:
        return []
    have = {
        w.witness: w.cosigned_size
        for w in session.scalars(
            select(LogWitness).where(LogWitness.witness.in_([w.ident for w in witnesses]))
        )
    }
    out = []
    for witness in witnesses:
        old = have.get(witness.ident, 0)
        if old == latest.size and session.get(LogCosignature, (latest.size, witness.ident)):
            continue
        if old > latest.size:
            old = 0  # a witness ahead of the log: it answers 409 or refuses, both recorded
        proof = log.consistency_proof(session, old, latest.size) if old > 0 else []
        out.append(_Pending(witness, latest.size, AddCheckpoint(old, proof, latest.note)))
    return out


def _record(session: Session, outcomes: Sequence[Outcome], now: datetime) -> None:
    for o in outcomes:
        row = session.get(LogWitness, o.witness.ident)
        if row is None:
            row = LogWitness(witness=o.witness.ident, cosigned_size=0)
            session.add(row)
        if o.line is not None:
            session.merge(
                LogCosignature(size=o.size, witness=o.witness.ident, line=o.line, cosigned_at=now)
            )
            row.cosigned_size, row.problem, row.detail = o.size, None, None
            row.problem_size = row.problem_at = None
            continue
        if o.witness_size is not None:
            row.cosigned_size = o.witness_size
        if o.status == 409:
            continue  # asked again with the right size
        row.problem = "unreachable" if o.status is None else "refused"
        row.detail = o.detail[:2000]
        row.problem_size, row.problem_at = o.size, now


# -- the exchange -----------------------------------------------------------------------------


async def collect(
    witnesses: Sequence[Witness], read: Run, write: Run, post: Post, now: Callable[[], datetime]
) -> list[Outcome]:
    """Send the latest checkpoint to every witness that has not cosigned it and keep what
    they answer; a witness that answers 409 is asked once more, from the size it holds."""
    outcomes: list[Outcome] = []
    todo = list(witnesses)
    for _ in range(2):
        pending = await read(lambda s, todo=todo: _pending(s, todo))
        if not pending:
            break
        answers = [await _submit(p, post) for p in pending]
        await write(lambda s, answers=answers: _record(s, answers, now()))
        outcomes += answers
        todo = [o.witness for o in answers if o.status == 409 and o.witness_size is not None]
        if not todo:
            break
    return outcomes


async def _submit(pending: _Pending, post: Post) -> Outcome:
    witness = pending.witness
    try:
        url = witness.url.rstrip("/") + "/add-checkpoint"
        status, body = await post(url, pending.request.body())
    except Exception as exc:  # any transport failure: the witness could not be asked
        logger.warning("witness %s unreachable: %s", witness.key.name, exc)
        return Outcome(witness, pending.size, None, f"unreachable: {exc}")
    if status == 409:
        size = body.strip()
        known = int(size) if size.isdigit() and len(size) < 20 else None
        return Outcome(witness, pending.size, 409, body.strip(), witness_size=known)
    if status != 200:
        logger.error("witness %s refused the checkpoint: %s %s", witness.key.name, status, body)
        return Outcome(witness, pending.size, status, f"{status}: {body.strip()}")
    try:
        lines = [line for line in body.splitlines() if line]
        note = cosign.with_lines(pending.request.note, lines)
        found = cosign.check(note, [witness.key])
    except cosign.NoteError as exc:
        return Outcome(witness, pending.size, status, f"malformed reply: {exc}")
    if not found.valid or found.invalid:
        return Outcome(witness, pending.size, status, "the reply holds no valid cosignature")
    return Outcome(witness, pending.size, 200, line=found.valid[0].line)


def httpx_post(client: Any) -> Post:
    """``post`` over an ``httpx.AsyncClient``."""

    async def post(url: str, body: str) -> tuple[int, str]:
        reply = await client.post(url, content=body.encode())
        return reply.status_code, reply.text

    return post


# -- what is served ---------------------------------------------------------------------------


def cosigned_note(session: Session, note: str, size: int) -> str:
    """The checkpoint ``note`` of ``size`` with every cosignature kept for it."""
    lines = session.scalars(
        select(LogCosignature.line)
        .where(LogCosignature.size == size)
        .order_by(LogCosignature.witness)
    ).all()
    return cosign.with_lines(note, lines) if lines else note


@dataclass(frozen=True)
class Problem:
    witness: str
    kind: str  # refused | unreachable
    detail: str
    size: int | None
    at: datetime | None


@dataclass(frozen=True)
class WitnessSummary:
    """How many of the known witnesses cosigned the latest checkpoint (public pages)."""

    size: int | None
    known: int
    signed: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checkpoint_size": self.size,
            "known": self.known,
            "cosigned": len(self.signed),
            "witnesses": self.signed,
            "problems": [
                {
                    "witness": p.witness,
                    "kind": p.kind,
                    "detail": p.detail,
                    "checkpoint_size": p.size,
                    "at": p.at.astimezone(UTC).isoformat(timespec="seconds") if p.at else None,
                }
                for p in self.problems
            ],
        }


def summary(session: Session, witnesses: Sequence[WitnessKey]) -> WitnessSummary:
    """The known witnesses that validly cosigned the latest checkpoint, and the standing
    refusals and failures."""
    latest = checkpoints.latest(session)
    if latest is None:
        return WitnessSummary(None, len(witnesses))
    note = cosigned_note(session, latest.note, latest.size)
    signed = [k.name for k in cosign.check(note, witnesses).witnesses]
    idents = {str(k): k.name for k in witnesses}
    rows = session.scalars(select(LogWitness).where(LogWitness.problem.is_not(None))).all()
    problems = [
        Problem(idents[r.witness], r.problem, r.detail or "", r.problem_size, r.problem_at)
        for r in rows
        if r.witness in idents
    ]
    return WitnessSummary(latest.size, len(witnesses), signed, problems)


def best_cosigned(
    session: Session, witnesses: Sequence[WitnessKey], from_size: int
) -> tuple[Any, list[str]] | None:
    """The stored checkpoint of at least ``from_size`` entries with the most valid
    cosignatures of ``witnesses`` (the larger one of equals), and their names; None when
    no such checkpoint has a cosignature."""
    sizes = (
        select(LogCosignature.size)
        .where(LogCosignature.size >= from_size)
        .distinct()
        .order_by(LogCosignature.size.desc())
        .limit(50)
    )
    rows = session.scalars(select(LogCheckpoint).where(LogCheckpoint.size.in_(sizes))).all()
    best = None
    for row in sorted(rows, key=lambda r: -r.size):
        found = cosign.check(cosigned_note(session, row.note, row.size), witnesses)
        names = [k.name for k in found.witnesses]
        if best is None or len(names) > len(best[1]):
            best = (row, names)
    return best
