"""The single-file verifier: downloaded from a running server, run in a fresh virtual
environment that holds only ``cryptography`` and ``numpy`` (at the versions of
constraints.txt), it reaches the same verdict as ``seleksi log verify`` — on a clean log,
with a full replay of a closed exam, and on a rewritten one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from exam.adapters import database, paths
from exam.cli import main
from exam.cli_log import write_openings
from proctoring import openings
from proctoring.seal import bundle
from tests.live_server import LiveServer, prepare_closed_exam, prepare_data

CONSTRAINTS = paths.CHECKOUT / "constraints.txt"


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A virtual environment with cryptography and numpy only (and what they need)."""
    folder = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS)]
    done = subprocess.run(
        [*pip, "cryptography", "numpy"], check=False, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"],
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        check=True,
        capture_output=True,
        text=True,
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert installed <= {"cryptography", "numpy", "cffi", "pycparser", "pip", "setuptools"}
    return python


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server whose log holds a closed exam, and the exam's openings file."""
    data = tmp_path_factory.mktemp("verifier") / "data"
    settings = prepare_data(data)
    prepare_closed_exam(settings, checkpoint=True)
    engine = database.sync_engine(settings)
    with database.session_factory(engine)() as session:
        text = bundle("HASIL", openings.of_exam(session, "HASIL"))
    engine.dispose()
    server = LiveServer(settings)
    url = server.start()
    yield url, text, str(settings.log_signer().verifier)
    server.stop()


def _run_file(python: Path, pyz: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    command = [str(python), str(pyz), *args]
    options = {"capture_output": True, "text": True, "cwd": cwd, "env": env, "timeout": 300}
    return subprocess.run(command, check=False, **options)


def _fails(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.startswith("FAIL"))


def test_the_downloaded_verifier_agrees_with_seleksi_log_verify(venv, served, tmp_path):
    url, openings_text, key = served
    with urllib.request.urlopen(f"{url}/api/v1/log/verifier.pyz", timeout=30) as reply:
        data = reply.read()
        assert reply.headers["x-content-sha256"] == hashlib.sha256(data).hexdigest()
        assert "seleksi-verify.pyz" in reply.headers["content-disposition"]
    pyz = tmp_path / "seleksi-verify.pyz"
    pyz.write_bytes(data)
    empty = tmp_path / "cwd"
    empty.mkdir()

    # The log exported from the server, with the closed exam's openings: a full replay.
    clean = tmp_path / "clean"
    exported = CliRunner().invoke(main, ["log", "export", "--url", url, "--out", str(clean)])
    assert exported.exit_code == 0, exported.output
    write_openings(clean, "HASIL", openings_text)
    cli = CliRunner().invoke(
        main, ["log", "verify", "--export", str(clean), "--state", str(tmp_path / "s1")]
    )
    ran = _run_file(venv, pyz, "--export", str(clean), "--state", str(tmp_path / "s2"), cwd=empty)
    assert (cli.exit_code, ran.returncode) == (0, 0), ran.stderr
    assert ran.stdout == cli.stdout
    assert "level: full replay" in ran.stdout and "3 replayed in 1 closed exams" in ran.stdout

    # Straight from the server, as the Verifikasi page says to run it.
    online = _run_file(venv, pyz, "--url", url, "--key", key, "--state", str(tmp_path / "s3"),
                       cwd=empty)  # fmt: skip
    assert online.returncode == 0, online.stderr
    assert online.stdout.startswith("OK: ")

    # The same log with one answer's time rewritten: both refuse it, for the same reasons.
    rewritten = tmp_path / "rewritten"
    shutil.copytree(clean, rewritten)
    lines = (rewritten / "entries.jsonl").read_text().splitlines()
    n = next(i for i, t in enumerate(lines) if '"type":"attempt_finished"' in t)
    entry = json.loads(lines[n])
    entry["total"] += 5
    lines[n] = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    (rewritten / "entries.jsonl").write_text("\n".join(lines) + "\n")
    cli = CliRunner().invoke(
        main, ["log", "verify", "--export", str(rewritten), "--state", str(tmp_path / "s4")]
    )
    ran = _run_file(
        venv, pyz, "--export", str(rewritten), "--state", str(tmp_path / "s5"), cwd=empty
    )
    assert (cli.exit_code, ran.returncode) == (1, 1)
    assert _fails(ran.stderr) == _fails(cli.stderr)
    assert any("do not hash to the signed root" in f for f in _fails(ran.stderr))
    assert any("total" in f and "replayed" in f for f in _fails(ran.stderr))

    # Bad input: exit 2 with the place named, as the command line does.
    bad = _run_file(venv, pyz, "--export", str(tmp_path / "nowhere"), cwd=empty)
    assert bad.returncode == 2 and "nowhere" in bad.stderr
