"""The offline verifier as one file: a Python zipapp (PEP 441) of the pure verifier and
what it imports — the log's hashing and notes, the cosignatures, the seals, the CAT core
that replays every attempt, the item parameter table and the scoring maths with the
ranking. It runs on Python 3.11+ with ``cryptography`` and ``numpy`` installed, and nothing
of the server: no web framework, no database, no scipy.

The file is built from the installed modules themselves, so it checks exactly what
``seleksi log verify`` checks. It is deterministic (fixed order and timestamps): the same
code gives the same bytes, and its SHA-256 can be compared between servers.
"""

from __future__ import annotations

import functools
import hashlib
import io
import zipfile
from pathlib import Path

FILENAME = "seleksi-verify.pyz"
_ROOT = Path(__file__).resolve().parent.parent

#: The verifier's import closure (tests/unit/test_zipapp.py checks it is complete and
#: free of the server's packages).
MODULES = (
    "proctoring/__init__.py",
    "proctoring/attempt_replay.py",
    "proctoring/canonical.py",
    "proctoring/cosign.py",
    "proctoring/merkle.py",
    "proctoring/note.py",
    "proctoring/offline.py",
    "proctoring/outages.py",
    "proctoring/seal.py",
    "proctoring/verifier_main.py",
    "proctoring/verify.py",
    "exam/__init__.py",
    "exam/cat/__init__.py",
    "exam/cat/blueprint.py",
    "exam/cat/engine.py",
    "exam/cat/fixed.py",
    "exam/cat/outcome.py",
    "exam/cat/pilots.py",
    "exam/cat/plan.py",
    "exam/cat/randomness.py",
    "exam/cat/replay.py",
    "itembank/__init__.py",
    "itembank/table.py",
    "scoring/__init__.py",
    "scoring/ability.py",
    "scoring/irt.py",
    "scoring/limits.py",
    "scoring/params.py",
    "scoring/ranking.py",
)

MAIN = """import sys

if sys.version_info < (3, 11):
    sys.exit("seleksi-verify needs Python 3.11 or later")
try:
    import cryptography, numpy  # noqa: F401
except ImportError as exc:
    sys.exit(f"seleksi-verify needs the packages cryptography and numpy ({exc}): "
             "python3 -m pip install cryptography numpy")
from proctoring.verifier_main import main

sys.exit(main())
"""


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


@functools.cache
def build() -> bytes:
    """The zipapp's bytes (built once per process)."""
    out = io.BytesIO()
    out.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(_entry("__main__.py"), MAIN)
        for name in MODULES:
            archive.writestr(_entry(name), (_ROOT / name).read_bytes())
    return out.getvalue()


@functools.cache
def sha256() -> str:
    return hashlib.sha256(build()).hexdigest()
