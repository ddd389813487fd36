"""The signer's guard: it never signs a tree that is not consistent with the last one it
signed, whatever the database says.

The last checkpoint the signer signed is kept OUTSIDE the database, in a state file beside
the signing key (``log-signing.state`` next to ``log-signing.key``). Someone who can
rewrite the database (edit an entry, fix its leaf hash, delete the nodes and checkpoints
above it) cannot rewrite that file, so before each new checkpoint the signer proves the
database's tree consistent with the remembered one (RFC 9162 §2.1.4). A smaller tree or a
proof that fails is an *alarm*: nothing is signed, and the alarm is kept in the state file
until an operator clears it (``seleksi log signer-reset``).

The decision (``check``) is pure; the file handling is the edge (``statefile``): the
state file is replaced atomically with mode 0600, and every read-check-sign and every
write of the state holds an exclusive ``flock`` on ``log-signing.lock``, so the worker
processes of one machine sign one after another.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proctoring import merkle, statefile
from proctoring.note import Signer

STATE_FORMAT = "seleksi-signer-state/v1"


@dataclass(frozen=True)
class Remembered:
    """A checkpoint the signer signed and whose transaction committed."""

    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class SignerState:
    """What the signer keeps between runs: its last checkpoint and a standing alarm."""

    last: Remembered | None = None
    alarm: dict[str, Any] | None = None

    def dumps(self) -> str:
        data: dict[str, Any] = {"format": STATE_FORMAT, "last": None, "alarm": self.alarm}
        if self.last is not None:
            data["last"] = {
                "size": self.last.size,
                "root": base64.b64encode(self.last.root).decode(),
                "note": self.last.note,
            }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def loads(cls, text: str) -> SignerState:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValueError(f"not a {STATE_FORMAT} file")
        last = data.get("last")
        remembered = None
        if last is not None:
            remembered = Remembered(int(last["size"]), base64.b64decode(last["root"]), last["note"])
        return cls(remembered, data.get("alarm"))


class SignerRefusedError(Exception):
    """The signer will not sign: the database's tree does not extend its last checkpoint
    (``alarm`` holds the evidence), or the signer stands halted by an earlier alarm."""

    def __init__(self, reason: str, alarm: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason, self.alarm = reason, alarm


@dataclass(frozen=True)
class GuardedSigner(Signer):
    """A signer whose key lives in a file: its state and lock files sit beside it."""

    key_file: Path | None = field(default=None, compare=False)

    @property
    def state_file(self) -> Path | None:
        return None if self.key_file is None else self.key_file.with_suffix(".state")

    @property
    def lock_file(self) -> Path | None:
        return None if self.key_file is None else self.key_file.with_suffix(".lock")


def guarded(signer: Signer, key_file: Path) -> GuardedSigner:
    return GuardedSigner(signer.name, signer.seed, key_file=key_file)


# -- the decision (pure) ------------------------------------------------------------------------


def check(last: Remembered | None, size: int, root: bytes, proof: list[bytes]) -> str | None:
    """None when the tree (``size``, ``root``) may be signed after ``last``, else why not.
    ``proof`` is the RFC 9162 consistency proof from ``last.size`` to ``size``."""
    if last is None:
        return None
    if size < last.size:
        return (
            f"the database's log has {size} entries, fewer than the {last.size} of the "
            "last signed checkpoint: it was rolled back or rewritten"
        )
    if not merkle.verify_consistency(last.size, size, last.root, root, proof):
        return (
            f"the database's tree of {size} entries is not consistent with the last "
            f"signed checkpoint ({last.size} entries): its history was rewritten"
        )
    return None


def alarm(reason: str, last: Remembered, size: int, root: bytes, now: datetime) -> dict[str, Any]:
    """The evidence kept with an alarm: what the signer remembers, what the database says."""
    return {
        "detected_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "reason": reason,
        "remembered_size": last.size,
        "remembered_root": base64.b64encode(last.root).decode(),
        "remembered_checkpoint": last.note,
        "database_size": size,
        "database_root": base64.b64encode(root).decode(),
        "log_index": None,  # the signer_refused entry, once one is committed
    }


# -- the state file (the edge) ------------------------------------------------------------------


def read_state(path: Path) -> SignerState:
    """The state kept at ``path``; an empty state when there is no file yet. A file that
    cannot be read is an error, never an empty state: that would disarm the guard."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return SignerState()
    try:
        return SignerState.loads(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise SignerRefusedError(f"{path}: the signer's state file is damaged ({exc})") from None


def write_state(path: Path, state: SignerState) -> None:
    """Replace the state file atomically: a crash leaves the old file or the new one."""
    statefile.write_atomic(path, state.dumps())


@contextlib.contextmanager
def locked(signer: GuardedSigner) -> Iterator[None]:
    """Hold the exclusive lock of ``signer``'s state (one signer at a time per machine)."""
    path = signer.lock_file
    assert path is not None
    with statefile.locked(path):
        yield


def remember(signer: GuardedSigner, signed: Remembered) -> None:
    """Record a checkpoint whose transaction committed, unless a larger one already is."""
    path = signer.state_file
    assert path is not None
    with locked(signer):
        state = read_state(path)
        if state.last is None or signed.size > state.last.size:
            write_state(path, replace(state, last=signed))


def raise_alarm(signer: GuardedSigner, evidence: dict[str, Any]) -> None:
    path = signer.state_file
    assert path is not None
    state = read_state(path)
    if state.alarm is None:
        write_state(path, replace(state, alarm=evidence))


def note_alarm_entry(signer: GuardedSigner, detected_at: str, index: int) -> None:
    """Keep the index of the committed ``signer_refused`` entry with the alarm."""
    path = signer.state_file
    assert path is not None
    with locked(signer):
        state = read_state(path)
        if state.alarm and state.alarm.get("detected_at") == detected_at:
            write_state(path, replace(state, alarm={**state.alarm, "log_index": index}))


def current_alarm(signer: Signer) -> dict[str, Any] | None:
    """The standing alarm of ``signer`` (None for a signer without a state file)."""
    if not isinstance(signer, GuardedSigner) or signer.state_file is None:
        return None
    try:
        return read_state(signer.state_file).alarm
    except SignerRefusedError as exc:
        return {"reason": exc.reason}


def reset(signer: GuardedSigner, forget_checkpoint: bool) -> SignerState:
    """Clear the alarm (an operator's decision after an investigation); with
    ``forget_checkpoint`` also the remembered checkpoint, so the next checkpoint starts a
    new chain. Returns the state as it was."""
    path = signer.state_file
    assert path is not None
    with locked(signer):
        try:
            before = read_state(path)
        except SignerRefusedError:  # a damaged file: only a fresh start is left
            before, forget_checkpoint = SignerState(), True
        write_state(path, SignerState(None if forget_checkpoint else before.last, None))
    return before
