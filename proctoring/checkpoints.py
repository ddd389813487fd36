"""Signing checkpoints of the audit log and keeping them (the database edge).

A checkpoint is signed when the log has grown (at most every 10 s while it grows, by the
app's background task) and always at exam open, exam close and results publication. Each
is stored, so an observer can ask for a consistency proof between any two.

A signer whose key lives in a file (``signer_guard.GuardedSigner``, as the app loads it)
signs only a tree consistent with the last checkpoint it signed, which it keeps outside
the database; otherwise it raises ``SignerRefusedError`` and keeps an alarm (see
``proctoring/signer_guard.py``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from proctoring import log, signer_guard
from proctoring.models import LogCheckpoint
from proctoring.note import Checkpoint, NoteError, Signer, open_checkpoint
from proctoring.signer_guard import GuardedSigner, Remembered, SignerRefusedError

logger = logging.getLogger(__name__)
_AFTER_COMMIT = "seleksi.signer_after_commit"

__all__ = ["SignerRefusedError", "append_alarm", "at_least", "latest", "sign"]


def latest(session: Session) -> LogCheckpoint | None:
    return session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1))


def at_least(session: Session, size: int) -> LogCheckpoint | None:
    """The first stored checkpoint covering ``size`` entries."""
    return session.scalar(
        select(LogCheckpoint)
        .where(LogCheckpoint.size >= size)
        .order_by(LogCheckpoint.size)
        .limit(1)
    )


def sign(session: Session, signer: Signer, origin: str, reason: str) -> str:
    """A signed checkpoint of the log as this transaction sees it; stored once per size
    (several workers may sign the same size at once: the first one is kept). Raises
    ``SignerRefusedError`` when a guarded signer finds the tree inconsistent with its last.
    What the transaction has recorded is appended first: the checkpoint covers it."""
    log.append_recorded(session)
    if isinstance(signer, GuardedSigner) and signer.state_file is not None:
        size, root, note = _guarded(session, signer, origin)
    else:
        size = log.size(session)
        root = log.root(session, size)
        existing = session.get(LogCheckpoint, size)
        note = existing.note if existing is not None else None
    if note is None:
        note = signer.sign(Checkpoint(origin, size, root).text())
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(LogCheckpoint)
        .values(size=size, root=root, note=note, reason=reason, signed_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["size"])
    )
    return session.get(LogCheckpoint, size, populate_existing=True).note


def _guarded(session: Session, signer: GuardedSigner, origin: str) -> tuple[int, bytes, str]:
    """Check the database's tree against the signer's last checkpoint and sign it. The
    checkpoint is remembered once its transaction commits: one signed in a transaction
    that rolls back was never served, and remembering it would make the next, honest tree
    look like a fork.

    The database is read before the signer's file lock is taken, and never while it is
    held: on PostgreSQL a request's use case runs on the event loop, and a lock holder
    that waited there for the database would stop every other coroutine, the one that
    would release it included. Under the lock there is only the state file, the check and
    the signature; if another signer moved the state on meanwhile, the reads are made
    again."""
    path = signer.state_file
    assert path is not None
    size = log.size(session)
    root = log.root(session, size)
    existing = session.get(LogCheckpoint, size)
    first = None
    for _ in range(5):
        known = signer_guard.read_state(path).last
        if known is None and first is None:
            first = _first_use(session, signer)
        last = known or first
        proof = []
        if last is not None and 0 < last.size < size:
            proof = log.consistency_proof(session, last.size, size)
        with signer_guard.locked(signer):
            state = signer_guard.read_state(path)
            if state.alarm is not None:
                raise SignerRefusedError(
                    f"the log signer is halted since {state.alarm.get('detected_at')}: "
                    f"{state.alarm.get('reason')}",
                    state.alarm,
                )
            if state.last != known:
                continue  # another signer moved on: read its checkpoint's proof first
            problem = signer_guard.check(last, size, root, proof)
            if problem is None:
                if existing is not None and bytes(existing.root) == root:
                    note = existing.note
                else:
                    note = signer.sign(Checkpoint(origin, size, root).text())
                break
        if size < last.size and _committed_log_extends(session, last):
            # This transaction reads an older snapshot than a checkpoint signed since.
            raise SignerRefusedError("the log grew meanwhile: try again")
        evidence = signer_guard.alarm(problem, last, size, root, datetime.now(UTC))
        with signer_guard.locked(signer):
            signer_guard.raise_alarm(signer, evidence)
        logger.critical("log signer refused to sign and raised an alarm: %s", evidence)
        raise SignerRefusedError(problem, evidence)
    else:
        raise SignerRefusedError("other signers kept moving the log on: try again")
    _after_commit(session, lambda: signer_guard.remember(signer, Remembered(size, root, note)))
    return size, root, note


def _first_use(session: Session, signer: GuardedSigner) -> Remembered | None:
    """Without a state file yet (first start, or a server from before the guard): the
    latest checkpoint stored in the database that this signer's key signed."""
    stored = latest(session)
    if stored is None:
        return None
    try:
        cp = open_checkpoint(stored.note, signer.verifier)
    except NoteError:
        return None
    return Remembered(cp.size, cp.root, stored.note)


def _committed_log_extends(session: Session, last: Remembered) -> bool:
    """Whether the committed log, read afresh, holds ``last``'s tree: then a smaller size
    seen in ``session`` is only an older snapshot (SQLite), not a rollback."""
    bind = session.get_bind()
    with Session(bind=getattr(bind, "engine", bind)) as fresh:
        return log.size(fresh) >= last.size and log.root(fresh, last.size) == last.root


def append_alarm(session: Session, signer: Signer, t_ms: int) -> int | None:
    """Append a ``signer_refused`` entry with the standing alarm's evidence, once per
    alarm (the caller commits); returns its index, or None when there is nothing to add."""
    evidence = signer_guard.current_alarm(signer)
    if not evidence or evidence.get("log_index") is not None or "detected_at" not in evidence:
        return None
    fields = {k: v for k, v in evidence.items() if k not in ("log_index",)}
    [index] = log.append(session, [{"type": "signer_refused", "exam": "", "t": t_ms, **fields}])
    assert isinstance(signer, GuardedSigner)
    detected = evidence["detected_at"]
    _after_commit(session, lambda: signer_guard.note_alarm_entry(signer, detected, index))
    return index


def _after_commit(session: Session, action: Any) -> None:
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for action in session.info.pop(_AFTER_COMMIT, []):
        try:
            action()
        except Exception:  # the commit stands; the next signature checks again
            logger.exception("recording the signer's state failed")


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)
