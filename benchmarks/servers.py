"""A real Seleksi server for the benchmarks: a fresh database (SQLite, or a new PostgreSQL
database dropped afterwards) prepared with a synthetic 3PL bank, applicants and the open
exam LOAD; ``python -m exam serve`` on a free port; and the processor time of the server's
processes, PostgreSQL's and this process (Linux /proc). ``load.py``, ``layers.py`` and
``faults.py`` share it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from exam.adapters import database, migrate
from exam.adapters.models import User
from exam.adapters.security import password_hasher
from exam.adapters.settings import Settings
from exam.cat.blueprint import ExamConfig, SectionConfig
from exam.usecases import delivery
from itembank import repository
from itembank.synthetic import synthetic_items

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PASSWORD = "load-test"
EXAM_CODE = "LOAD"
ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8}


def load_exam(items: int) -> ExamConfig:
    """One adaptive section of exactly ``items`` items, default exposure control."""
    section = SectionConfig("TIU", "TIU", min_items=items, max_items=items, passing_grade=0)
    return ExamConfig(EXAM_CODE, "Load test", (section,), duration_s=3 * 3600)


def prepare(
    settings: Settings,
    applicants: int,
    bank_size: int,
    items: int,
    place: Callable[[int], tuple[str, str]] | None = None,
) -> dict:
    """Schema, bank, accounts, the open exam LOAD (applicant k at the test site and room
    ``place(k)``, if given); returns the items' answer keys and 3PL parameters for the
    simulees."""
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    bank = synthetic_items(bank_size, seed=7, domain="TIU", topics=4)
    hashed = password_hasher(settings).hash(PASSWORD)
    with database.session_factory(engine)() as session, session.begin():
        repository.import_items(session, [(item, "synthetic", None) for item in bank])
        users = [
            User(username=f"load{k:05d}", password_hash=hashed, role="applicant")
            for k in range(applicants)
        ]
        session.add_all(users)
        session.flush()
        exam = delivery.new_exam(session, load_exam(items))
        for k, user in enumerate(users):
            site, room = place(k) if place else ("", "")
            number = f"L-{k:05d}"
            delivery.enroll(session, exam, user.id, number, f"Peserta {k}", site=site, room=room)
        delivery.open_exam(session, exam, datetime.now(UTC))
    engine.dispose()
    return {
        i.item_id: (
            i.correct,
            [o.key for o in i.options],
            float(i.a),
            float(i.b),
            float(i.c),
        )
        for i in bank
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(settings: Settings, workers: int, log_path: Path):
    """``python -m exam serve`` on a free port with ``settings``; yields the base URL."""
    port = free_port()
    env = dict(
        os.environ,
        SELEKSI_DATA_DIR=str(settings.data_dir),
        SELEKSI_ARGON2_TIME_COST=str(settings.argon2_time_cost),
        SELEKSI_ARGON2_MEMORY_KIB=str(settings.argon2_memory_kib),
    )
    env.pop("SELEKSI_DATABASE_URL", None)
    if settings.database_url:
        env["SELEKSI_DATABASE_URL"] = settings.database_url
    cmd = [sys.executable, "-m", "exam", "serve", "--port", str(port), "--workers", str(workers)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the server did not start:\n{tail}") from None
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def fresh_database(backend: str, data: Path, prefix: str = "seleksi_load"):
    """Settings on a new database: SQLite in ``data``, or on PostgreSQL a new database
    ``<prefix>_<random>``, dropped afterwards."""
    if backend != "postgresql":
        yield Settings(data_dir=data, **ARGON2)
        return
    pg_name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
    try:
        yield Settings(data_dir=data, database_url=url, **ARGON2)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        admin.dispose()


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            todo += [int(c) for c in task.read_text().split()]
    return found


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """Processor seconds used so far by the server (with its worker processes), by
    PostgreSQL's processes and by this load generator (Linux /proc; empty elsewhere)."""
    try:
        server = sum(proc_cpu_s(p) for p in descendants(server_pid))
        pg = 0.0
        for stat in Path("/proc").glob("[0-9]*/comm"):
            with contextlib.suppress(OSError):
                if stat.read_text().strip() == "postgres":
                    pg += proc_cpu_s(int(stat.parent.name))
    except OSError:
        return {}
    return {"server": server, "postgresql": pg, "load generator": time.process_time()}
