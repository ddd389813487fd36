"""Every random choice of the engine, derived from the exam's secret seed.

A choice for applicant ``pseudonym`` at ``step`` of ``section`` uses the key
HMAC-SHA256(seed, pseudonym ‖ 0x1F ‖ section ‖ 0x1F ‖ step ‖ 0x1F ‖ purpose) and expands
it with SHAKE-256 into 64-bit words; each word's top 53 bits give one uniform number in
[0, 1). Unpredictable while the seed is secret, reproducible by anyone once the seed is
revealed, and independent of numpy's generator internals, which may change between
versions (NEP 19).
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

_SEP = b"\x1f"
_SCALE = 2.0**-53


def _prefix(pseudonym: str, section: str) -> bytes:
    return pseudonym.encode() + _SEP + section.encode() + _SEP


def derive_key(seed: bytes, pseudonym: str, section: str, step: int, purpose: str) -> bytes:
    """The HMAC key of one random choice."""
    message = _prefix(pseudonym, section) + str(int(step)).encode() + _SEP + purpose.encode()
    return hmac.digest(seed, message, "sha256")


def _to_uniforms(blob: bytes, shape: tuple[int, ...]) -> np.ndarray:
    words = np.frombuffer(blob, dtype=">u8").reshape(shape)
    return (words >> np.uint64(11)) * _SCALE  # 53-bit integers: exact in float64


def uniforms(
    seed: bytes, pseudonym: str, section: str, step: int, purpose: str, n: int
) -> np.ndarray:
    """``n`` uniform numbers in [0, 1) for one choice."""
    key = derive_key(seed, pseudonym, section, step, purpose)
    return _to_uniforms(hashlib.shake_256(key).digest(8 * n), (n,))


def uniforms_many(
    seed: bytes,
    pseudonyms: list[str],
    section: str,
    steps: np.ndarray,
    purpose: str,
    n: int,
) -> np.ndarray:
    """``uniforms`` for many applicants at once, shape (B, n): the same numbers, with the
    per-call overhead paid once (the simulator draws hundreds of thousands)."""
    tail = _SEP + purpose.encode()
    blob = b"".join(
        hashlib.shake_256(
            hmac.digest(seed, _prefix(p, section) + str(int(s)).encode() + tail, "sha256")
        ).digest(8 * n)
        for p, s in zip(pseudonyms, steps, strict=True)
    )
    return _to_uniforms(blob, (len(pseudonyms), n))


def seed_commitment(seed: bytes) -> str:
    """SHA-256 of the seed, hex: what the committee publishes before the exam opens."""
    return hashlib.sha256(seed).hexdigest()
