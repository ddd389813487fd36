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
from pathlib import Path

import click
from tqdm import tqdm

from scoring import limits

EXPORT_FORMAT = "seleksi-log-export/2"
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
    except (httpx.HTTPError, ValueError, IndexError, KeyError, TypeError) as exc:
        raise BadInput(f"{url}: cannot read the log ({exc})") from None
    for i, text in enumerate(texts):
        problem = _entry_problem(text) if isinstance(text, str) else "not a text"
        if problem:
            raise BadInput(f"{url}: entry {i}: {problem}")
    return key, note, texts


def _fetch_openings(url: str, texts: list[str]) -> list[str]:
    """The openings files a server makes public (exams whose items are retired)."""
    import httpx  # noqa: PLC0415

    closed = sorted({json.loads(t)["exam"] for t in texts if '"type":"exam_revealed"' in t})
    found = []
    with httpx.Client(base_url=url.rstrip("/"), timeout=60) as client:
        for code in closed:
            try:
                reply = client.get(f"/api/v1/exams/{code}/openings")
            except httpx.HTTPError:
                continue
            if reply.status_code == 200:
                found.append(reply.text)
    return found


def read_openings(paths: list[Path]) -> list:
    """The openings in the given files; exit 2 naming a file that cannot be read."""
    from proctoring.seal import OpeningsError, parse_bundle  # noqa: PLC0415

    given = []
    for path in paths:
        try:
            given += parse_bundle(_read_text(path, None), str(path))[1]
        except OpeningsError as exc:
            raise BadInput(str(exc)) from None
    return given


def _entry_problem(text: str) -> str | None:
    """Why the verifier refuses to read one entry's text at all (over a cap); anything
    else wrong with it is for the verification to report."""
    if len(text) > limits.LOG_ENTRY_CHARS:
        return f"{len(text):,} characters; at most {limits.LOG_ENTRY_CHARS:,} are allowed"
    refused = limits.json_depth_error(text)
    return refused.message if refused else None


def _read_text(path: Path, cap: int | None) -> str:
    """A UTF-8 file of the export, within ``cap`` bytes; BadInput naming it otherwise."""
    try:
        data = limits.read_file(path, cap) if cap else path.read_bytes()
        return data.decode("utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: not a log export ({exc.strerror or exc})") from None
    except limits.LimitError as exc:
        raise BadInput(f"{path}: {exc.message}") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start})") from None


def read_export(folder: Path) -> tuple[str, str, list[str]]:
    """(verifier key, latest checkpoint note, entry texts) from an export folder; each
    file within its cap (limits.py), every refusal naming the file and line."""
    from proctoring.note import Checkpoint, NoteError  # noqa: PLC0415

    key = _read_text(folder / "key.txt", limits.KEY_BYTES).strip()
    note = _read_text(folder / "checkpoint.txt", limits.NOTE_BYTES)
    try:  # the form only; the signature is the verification's to check
        Checkpoint.parse_text(note.partition("\n\n")[0] + "\n")
    except NoteError as exc:
        raise BadInput(f"{folder / 'checkpoint.txt'}: {exc}") from None
    entries = folder / "entries.jsonl"
    lines = _read_text(entries, None).split("\n")
    for number, text in enumerate(lines, start=1):
        problem = _entry_problem(text)
        if problem:
            raise BadInput(f"{entries}:{number}: {problem}")
    return key, note, [t for t in lines if t]


def _key_argument(key: str) -> str:
    """``--key``: the key itself, or a file holding it."""
    path = Path(key)
    if not path.is_file():
        return key
    try:
        return limits.read_file(path, limits.KEY_BYTES).decode("utf-8").strip()
    except OSError as exc:
        raise BadInput(f"--key {key}: {exc.strerror or exc}") from None
    except limits.LimitError as exc:
        raise BadInput(f"--key {key}: {exc.message}") from None
    except UnicodeDecodeError:
        raise BadInput(f"--key {key}: not UTF-8 text") from None


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


def default_state_dir() -> Path:
    return Path(click.get_app_dir("seleksi")) / "verify-state"


def state_path(folder: Path, origin: str) -> Path:
    """One state file per log origin, as a witness keeps one checkpoint per log."""
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in origin)
    return folder / f"{safe}.json"


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
        key, note, texts = _fetch(url, progress=sys.stderr.isatty())
        for text in _fetch_openings(url, texts):
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
def verify(
    url: str | None,
    folder: str | None,
    key: str | None,
    state_dir: str | None,
    openings_files: tuple[str, ...],
) -> None:
    """Verify a log (--url or --export): the checkpoint's signature, the Merkle root,
    consistency with the checkpoint verified last time, the event rules, and, where the
    openings are at hand, a replay of every attempt of every closed exam. Exit 0 only if
    all of it holds; the last line says which level was reached."""
    from proctoring.note import NoteError, Verifier  # noqa: PLC0415
    from proctoring.verify import State  # noqa: PLC0415
    from proctoring.verify import verify as run  # noqa: PLC0415

    if (url is None) == (folder is None):
        raise click.UsageError("give exactly one of --url or --export")
    progress = sys.stderr.isatty()
    served_key, note, texts = _fetch(url, progress) if url else read_export(Path(folder))
    paths = [Path(p) for p in openings_files]
    if folder:
        paths += sorted(Path(folder).glob("openings-*.json"))
    given = read_openings(paths)
    if url:
        from proctoring.seal import parse_bundle  # noqa: PLC0415

        for text in _fetch_openings(url, texts):
            given += parse_bundle(text, url)[1]
    if key:
        key = _key_argument(key)
    try:
        verifier = Verifier.parse(key or served_key)
    except NoteError as exc:
        served = f"{url}/api/v1/log/key" if url else str(Path(folder) / "key.txt")
        raise BadInput(f"{'--key' if key else served}: {exc}") from None
    states = Path(state_dir) if state_dir else default_state_dir()
    path = state_path(states, verifier.name)
    previous = None
    if path.exists():
        try:
            previous = State.loads(_read_text(path, limits.NOTE_BYTES))
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInput(f"{path}: not a verifier state file ({exc})") from None
    if not key:
        if previous and previous.key and previous.key != served_key:
            click.echo(
                f"FAIL the log now serves a different key than before: {served_key}", err=True
            )
            sys.exit(1)
        if not previous:  # trust on first use; the key is kept with the state from now on
            click.echo(f"trusting the key the log serves: {served_key}", err=True)
    with tqdm(total=len(texts), unit="entry", desc="verifying", disable=not progress) as bar:
        report = run(texts, note, verifier, verifier.name, previous, bar.update, given)
    for problem in report.problems:
        click.echo(f"FAIL {problem}", err=True)
    if not report.ok:
        click.echo(f"the log does not verify: {len(report.problems)} problems", err=True)
        sys.exit(1)
    states.mkdir(parents=True, exist_ok=True)
    path.write_text(State(report.size, report.root, str(verifier)).dumps())
    click.echo(
        f"OK: {report.size} entries, root {report.root.hex()[:16]}…, {report.attempts} "
        f"attempts checked, {report.replayed} replayed in {report.exams_closed} closed exams"
    )
    sealed = f" (still sealed: {', '.join(report.exams_sealed)})" if report.exams_sealed else ""
    click.echo(
        f"level: {report.level}; {report.opened} of {report.sealed} sealed entries opened{sealed}"
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
        verifier = Verifier.parse(_key_argument(key))
    except NoteError as exc:
        raise BadInput(f"--key: {exc}") from None
    try:
        proof = parse_proof(_read_text(Path(proof_file), limits.RECEIPT_BYTES))
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
