"""The command line of the single-file verifier (``python seleksi-verify.pyz``): the
options of ``seleksi log verify``, read with ``argparse`` so the file needs no package
beyond numpy and cryptography; the check itself is ``proctoring.offline.run_verify``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from proctoring import offline


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="seleksi-verify.pyz",
        description="Verify a Seleksi audit log: the checkpoint's signature and its "
        "witnesses' cosignatures, the Merkle root, consistency with the checkpoint verified "
        "last time, the event rules, and, where the openings are at hand, a replay of every "
        "attempt and of the ranking. Exit 0 only if all of it holds, 1 if not, 2 on bad input.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="The server whose log to verify.")
    source.add_argument("--export", help="An export folder (seleksi log export).")
    parser.add_argument("--key", help="The log's verifier key, or a file holding it.")
    parser.add_argument("--state", help="Where the last verified checkpoint of each log is kept.")
    parser.add_argument(
        "--openings", action="append", default=[], help="An exam's openings file; repeatable."
    )
    parser.add_argument(
        "--witness",
        action="append",
        default=[],
        help="A witness's verifier key, or a file holding it; repeatable.",
    )
    parser.add_argument(
        "--min-witnesses",
        type=int,
        default=0,
        help="How many of the --witness keys must have cosigned the checkpoint (default 0).",
    )
    args = parser.parse_args(argv)
    try:
        return offline.run_verify(
            args.url, args.export, args.key, args.state, args.openings, args.witness,
            args.min_witnesses,
        )  # fmt: skip
    except offline.InputError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
