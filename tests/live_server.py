"""A real Seleksi server in a subprocess (``python -m exam serve``) on a free port, with a
prepared SQLite database: the demo bank, a committee member, five applicants and two
open exams, UJI (10 minutes) and KILAT (12 seconds)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from exam import database, delivery, migrate
from exam.blueprint import ContentRule, ExamConfig, ExposureConfig, SectionConfig
from exam.models import User
from exam.security import password_hasher
from exam.settings import Settings

PASSWORD = "demo"
APPLICANTS = [f"peserta{i:02d}" for i in range(1, 6)]


def short_exam(code: str, duration_s: int) -> ExamConfig:
    topics = ("nasionalisme", "integritas", "bela_negara", "pilar_negara", "bahasa_indonesia")
    return ExamConfig(
        code,
        f"Ujian {code}",
        (
            SectionConfig(
                "TWK",
                "TWK",
                kind="fixed",
                max_items=5,
                content=tuple(ContentRule(t, 1, 1) for t in topics),
                passing_grade=15,
            ),
            SectionConfig(
                "TIU", "TIU", max_items=4, exposure=ExposureConfig("randomesque"), passing_grade=10
            ),
        ),
        duration_s,
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A server on a free port with exams UJI (10 min) and KILAT (12 s)."""
    import itembank
    from itembank import repository
    from itembank.transfer import read_bank_file

    data = tmp_path_factory.mktemp("browser-data")
    settings = Settings(data_dir=data, argon2_time_cost=1, argon2_memory_kib=8)
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    hasher = password_hasher(settings)
    with database.session_factory(engine)() as session, session.begin():
        repository.import_items(
            session, read_bank_file(Path(itembank.__file__).parent / "demo_bank.json")
        )
        users = []
        for name in ["komite", *APPLICANTS]:
            user = User(
                username=name,
                password_hash=hasher.hash(PASSWORD),
                role="committee" if name == "komite" else "applicant",
            )
            session.add(user)
            users.append(user)
        session.flush()
        for code, duration in (("UJI", 600), ("KILAT", 12)):
            exam = delivery.new_exam(session, short_exam(code, duration))
            for k, user in enumerate(users[1:]):
                delivery.enroll(session, exam, user.id, f"{code}-{k}", f"Peserta {k + 1}")
            delivery.open_exam(session, exam, delivery_now())
    engine.dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        SELEKSI_DATA_DIR=str(data),
        SELEKSI_ARGON2_TIME_COST="1",
        SELEKSI_ARGON2_MEMORY_KIB="8",
    )
    env.pop("SELEKSI_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "exam", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def delivery_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
