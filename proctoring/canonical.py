"""Canonical JSON for audit-log entries (CONTRACTS.md: the entry's UTF-8 bytes are the
Merkle leaf).

Keys sorted, separators ``,`` and ``:``, no insignificant whitespace, UTF-8 (not \\u
escapes), integers for counts and milliseconds. Floats are refused: a decimal that matters
is written as a string with a fixed number of digits (``decimal``), so every verifier in
every language reads the same bytes. This is the JSON subset of RFC 8785 (JCS) that needs
no number formatting rules.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


class CanonicalError(TypeError):
    """A value that has no canonical form (a float, a non-string key, NaN …)."""


def _check(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return
    if isinstance(value, float):
        raise CanonicalError(f"{path}: floats are not canonical; use decimal() strings")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(f"{path}: keys must be strings")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    raise CanonicalError(f"{path}: {type(value).__name__} is not JSON")


def canonical(value: dict[str, Any]) -> str:
    """The canonical JSON text of an entry."""
    _check(value, "entry")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of a text's UTF-8: how the log refers to texts that may name people
    (appeals, notes on flags) without holding them."""
    return hashlib.sha256(text.encode()).hexdigest()


def decimal(x: float, places: int = 6) -> str:
    """A decimal as a string with ``places`` digits after the point (e.g. θ)."""
    return f"{x:.{places}f}"
