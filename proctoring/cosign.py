"""Witness cosignatures on checkpoints: c2sp.org/tlog-cosignature, Ed25519 ``cosignature/v1``.

A cosignature is one more signature line on the signed checkpoint,
``— <witness name> base64(key ID ‖ timestamp ‖ signature)``:

- key ID = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4] (signature type 0x04, not the log's
  0x01), and the verifier key is written ``name+hexid+base64(0x04 ‖ public key)``;
- the timestamp is the signing time in POSIX seconds, a big-endian u64 (never 0);
- the Ed25519 signature is over ``cosignature/v1\\n``, ``time <seconds>\\n`` and the whole
  checkpoint text (with its final newline, without any signature line).

It states that, at that time, this was the largest tree the witness had seen of that log
consistent with every earlier one. Lines of keys a reader does not know are ignored; a line
whose name and key ID match a known key but whose signature fails makes the note invalid
(c2sp.org/signed-note). Pure: no clock (the caller passes the time), no I/O.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from proctoring.note import DASH, NoteError, Signer, Verifier

COSIGNATURE = b"\x04"
HEADER = "cosignature/v1"
_SIGNATURE_BYTES = 4 + 8 + 64
_MAX_TIMESTAMP = 2**63 - 1


class WitnessKey(Verifier):
    """A witness's verifier key (signature type 0x04)."""

    TYPE = COSIGNATURE


class WitnessSigner(Signer):
    """A witness's private key: it cosigns checkpoints, it never signs plain notes."""

    VERIFIER = WitnessKey

    def sign(self, text: str) -> str:
        raise NoteError("a witness key makes cosignatures only (WitnessSigner.cosign)")

    def cosign(self, text: str, timestamp: int) -> str:
        """The cosignature line (ending in a newline) on the checkpoint ``text``."""
        if not 0 < timestamp <= _MAX_TIMESTAMP:
            raise NoteError("a cosignature's timestamp is a positive POSIX time")
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(
            signed_message(text, timestamp)
        )
        raw = self.verifier.id + timestamp.to_bytes(8, "big") + signature
        return f"{DASH}{self.name} {base64.b64encode(raw).decode()}\n"


def signed_message(text: str, timestamp: int) -> bytes:
    """What an Ed25519 cosignature signs (tlog-cosignature, "Ed25519 signed message")."""
    if not text.endswith("\n"):
        raise NoteError("a checkpoint's text ends with a newline")
    return f"{HEADER}\ntime {timestamp}\n{text}".encode()


def split_note(note: str) -> tuple[str, list[str]]:
    """A signed note's text (with its final newline) and its signature lines (without
    theirs). The text ends at the note's last blank line (c2sp.org/signed-note)."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    lines = note[cut + 2 :].splitlines()
    for line in lines:
        if not line.startswith(DASH) or " " not in line[len(DASH) :]:
            raise NoteError(f"malformed signature line {line!r}")
    return note[: cut + 1], lines


def with_lines(note: str, lines: Iterable[str]) -> str:
    """``note`` with the signature ``lines`` added (each once, in the order given)."""
    text, have = split_note(note)
    for given in lines:
        line = given.rstrip("\n")
        split_note(f"x\n\n{line}\n")  # the form of a signature line, or NoteError
        if line not in have:
            have.append(line)
    return text + "\n" + "".join(f"{line}\n" for line in have)


@dataclass(frozen=True)
class Cosignature:
    witness: WitnessKey
    timestamp: int
    line: str


@dataclass
class Cosigned:
    """The cosignatures of known witnesses found on a checkpoint."""

    valid: list[Cosignature] = field(default_factory=list)
    #: Lines with a known witness's name and key ID whose signature does not verify.
    invalid: list[str] = field(default_factory=list)

    @property
    def witnesses(self) -> list[WitnessKey]:
        return [c.witness for c in self.valid]


def check(note: str, witnesses: Sequence[WitnessKey]) -> Cosigned:
    """Which of ``witnesses`` cosigned the checkpoint ``note``; each witness counts once.
    Lines of other keys (the log's own signature among them) are ignored."""
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PublicKey,
    )

    text, lines = split_note(note)
    found = Cosigned()
    for line in lines:
        name, _, sig = line[len(DASH) :].partition(" ")
        try:
            raw = base64.b64decode(sig, validate=True)
        except ValueError:
            continue  # not ours to read: only a known key's line must verify
        for witness in witnesses:
            if name != witness.name or raw[:4] != witness.id:
                continue
            timestamp = int.from_bytes(raw[4:12], "big")
            good = len(raw) == _SIGNATURE_BYTES and 0 < timestamp <= _MAX_TIMESTAMP
            if good:
                try:
                    Ed25519PublicKey.from_public_bytes(witness.public_key).verify(
                        raw[12:], signed_message(text, timestamp)
                    )
                except (InvalidSignature, ValueError):
                    good = False
            if not good:
                found.invalid.append(line)
            elif witness not in found.witnesses:
                found.valid.append(Cosignature(witness, timestamp, line))
    return found


def quorum_problems(
    note: str, witnesses: Sequence[WitnessKey], required: int
) -> tuple[list[str], list[str]]:
    """(names of the known witnesses that cosigned ``note``, problems): a known witness's
    line that does not verify, or fewer than ``required`` valid cosignatures."""
    try:
        found = check(note, witnesses)
    except NoteError as exc:
        return [], [f"checkpoint: {exc}"]
    names = [k.name for k in found.witnesses]
    problems = [f"checkpoint: a cosignature does not verify: {line}" for line in found.invalid]
    if len(names) < required:
        problems.append(
            f"checkpoint: {len(names)} of the {required} witness cosignatures required "
            f"({', '.join(names) or 'none'} of {len(witnesses)} known witnesses)"
        )
    return names, problems


def parse_keys(texts: Iterable[str]) -> list[WitnessKey]:
    """Witness verifier keys; NoteError naming the one that is not."""
    keys = []
    for text in texts:
        try:
            keys.append(WitnessKey.parse(text))
        except NoteError as exc:
            raise NoteError(f"witness key {text.strip()[:60]!r}: {exc}") from None
    return keys
