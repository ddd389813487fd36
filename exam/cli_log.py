"""``seleksi log verify`` and ``seleksi log export``: an observer's own check of the log.

``verify`` reads the log from a server (``--url``) or from an export folder (``--export``),
checks it with ``proctoring.verify`` and, like a witness, keeps the last checkpoint it
verified for each log origin in the state folder, so that the next run also proves the log
only grew. Sealed entries are opened with the openings files it is given (``--openings``,
``openings-*.json`` in an export folder, or those a server makes public once an exam's items
are retired); it says which level it reached: integrity only, or a full replay. Exit codes:
0 the log verifies, 1 it does not, 2 bad input.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from proctoring import offline
from proctoring.offline import key_argument, read_export, state_path
from scoring import limits

__all__ = ["BadInput", "key_argument", "log", "read_export", "state_path", "write_export"]

EXPORT_FORMAT = "seleksi-log-export/2"


class BadInput(click.ClickException):
    """Bad input: exit code 2."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


@contextmanager
def _bad_input():
    """``offline.InputError`` as the command line's exit 2."""
    try:
        yield
    except offline.InputError as exc:
        raise BadInput(str(exc)) from None


def _tqdm(total: int, label: str):
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=total, unit="entry", desc=label, disable=not sys.stderr.isatty())


@click.group()
def log() -> None:
    """The public audit log: export it, verify it."""


def write_export(folder: Path, key: str, note: str, texts: list[str], exams: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "key.txt").write_text(key + "\n", encoding="utf-8")
    (folder / "checkpoint.txt").write_text(note, encoding="utf-8")
    (folder / "entries.jsonl").write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    (folder / "exams.json").write_text(json.dumps(exams, indent=2), encoding="utf-8")
    (folder / "FORMAT").write_text(EXPORT_FORMAT + "\n", encoding="utf-8")


def write_openings(folder: Path, code: str, text: str) -> None:
    """An exam's openings file beside an export (``verify --export`` reads it)."""
    (folder / f"openings-{code}.json").write_text(text, encoding="utf-8")


@log.command("export")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True)
@click.option("--url", help="Read from this server instead of the local database.")
@click.option(
    "--with-openings",
    is_flag=True,
    help="Also write the openings of every closed exam (from the local database: committee "
    "only; they reveal the answer keys of items that may still be in use).",
)
def export(out: str, url: str | None, with_openings: bool) -> None:
    """Write the log up to its latest checkpoint into the folder OUT: key.txt (the verifier
    key), checkpoint.txt (the signed checkpoint), entries.jsonl (each entry's exact text,
    one per line) and exams.json (the public exam data); with --url, also the openings the
    server makes public."""
    exams: list[dict] = []
    bundles: dict[str, str] = {}
    if url:
        with _bad_input():
            key, note, texts = offline.fetch(url, _tqdm)
        for text in offline.fetch_openings(url, texts):
            bundles[json.loads(text)["exam"]] = text
    else:
        from sqlalchemy import select  # noqa: PLC0415

        from exam.adapters import database  # noqa: PLC0415
        from exam.adapters.models import Exam  # noqa: PLC0415
        from exam.adapters.settings import get_settings  # noqa: PLC0415
        from proctoring import checkpoints  # noqa: PLC0415
        from proctoring import log as audit  # noqa: PLC0415

        settings = get_settings()
        engine = database.sync_engine(settings)
        with database.session_factory(engine)() as session:
            latest = checkpoints.latest(session)
            if latest is None:
                raise BadInput("the log has no signed checkpoint yet")
            note, size = latest.note, latest.size
            texts = [r.entry for r in audit.entries(session, 0, size)]
            exams = [
                {"code": e.code, "title": e.title, "status": e.status}
                for e in session.scalars(select(Exam).where(Exam.status != "draft"))
            ]
            if with_openings:
                from proctoring import openings  # noqa: PLC0415
                from proctoring.seal import bundle  # noqa: PLC0415

                for e in exams:
                    if e["status"] == "closed":
                        bundles[e["code"]] = bundle(e["code"], openings.of_exam(session, e["code"]))
        key = str(settings.log_signer().verifier)
    write_export(Path(out), key, note, texts, exams)
    for code, text in bundles.items():
        write_openings(Path(out), code, text)
    click.echo(f"{out}: {len(texts)} entries, openings of {len(bundles)} exams")


@log.command("verify")
@click.option("--url", help="The server whose log to verify.")
@click.option("--export", "folder", type=click.Path(file_okay=False), help="An export folder.")
@click.option("--key", help="The log's verifier key (name+hexid+base64), or a file holding it.")
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False),
    help="Where the last verified checkpoint of each log is kept [default: in your home].",
)
@click.option(
    "--openings",
    "openings_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="An openings file of an exam (observers get it when the exam closes); repeatable.",
)
@click.option(
    "--witness",
    "witness_keys",
    multiple=True,
    help="A witness's verifier key (name+hexid+base64), or a file holding it; repeatable.",
)
@click.option(
    "--min-witnesses",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="How many of the --witness keys must have cosigned the checkpoint.",
)
def verify(
    url: str | None,
    folder: str | None,
    key: str | None,
    state_dir: str | None,
    openings_files: tuple[str, ...],
    witness_keys: tuple[str, ...],
    min_witnesses: int,
) -> None:
    """Verify a log (--url or --export): the checkpoint's signature and its witnesses'
    cosignatures, the Merkle root, consistency with the checkpoint verified last time, the
    event rules, and, where the openings are at hand, a replay of every attempt of every
    closed exam. Exit 0 only if all of it holds; the last line says which level was
    reached. The downloadable verifier (/api/v1/log/verifier.pyz) runs the same check."""
    if (url is None) == (folder is None):
        raise click.UsageError("give exactly one of --url or --export")
    with _bad_input():
        code = offline.run_verify(
            url, folder, key, state_dir, openings_files, witness_keys, min_witnesses,
            lambda line, error: click.echo(line, err=error), _tqdm,
        )  # fmt: skip
    sys.exit(code)


@log.command("receipt")
@click.argument("proof_file", type=click.Path(dir_okay=False))
@click.option("--key", required=True, help="The log's verifier key, or a file holding it.")
def receipt(proof_file: str, key: str) -> None:
    """Check an answer's receipt (a .tlog-proof file) offline: the checkpoint's signature
    and the entry's inclusion in the signed tree. Prints the entry."""
    from proctoring import merkle  # noqa: PLC0415
    from proctoring.note import NoteError, Verifier, open_checkpoint, parse_proof  # noqa: PLC0415

    with _bad_input():
        key = key_argument(key)
    try:
        verifier = Verifier.parse(key)
    except NoteError as exc:
        raise BadInput(f"--key: {exc}") from None
    with _bad_input():
        text = offline.read_text(Path(proof_file), limits.RECEIPT_BYTES)
    try:
        proof = parse_proof(text)
    except NoteError as exc:
        raise BadInput(f"{proof_file}: {exc}") from None
    try:
        cp = open_checkpoint(proof.checkpoint_note, verifier)
    except NoteError as exc:
        click.echo(f"FAIL {proof_file}: {exc}", err=True)
        sys.exit(1)
    leaf = merkle.leaf_hash(proof.extra)
    if not proof.extra or not merkle.verify_inclusion(
        proof.index, cp.size, leaf, proof.hashes, cp.root
    ):
        click.echo(f"FAIL {proof_file}: entry {proof.index} is not in the signed log", err=True)
        sys.exit(1)
    click.echo(f"OK: entry {proof.index} is in {cp.origin} at size {cp.size}")
    click.echo(proof.extra.decode("utf-8", "replace"))


@log.command("signer-reset")
@click.option(
    "--i-understand",
    "understood",
    is_flag=True,
    help="Confirm that the alarm was investigated (see docs/operations.md).",
)
@click.option(
    "--forget-checkpoint",
    is_flag=True,
    help="Also forget the last signed checkpoint: the next one starts a new chain, which "
    "every observer holding an older checkpoint will see as a fork.",
)
def signer_reset(understood: bool, forget_checkpoint: bool) -> None:
    """Clear the log signer's alarm, kept beside the signing key, after an investigation.
    Without --forget-checkpoint the signer still signs only a tree consistent with the
    checkpoint it remembers (e.g. after the database was restored to the true history)."""
    from exam.adapters.settings import get_settings  # noqa: PLC0415
    from proctoring import signer_guard  # noqa: PLC0415

    if not understood:
        raise BadInput("signer-reset changes what the log signer trusts: add --i-understand")
    signer = get_settings().log_signer()
    before = signer_guard.reset(signer, forget_checkpoint)
    if before.alarm:
        click.echo(f"cleared the alarm of {before.alarm.get('detected_at')}:")
        click.echo(json.dumps(before.alarm, indent=2, sort_keys=True))
    else:
        click.echo("there was no alarm")
    if before.last is not None:
        kept = "forgot" if forget_checkpoint else "still remembers"
        click.echo(f"the signer {kept} its checkpoint of {before.last.size} entries")
