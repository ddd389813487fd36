"""``seleksi log verify`` and ``seleksi log export``: an observer's own check of the log.

``verify`` reads the log from a server (``http…``) or from an export file, checks it with
``proctoring.verify`` and keeps the checkpoint it saw in ``--state``, so that the next run
also proves the log only grew. Exit codes (CONTRACTS.md): 0 the log verifies, 1 it does
not, 2 bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from tqdm import tqdm

EXPORT_FORMAT = "seleksi-log-export/1"
PAGE = 1000


class BadInput(click.ClickException):
    """Bad input: exit code 2."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


@click.group()
def log() -> None:
    """The public audit log: export it, verify it."""


def _fetch(url: str, progress: bool) -> tuple[str, str, list[str]]:
    """(verifier key as served, checkpoint note, entry texts) from a server."""
    import httpx  # noqa: PLC0415 (only when reading from a server)

    base = url.rstrip("/")
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            key = client.get("/api/v1/log/key").raise_for_status().text.strip()
            note = client.get("/api/v1/log/checkpoint").raise_for_status().text
            size = int(note.split("\n")[1])
            texts: list[str] = []
            with tqdm(total=size, unit="entry", desc="fetching", disable=not progress) as bar:
                while len(texts) < size:
                    page = client.get(
                        "/api/v1/log/entries",
                        params={"start": len(texts), "end": min(size, len(texts) + PAGE)},
                    ).raise_for_status()
                    rows = page.json()["entries"]
                    if not rows:
                        break
                    texts += [r["entry"] for r in rows]
                    bar.update(len(rows))
    except (httpx.HTTPError, ValueError, IndexError) as exc:
        raise BadInput(f"{url}: cannot read the log ({exc})") from None
    return key, note, texts


def read_export(path: Path) -> tuple[str, str, list[str]]:
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
        header = json.loads(lines[0])
        if header.get("format") != EXPORT_FORMAT:
            raise ValueError(f"line 1: not a {EXPORT_FORMAT} file")
        return header["key"], header["checkpoint"], [line for line in lines[1:] if line]
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: {exc}") from None


@log.command("export")
@click.option("--url", help="Read from this server instead of the local database.")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True)
def export(url: str | None, out: str) -> None:
    """Write the log up to its latest checkpoint: a JSON header line (format, verifier key,
    checkpoint), then each entry's exact text, one per line."""
    if url:
        key, note, texts = _fetch(url, progress=sys.stderr.isatty())
    else:
        from exam import database  # noqa: PLC0415
        from exam.settings import get_settings  # noqa: PLC0415
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
        key = str(settings.log_signer().verifier)
    header = {"format": EXPORT_FORMAT, "key": key, "checkpoint": note}
    Path(out).write_text("\n".join([json.dumps(header), *texts]) + "\n", encoding="utf-8")
    click.echo(f"{out}: {len(texts)} entries")


@log.command("verify")
@click.argument("source")
@click.option("--key", help="The log's verifier key (name+hexid+base64), or a file holding it.")
@click.option("--origin", help="The log's expected origin (default: the key's name).")
@click.option(
    "--state",
    type=click.Path(dir_okay=False),
    help="Keeps the checkpoint of this run; the next run checks the log only grew.",
)
def verify(source: str, key: str | None, origin: str | None, state: str | None) -> None:
    """Verify the log at SOURCE (a server URL or an export file): signatures, the Merkle
    root, consistency with --state, the event rules, and a replay of every attempt of
    every closed exam."""
    from proctoring.note import NoteError, Verifier  # noqa: PLC0415
    from proctoring.verify import State  # noqa: PLC0415
    from proctoring.verify import verify as run  # noqa: PLC0415

    progress = sys.stderr.isatty()
    if source.startswith(("http://", "https://")):
        served_key, note, texts = _fetch(source, progress)
    else:
        served_key, note, texts = read_export(Path(source))
    previous = None
    if state and Path(state).exists():
        try:
            previous = State.loads(Path(state).read_text())
        except (ValueError, KeyError) as exc:
            raise BadInput(f"{state}: not a verifier state file ({exc})") from None
    if key and Path(key).is_file():
        key = Path(key).read_text().strip()
    if not key and previous and previous.key:
        key = previous.key
    if not key:
        # Trust on first use: the key is kept in --state and checked from then on.
        key = served_key
        click.echo(f"trusting the key the log serves: {served_key}", err=True)
    try:
        verifier = Verifier.parse(key)
    except NoteError as exc:
        raise BadInput(f"--key: {exc}") from None
    with tqdm(total=len(texts), unit="entry", desc="verifying", disable=not progress) as bar:
        report = run(texts, note, verifier, origin or verifier.name, previous, bar.update)
    for problem in report.problems:
        click.echo(f"FAIL {problem}", err=True)
    if not report.ok:
        click.echo(f"the log does not verify: {len(report.problems)} problems", err=True)
        sys.exit(1)
    if state:
        Path(state).write_text(State(report.size, report.root, str(verifier)).dumps())
    click.echo(
        f"OK: {report.size} entries, root {report.root.hex()[:16]}…, {report.attempts} "
        f"attempts checked, {report.replayed} replayed in {report.exams_closed} closed exams"
    )


@log.command("receipt")
@click.argument("proof_file", type=click.Path(dir_okay=False))
@click.option("--key", required=True, help="The log's verifier key, or a file holding it.")
def receipt(proof_file: str, key: str) -> None:
    """Check an answer's receipt (a .tlog-proof file) offline: the checkpoint's signature
    and the entry's inclusion in the signed tree. Prints the entry."""
    from proctoring import merkle  # noqa: PLC0415
    from proctoring.note import NoteError, Verifier, open_checkpoint, parse_proof  # noqa: PLC0415

    try:
        if Path(key).is_file():
            key = Path(key).read_text().strip()
        verifier = Verifier.parse(key)
        proof = parse_proof(Path(proof_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, NoteError) as exc:
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
