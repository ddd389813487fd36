"""Verifying a log from one's own computer: reading it (a server's public API or an export
folder), the state kept between runs, and the verdict. ``seleksi log verify`` and the
single-file verifier (``proctoring.zipapp``) both run ``run_verify``, so they reach the
same verdict. It needs the Python standard library, the pure verifier and what that
imports (numpy and cryptography): HTTP is ``urllib``.

Like a witness, it keeps the last checkpoint it verified for each log origin in a state
folder, so the next run also proves that the log only grew. Exit codes: 0 the log
verifies, 1 it does not, 2 bad input (``InputError``, naming the file, line or option).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scoring import limits

PAGE = 1000
#: (total, label) -> an object with ``update(n)`` and ``close()`` (a progress bar).
Progress = Callable[[int, str], Any]


class InputError(ValueError):
    """Bad input: exit code 2, with a message naming the file, line or option."""


class _NoProgress:
    def update(self, _n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def no_progress(_total: int, _label: str) -> _NoProgress:
    return _NoProgress()


# -- reading a log --------------------------------------------------------------------------


def entry_problem(text: str) -> str | None:
    """Why the verifier refuses to read one entry's text at all (over a cap); anything
    else wrong with it is for the verification to report."""
    if len(text) > limits.LOG_ENTRY_CHARS:
        return f"{len(text):,} characters; at most {limits.LOG_ENTRY_CHARS:,} are allowed"
    refused = limits.json_depth_error(text)
    return refused.message if refused else None


def read_text(path: Path, cap: int | None) -> str:
    """A UTF-8 file within ``cap`` bytes; InputError naming it otherwise."""
    try:
        data = limits.read_file(path, cap) if cap else path.read_bytes()
        return data.decode("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: not a log export ({exc.strerror or exc})") from None
    except limits.LimitError as exc:
        raise InputError(f"{path}: {exc.message}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def read_export(folder: Path) -> tuple[str, str, list[str]]:
    """(verifier key, latest checkpoint note, entry texts) from an export folder; each
    file within its cap (limits.py), every refusal naming the file and line."""
    from proctoring.note import Checkpoint, NoteError  # noqa: PLC0415

    key = read_text(folder / "key.txt", limits.KEY_BYTES).strip()
    note = read_text(folder / "checkpoint.txt", limits.NOTE_BYTES)
    try:  # the form only; the signature is the verification's to check
        Checkpoint.parse_text(note.partition("\n\n")[0] + "\n")
    except NoteError as exc:
        raise InputError(f"{folder / 'checkpoint.txt'}: {exc}") from None
    entries = folder / "entries.jsonl"
    lines = read_text(entries, None).split("\n")
    for number, text in enumerate(lines, start=1):
        problem = entry_problem(text)
        if problem:
            raise InputError(f"{entries}:{number}: {problem}")
    return key, note, [t for t in lines if t]


def _get(base: str, path: str, params: dict[str, int] | None = None) -> str:
    url = base + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=60) as reply:
        return reply.read().decode("utf-8")


def fetch(url: str, progress: Progress = no_progress) -> tuple[str, str, list[str]]:
    """(verifier key as served, checkpoint note, entry texts) from a server."""
    base = url.rstrip("/")
    texts: list[str] = []
    try:
        key = _get(base, "/api/v1/log/key").strip()
        note = _get(base, "/api/v1/log/checkpoint")
        size = int(note.split("\n")[1])
        bar = progress(size, "fetching")
        try:
            while len(texts) < size:
                params = {"start": len(texts), "end": min(size, len(texts) + PAGE)}
                rows = json.loads(_get(base, "/api/v1/log/entries", params))["entries"]
                if not rows:
                    break
                texts += [r["entry"] for r in rows]
                bar.update(len(rows))
        finally:
            bar.close()
    except (OSError, ValueError, IndexError, KeyError, TypeError) as exc:
        raise InputError(f"{url}: cannot read the log ({exc})") from None
    for i, text in enumerate(texts):
        problem = entry_problem(text) if isinstance(text, str) else "not a text"
        if problem:
            raise InputError(f"{url}: entry {i}: {problem}")
    return key, note, texts


def fetch_openings(url: str, texts: list[str]) -> list[str]:
    """The openings files a server makes public (exams whose items are retired)."""
    closed = sorted({json.loads(t)["exam"] for t in texts if '"type":"exam_revealed"' in t})
    found = []
    for code in closed:
        try:
            path = f"/api/v1/exams/{urllib.parse.quote(code)}/openings"
            found.append(_get(url.rstrip("/"), path))
        except (OSError, UnicodeDecodeError):
            continue  # not public (yet): the check stays at integrity for that exam
    return found


def read_openings(paths: Sequence[Path]) -> list:
    """The openings in the given files; InputError naming a file that cannot be read."""
    from proctoring.seal import OpeningsError, parse_bundle  # noqa: PLC0415

    given = []
    for path in paths:
        try:
            given += parse_bundle(read_text(path, None), str(path))[1]
        except OpeningsError as exc:
            raise InputError(str(exc)) from None
    return given


def key_argument(key: str) -> str:
    """``--key`` (or ``--witness``): the key itself, or a file holding it."""
    path = Path(key)
    if not path.is_file():
        return key
    try:
        return limits.read_file(path, limits.KEY_BYTES).decode("utf-8").strip()
    except OSError as exc:
        raise InputError(f"{key}: {exc.strerror or exc}") from None
    except limits.LimitError as exc:
        raise InputError(f"{key}: {exc.message}") from None
    except UnicodeDecodeError:
        raise InputError(f"{key}: not UTF-8 text") from None


# -- the state kept between runs --------------------------------------------------------------


def default_state_dir() -> Path:
    """``verify-state`` in the user's configuration folder for "seleksi" (where click's
    ``get_app_dir`` puts it, so both verifiers share it)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home()))
        return base / "seleksi" / "verify-state"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "seleksi" / "verify-state"
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "seleksi" / "verify-state"


def state_path(folder: Path, origin: str) -> Path:
    """One state file per log origin, as a witness keeps one checkpoint per log."""
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in origin)
    return folder / f"{safe}.json"


# -- the verdict ------------------------------------------------------------------------------


def run_verify(
    url: str | None,
    folder: str | None,
    key: str | None,
    state_dir: str | None,
    openings_files: Sequence[str] = (),
    witness_keys: Sequence[str] = (),
    min_witnesses: int = 0,
    say: Callable[[str, bool], None] | None = None,
    progress: Progress = no_progress,
) -> int:
    """Verify a log (``url`` or ``folder``) and print the verdict through ``say(line,
    is_error)``; returns the exit code (0 or 1). Raises InputError on bad input."""
    from proctoring.cosign import parse_keys  # noqa: PLC0415
    from proctoring.note import NoteError, Verifier  # noqa: PLC0415
    from proctoring.seal import parse_bundle  # noqa: PLC0415
    from proctoring.verify import State, verify  # noqa: PLC0415

    def echo(line: str, error: bool = False) -> None:
        (say or _print)(line, error)

    if (url is None) == (folder is None):
        raise InputError("give exactly one of --url or --export")
    if min_witnesses < 0:
        raise InputError("--min-witnesses: a number of witnesses, 0 or more")
    try:
        witnesses = parse_keys(key_argument(w) for w in witness_keys)
    except NoteError as exc:
        raise InputError(f"--witness: {exc}") from None
    if min_witnesses > len(witnesses):
        raise InputError(
            f"--min-witnesses {min_witnesses}: only {len(witnesses)} --witness keys are given"
        )
    served_key, note, texts = fetch(url, progress) if url else read_export(Path(folder))
    paths = [Path(p) for p in openings_files]
    if folder:
        paths += sorted(Path(folder).glob("openings-*.json"))
    given = read_openings(paths)
    if url:
        for text in fetch_openings(url, texts):
            given += parse_bundle(text, url)[1]
    if key:
        key = key_argument(key)
    try:
        verifier = Verifier.parse(key or served_key)
    except NoteError as exc:
        served = f"{url}/api/v1/log/key" if url else str(Path(folder) / "key.txt")
        raise InputError(f"{'--key' if key else served}: {exc}") from None
    states = Path(state_dir) if state_dir else default_state_dir()
    path = state_path(states, verifier.name)
    previous = None
    if path.exists():
        try:
            previous = State.loads(read_text(path, limits.NOTE_BYTES))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: not a verifier state file ({exc})") from None
    if not key:
        if previous and previous.key and previous.key != served_key:
            echo(f"FAIL the log now serves a different key than before: {served_key}", True)
            return 1
        if not previous:  # trust on first use; the key is kept with the state from now on
            echo(f"trusting the key the log serves: {served_key}", True)
    bar = progress(len(texts), "verifying")
    try:
        report = verify(
            texts, note, verifier, verifier.name, previous, bar.update, given,
            witnesses, min_witnesses,
        )  # fmt: skip
    finally:
        bar.close()
    for problem in report.problems:
        echo(f"FAIL {problem}", True)
    if not report.ok:
        echo(f"the log does not verify: {len(report.problems)} problems", True)
        return 1
    states.mkdir(parents=True, exist_ok=True)
    path.write_text(State(report.size, report.root, str(verifier)).dumps())
    echo(
        f"OK: {report.size} entries, root {report.root.hex()[:16]}…, {report.attempts} "
        f"attempts checked, {report.replayed} replayed in {report.exams_closed} closed exams"
    )
    if witnesses:
        names = ", ".join(report.cosigned) or "none"
        echo(f"witnesses: {len(report.cosigned)} of {len(witnesses)} cosigned ({names})")
    sealed = f" (still sealed: {', '.join(report.exams_sealed)})" if report.exams_sealed else ""
    echo(f"level: {report.level}; {report.opened} of {report.sealed} sealed entries opened{sealed}")
    if report.inner_opened < report.inner:
        echo(
            f"{report.inner - report.inner_opened} of the opened entries keep their scored "
            "outcome or content hash sealed (an applicant's own openings): they show what "
            "was recorded, but no score can be replayed from them"
        )
    return 0


def _print(line: str, error: bool) -> None:
    print(line, file=sys.stderr if error else sys.stdout)
