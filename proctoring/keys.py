"""The log's Ed25519 signing key: generated at first start, kept in a file outside the
database (readable by its owner only), so a database dump alone cannot forge checkpoints.
Beside it the signer keeps its last checkpoint (``proctoring/signer_guard.py``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from proctoring.note import Signer
from proctoring.signer_guard import GuardedSigner, guarded


def load_or_create(path: Path, name: str) -> GuardedSigner:
    """The signer kept at ``path``; a new key is written there (mode 0600) if none exists.
    Refuses a key file whose name is not ``name``: the origin is part of every checkpoint."""
    if path.exists():
        signer = Signer.parse(path.read_text())
        if signer.name != name:
            raise ValueError(f"{path} holds the key of {signer.name!r}, not of {name!r}")
        return guarded(signer, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    signer = Signer.generate(name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first: use that one
        time.sleep(0.05)
        return load_or_create(path, name)
    try:
        os.write(fd, (str(signer) + "\n").encode())
    finally:
        os.close(fd)
    return guarded(signer, path)
