"""A witness (c2sp.org/tlog-witness): it cosigns a log's checkpoint only if the checkpoint
is consistent with the last one it cosigned for that log.

The log sends ``POST <prefix>/add-checkpoint`` with the body

    old <size it believes the witness last cosigned>
    <up to 63 base64 hashes: the RFC 6962 consistency proof from that size>
    <an empty line>
    <the signed checkpoint>

and the witness answers, in the order the specification checks:

- 400 for a body that is not of this form, or an old size above the checkpoint's;
- 404 when it does not follow the checkpoint's origin (log);
- 403 when no signature of that log's key verifies;
- 409 (``text/x.tlog.size``, its size and a newline) when ``old`` is not the size it last
  cosigned: the log asks again with a proof from there;
- 422 when a size-0 checkpoint has not the empty root, a proof comes with ``old 0``, the
  proof fails, or the same size comes with another root — a fork: two histories of the
  same log. It keeps such a validly signed checkpoint as evidence (``refused``);
- 200 with its cosignature line otherwise, after it stored the new checkpoint.

``decide`` is the pure decision; ``WitnessStore`` keeps one state file per log (atomic
write, under a lock held from the read to the write, so two requests cannot roll the
state back: the race the specification describes).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proctoring import merkle, statefile
from proctoring.cosign import WitnessSigner, split_note
from proctoring.note import Checkpoint, NoteError, Verifier, open_checkpoint

STATE_FORMAT = "seleksi-witness-state/v1"
SIZE_MEDIA_TYPE = "text/x.tlog.size"
MAX_PROOF = 63
MAX_BODY = 64 * 1024
#: Refused checkpoints kept per log as evidence (the newest ones).
KEEP_REFUSED = 20


class RequestError(ValueError):
    """A request body that is not an add-checkpoint request (400)."""


@dataclass(frozen=True)
class AddCheckpoint:
    old: int
    proof: list[bytes]
    note: str

    def body(self) -> str:
        lines = [f"old {self.old}", *(base64.b64encode(h).decode() for h in self.proof)]
        return "\n".join(lines) + "\n\n" + self.note


def parse_request(body: bytes) -> AddCheckpoint:
    if len(body) > MAX_BODY:
        raise RequestError(f"the request has {len(body)} bytes; at most {MAX_BODY}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("the request is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise RequestError("the body is 'old N', proof lines, an empty line, a checkpoint")
    raw = lines[0][4:]
    if not raw.isdigit() or raw != str(int(raw)) or len(raw) > 19:
        raise RequestError(f"old size {raw[:30]!r} is not a decimal without leading zeros")
    if len(lines) - 1 > MAX_PROOF:
        raise RequestError(f"{len(lines) - 1} proof lines; at most {MAX_PROOF}")
    proof = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            h = base64.b64decode(line, validate=True)
        except ValueError:
            h = b""
        if len(h) != 32:
            raise RequestError(f"line {number}: a proof line is one base64 SHA-256 hash")
        proof.append(h)
    return AddCheckpoint(int(raw), proof, note)


@dataclass(frozen=True)
class Latest:
    """The last checkpoint a witness cosigned for one log, as it served it."""

    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class LogState:
    """What a witness keeps for one log: its last cosigned checkpoint, and the evidence
    of checkpoints it refused although the log had signed them."""

    origin: str
    latest: Latest | None = None
    refused: tuple[dict[str, Any], ...] = ()

    def dumps(self) -> str:
        latest = None
        if self.latest is not None:
            latest = {
                "size": self.latest.size,
                "root": base64.b64encode(self.latest.root).decode(),
                "note": self.latest.note,
            }
        data = {
            "format": STATE_FORMAT,
            "origin": self.origin,
            "latest": latest,
            "refused": list(self.refused),
        }
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def loads(cls, text: str) -> LogState:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValueError(f"not a {STATE_FORMAT} file")
        latest = data.get("latest")
        if latest is not None:
            latest = Latest(int(latest["size"]), base64.b64decode(latest["root"]), latest["note"])
        return cls(str(data["origin"]), latest, tuple(data.get("refused", ())))


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    media_type: str = "text/plain"
    #: The new state to store (a cosignature or kept evidence), None to keep the old one.
    state: LogState | None = field(default=None, compare=False)


def origin_of(note: str) -> str:
    """The origin line of a checkpoint note (before any check)."""
    return note.partition("\n")[0]


def decide(
    request: AddCheckpoint,
    logs: Mapping[str, Verifier],
    state: LogState,
    signer: WitnessSigner,
    now: datetime,
) -> Reply:
    """The witness's answer to ``request``, given what it keeps for the log; the checks
    and their order are those of c2sp.org/tlog-witness, "add-checkpoint"."""
    try:
        text, _ = split_note(request.note)
        checkpoint = Checkpoint.parse_text(text)
    except NoteError as exc:
        return Reply(400, f"not a signed checkpoint: {exc}\n")
    log_key = logs.get(checkpoint.origin)
    if log_key is None:
        return Reply(404, f"this witness does not follow the log {checkpoint.origin!r}\n")
    try:
        open_checkpoint(request.note, log_key, checkpoint.origin)
    except NoteError as exc:
        return Reply(403, f"the checkpoint is not signed by the log's key: {exc}\n")
    if request.old > checkpoint.size:
        return Reply(400, f"old size {request.old} is above the checkpoint's {checkpoint.size}\n")
    latest = state.latest
    have = latest.size if latest is not None else 0
    if request.old != have:
        return Reply(409, f"{have}\n", SIZE_MEDIA_TYPE)
    problem = _inconsistency(request, checkpoint, latest)
    if problem is not None:
        evidence = {
            "at": now.astimezone(UTC).isoformat(timespec="seconds"),
            "reason": problem,
            "checkpoint": request.note,
            "cosigned_size": have,
            "cosigned_root": base64.b64encode(latest.root).decode() if latest else None,
        }
        kept = (*state.refused, evidence)[-KEEP_REFUSED:]
        return Reply(422, problem + "\n", state=replace(state, refused=kept))
    line = signer.cosign(text, int(now.timestamp()))
    cosigned = Latest(checkpoint.size, checkpoint.root, request.note.rstrip("\n") + "\n" + line)
    return Reply(200, line, state=replace(state, latest=cosigned))


def _inconsistency(
    request: AddCheckpoint, checkpoint: Checkpoint, latest: Latest | None
) -> str | None:
    if checkpoint.size == 0 and checkpoint.root != merkle.EMPTY_ROOT:
        return "a checkpoint of size 0 must have the empty tree's root"
    if request.old == 0:
        return "no proof is needed from size 0" if request.proof else None
    assert latest is not None  # old == the size of the checkpoint kept, and old > 0
    if checkpoint.size == latest.size:
        if checkpoint.root != latest.root:
            return (
                f"fork: a checkpoint of {checkpoint.size} entries with another root than the "
                "one this witness cosigned at that size"
            )
        return None
    if not merkle.verify_consistency(
        latest.size, checkpoint.size, latest.root, checkpoint.root, request.proof
    ):
        return (
            f"the consistency proof from {latest.size} to {checkpoint.size} entries does not "
            "verify: this tree does not extend the one this witness cosigned"
        )
    return None


class WitnessStore:
    """The witness's state folder: ``<SHA-256 of the origin>.json`` per log and one lock."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, origin: str) -> Path:
        return self.folder / f"{hashlib.sha256(origin.encode()).hexdigest()}.json"

    def read(self, origin: str) -> LogState:
        """The state of ``origin``; empty when there is none. A damaged file is an error,
        never an empty state (that would let any history through)."""
        try:
            text = self.path(origin).read_text(encoding="utf-8")
        except FileNotFoundError:
            return LogState(origin)
        state = LogState.loads(text)
        if state.origin != origin:
            raise ValueError(f"{self.path(origin)} holds the state of {state.origin!r}")
        return state

    def handle(
        self, body: bytes, logs: Mapping[str, Verifier], signer: WitnessSigner, now: datetime
    ) -> Reply:
        """Decide on a request and store the outcome, from the read to the write under
        the folder's lock."""
        try:
            request = parse_request(body)
        except RequestError as exc:
            return Reply(400, f"{exc}\n")
        origin = origin_of(request.note)
        with statefile.locked(self.folder / "witness.lock"):
            reply = decide(request, logs, self.read(origin), signer, now)
            if reply.state is not None:
                statefile.write_atomic(self.path(origin), reply.state.dumps())
        return reply
