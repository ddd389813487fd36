"""Signed notes, checkpoints and offline proofs in the C2SP text formats.

- c2sp.org/signed-note: text, a blank line, then ``— <name> base64(key ID ‖ signature)``
  lines; Ed25519 keys (type 0x01) with key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4].
  Keys are written as Go's golang.org/x/mod/sumdb/note writes them, so its tools and
  witnesses read ours: ``name+hexid+base64(0x01 ‖ public key)`` for the verifier key and
  ``PRIVATE+KEY+name+hexid+base64(0x01 ‖ seed)`` for the signer key.
- c2sp.org/tlog-checkpoint: the note text ``origin\\nsize\\nbase64(root)\\n``.
- c2sp.org/tlog-proof: ``c2sp.org/tlog-proof@v1``, an optional ``extra`` line, ``index N``,
  the inclusion proof (one base64 hash per line), a blank line and the checkpoint verbatim.

Ed25519 itself comes from ``cryptography`` (pyca).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from scoring import limits

ED25519 = b"\x01"
DASH = "\u2014 "
PROOF_HEADER = "c2sp.org/tlog-proof@v1"


class NoteError(ValueError):
    """A note, key or proof that is malformed or does not verify."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise NoteError(f"{what}: not base64") from exc


def key_id(name: str, public_key: bytes, kind: bytes = ED25519) -> bytes:
    """SHA-256(name ‖ 0x0A ‖ signature type ‖ public key)[:4] (c2sp.org/signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + kind + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 verifier key; ``TYPE`` is its signed-note signature type (a witness's
    cosignature key, ``proctoring.cosign``, is the same key with type 0x04)."""

    name: str
    public_key: bytes
    TYPE: ClassVar[bytes] = ED25519

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public_key, self.TYPE)

    def __str__(self) -> str:
        return f"{self.name}+{self.id.hex()}+{_b64(self.TYPE + self.public_key)}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # the base64 key may itself contain '+'
        if len(parts) != 3:
            raise NoteError("a verifier key is name+hexid+base64key")
        name, hexid, key = parts
        _check_name(name)
        raw = _unb64(key, "verifier key")
        if len(raw) != 33 or raw[:1] != cls.TYPE:
            raise NoteError(
                f"only Ed25519 verifier keys (type 0x{cls.TYPE.hex()}, 32 bytes) are supported"
            )
        verifier = cls(name, raw[1:])
        if verifier.id.hex() != hexid.lower():
            raise NoteError("the verifier key's id does not match its name and key")
        return verifier

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    seed: bytes
    VERIFIER: ClassVar[type[Verifier]] = Verifier

    @classmethod
    def generate(cls, name: str) -> Signer:
        _check_name(name)
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

        raw = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return cls(name, raw)

    @property
    def verifier(self) -> Verifier:
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

        public = (
            Ed25519PrivateKey.from_private_bytes(self.seed)
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        return self.VERIFIER(self.name, public)

    def __str__(self) -> str:
        kind = self.VERIFIER.TYPE
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id.hex()}+{_b64(kind + self.seed)}"

    @classmethod
    def parse(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+name+hexid+base64key")
        raw = _unb64(parts[4], "signer key")
        if len(raw) != 33 or raw[:1] != cls.VERIFIER.TYPE:
            raise NoteError("only Ed25519 signer keys are supported")
        signer = cls(parts[2], raw[1:])
        if signer.verifier.id.hex() != parts[3].lower():
            raise NoteError("the signer key's id does not match its name and key")
        return signer

    def sign(self, text: str) -> str:
        """The signed note: ``text`` (ending in a newline), a blank line, the signature."""
        if not text.endswith("\n"):
            raise NoteError("note text must end with a newline")
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(text.encode())
        return f"{text}\n{DASH}{self.name} {_b64(self.verifier.id + signature)}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The text of a note signed by ``verifier``; raises NoteError otherwise."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text, lines = note[: cut + 1], note[cut + 2 :].splitlines()
    verified = False
    for line in lines:
        if not line.startswith(DASH):
            raise NoteError(f"malformed signature line {line!r}")
        name, _, sig = line[len(DASH) :].partition(" ")
        raw = _unb64(sig, "signature")
        if name != verifier.name or raw[:4] != verifier.id:
            continue  # another key's signature (a witness, say)
        if not verifier.verify(text.encode(), raw[4:]):
            raise NoteError(f"the signature of {name} does not verify")
        verified = True
    if not verified:
        raise NoteError(f"no signature by {verifier.name}")
    return text


# -- checkpoints and proofs --------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{_b64(self.root)}\n"

    @classmethod
    def parse_text(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        size = limits.whole_number(lines[1]) if len(lines) > 1 else None
        if len(lines) < 4 or not lines[0] or size is None:
            raise NoteError(
                "a checkpoint is origin, size (a decimal of at most "
                f"{limits.INDEX_DIGITS} digits) and root hash, one per line"
            )
        if lines[1] != str(size):
            raise NoteError("a checkpoint's size has no leading zeros")
        unfit = limits.text_problem(lines[0])
        if unfit:
            raise NoteError(f"the checkpoint's origin {unfit}")
        root = _unb64(lines[2], "checkpoint root")
        if len(root) != 32:
            raise NoteError("a checkpoint's root is a 32-byte hash")
        return cls(lines[0], size, root)


def open_checkpoint(note: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """A signed checkpoint's content, after checking the signature (and origin)."""
    checkpoint = Checkpoint.parse_text(open_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint


def format_proof(index: int, proof: list[bytes], checkpoint_note: str, extra: bytes = b"") -> str:
    """A c2sp.org/tlog-proof@v1 text."""
    lines = [PROOF_HEADER]
    if extra:
        lines.append(f"extra {_b64(extra)}")
    lines.append(f"index {index}")
    lines += [_b64(h) for h in proof]
    return "\n".join(lines) + "\n\n" + checkpoint_note


@dataclass(frozen=True)
class Proof:
    index: int
    hashes: list[bytes]
    checkpoint_note: str
    extra: bytes = b""


def parse_proof(text: str) -> Proof:
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise NoteError("a tlog proof needs a blank line before its checkpoint")
    lines = head.split("\n")
    if lines[0] != PROOF_HEADER:
        raise NoteError(f"the first line must be {PROOF_HEADER}")
    rest = lines[1:]
    extra = b""
    if rest and rest[0].startswith("extra "):
        extra = _unb64(rest[0][6:], "extra")
        rest = rest[1:]
    if not rest or not rest[0].startswith("index "):
        raise NoteError("missing 'index N' line")
    raw = rest[0][6:]
    index = limits.whole_number(raw)
    if index is None or raw != str(index):
        shown = raw if len(raw) <= 40 else f"{raw[:20]}… ({len(raw)} characters)"
        raise NoteError(
            f"index {shown!r} is not a decimal of at most {limits.INDEX_DIGITS} digits "
            "without leading zeros"
        )
    if len(rest) - 1 > limits.PROOF_HASHES:
        raise NoteError(f"{len(rest) - 1} proof hashes; a proof has at most {limits.PROOF_HASHES}")
    hashes = [_unb64(h, "proof hash") for h in rest[1:]]
    if any(len(h) != 32 for h in hashes):
        raise NoteError("every proof hash is 32 bytes")
    return Proof(index, hashes, note, extra)
