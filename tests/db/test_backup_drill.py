"""The backup and restore drill of docs/operations.md, on both databases: back up a
database holding a closed exam with the standard tools (``sqlite3 .backup`` while the
database is in use; ``pg_dump -Fc``), restore into a new place with the signing key kept
apart, and verify the restored log against the verifier key taken before: it must hold
every entry, and ``seleksi log verify`` must pass with every attempt replayed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import _fresh_pg_database
from tests.live_server import prepare_closed_exam, prepare_data


def cli(*args: str, data: Path, url: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ, SELEKSI_DATA_DIR=str(data))
    env.pop("SELEKSI_DATABASE_URL", None)
    if url:
        env["SELEKSI_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "exam", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def libpq(url: str) -> str:
    """The URL as PostgreSQL's own tools take it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def tool(*args: str) -> None:
    if shutil.which(args[0]) is None:
        pytest.fail(
            f"{args[0]} is needed for the backup drill (Debian: sqlite3, postgresql-client)"
        )
    done = subprocess.run(args, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_backup_restore_and_verify(backend, request, tmp_path):
    url = restored_url = None
    drops = []
    if backend == "postgresql":
        admin = request.getfixturevalue("pg_server")
        url, drop = _fresh_pg_database(admin)
        restored_url, drop_restored = _fresh_pg_database(admin)
        drops += [drop, drop_restored]
    try:
        settings = prepare_data(tmp_path / "live", url)
        prepare_closed_exam(settings, checkpoint=True)
        key = str(settings.log_signer().verifier)
        before = cli(
            "log",
            "export",
            "--with-openings",
            "--out",
            str(tmp_path / "before"),
            data=settings.data_dir,
            url=url,
        )
        assert before.returncode == 0, before.stderr

        # The backup, taken while the server could be running; the key is copied apart.
        restored = tmp_path / "restored"
        restored.mkdir()
        if backend == "sqlite":
            db = settings.data_dir / "seleksi.db"
            tool("sqlite3", str(db), f".backup '{tmp_path / 'backup.db'}'")
            shutil.copy(tmp_path / "backup.db", restored / "seleksi.db")
        else:
            dump = tmp_path / "backup.dump"
            tool("pg_dump", "-Fc", "-f", str(dump), libpq(url))
            tool("pg_restore", "--no-owner", "-d", libpq(restored_url), str(dump))
        shutil.copy(settings.resolved_log_key_file, restored / "log-signing.key")

        after = cli(
            "log",
            "export",
            "--with-openings",
            "--out",
            str(tmp_path / "after"),
            data=restored,
            url=restored_url,
        )
        assert after.returncode == 0, after.stderr
        # The openings of the sealed entries survive the backup too.
        for name in ("entries.jsonl", "checkpoint.txt", "key.txt", "openings-HASIL.json"):
            assert (tmp_path / "after" / name).read_bytes() == (
                tmp_path / "before" / name
            ).read_bytes()
        state = tmp_path / "state"
        verified = cli(
            "log",
            "verify",
            "--export",
            str(tmp_path / "after"),
            "--key",
            key,
            "--state",
            str(state),
            data=restored,
            url=restored_url,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert (
            verified.stdout.startswith("OK: ") and "3 replayed in 1 closed exams" in verified.stdout
        )
        assert "level: full replay" in verified.stdout
    finally:
        for drop in drops:
            drop()
