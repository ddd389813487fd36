"""A real Seleksi server in a subprocess (``python -m exam serve``) on a free port, with a
prepared database: the demo bank, a committee member, five applicants and two open exams,
UJI (10 minutes) and KILAT (12 seconds).

``prepare_data`` fills a data dir (SQLite there, or a given PostgreSQL database) and
``LiveServer`` starts, SIGKILLs and restarts a server process on it; the session-scoped
``server`` fixture is one such server on SQLite for the whole run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from exam.adapters import database, migrate
from exam.adapters.models import Enrollment, Exam, User
from exam.adapters.security import password_hasher
from exam.adapters.settings import Settings
from exam.cat.blueprint import ContentRule, ExamConfig, ExposureConfig, SectionConfig
from exam.usecases import answering, delivery
from proctoring import checkpoints

PASSWORD = "demo"
APPLICANTS = [f"peserta{i:02d}" for i in range(1, 8)]
EXAMS = (("UJI", 600), ("KILAT", 12))


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


def prepare_data(data: Path, database_url: str | None = None) -> Settings:
    """Migrate the database (SQLite in ``data``, or ``database_url``) and fill it: the demo
    bank, ``komite``, the observer ``pengamat``, the applicants and the open exams of
    ``EXAMS``. Returns its settings."""
    import itembank
    from itembank import repository
    from itembank.transfer import read_bank_file

    data.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        data_dir=data, database_url=database_url, argon2_time_cost=1, argon2_memory_kib=8
    )
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    hasher = password_hasher(settings)
    with database.session_factory(engine)() as session, session.begin():
        repository.import_items(
            session, read_bank_file(Path(itembank.__file__).parent / "demo_bank.json")
        )
        session.add(User(username="pengamat", password_hash=hasher.hash(PASSWORD), role="observer"))
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
        for code, duration in EXAMS:
            exam = delivery.new_exam(session, short_exam(code, duration))
            for k, user in enumerate(users[1:]):
                delivery.enroll(session, exam, user.id, f"{code}-{k}", f"Peserta {k + 1}")
            delivery.open_exam(session, exam, delivery_now())
    engine.dispose()
    return settings


def prepare_closed_exam(settings: Settings, code: str = "HASIL", checkpoint: bool = False) -> None:
    """A small exam that three applicants have taken and the committee has closed, its
    results not yet published (for the results pages); ``checkpoint`` signs one at the
    close, as the committee's close does."""
    import dataclasses
    import random
    from datetime import timedelta

    from exam.adapters.runtime import runtime
    from exam.usecases import closing

    engine = database.sync_engine(settings)
    factory = database.session_factory(engine)
    start = delivery_now() - timedelta(hours=1)
    config = dataclasses.replace(short_exam(code, 600), rules={"vacancies": {"Auditor": 1}})
    with factory() as session, session.begin():
        exam = delivery.new_exam(session, config)
        users = session.query(User).filter(User.username.in_(APPLICANTS[:3])).all()
        for k, user in enumerate(sorted(users, key=lambda u: u.username)):
            delivery.enroll(session, exam, user.id, f"{code}-{k}", f"Peserta {k + 1}", "Auditor")
        delivery.open_exam(session, exam, start)
        exam_id = exam.id
    rng = random.Random(11)
    for k in range(3):
        with factory() as session, session.begin():
            exam = session.get(Exam, exam_id)
            enr = session.query(Enrollment).filter_by(registration_number=f"{code}-{k}").one()
            view = delivery.start_attempt(session, runtime(exam), exam, enr, start)
        while view.item is not None:
            with factory() as session, session.begin():
                exam = session.get(Exam, exam_id)
                enr = session.query(Enrollment).filter_by(registration_number=f"{code}-{k}").one()
                attempt = delivery.find_attempt(session, enr, lock=True)
                choice = rng.choice([key for key, _ in view.item.options])
                answering.submit_answer(
                    session,
                    runtime(exam),
                    attempt,
                    enr,
                    view.step,
                    view.item.item_id,
                    choice,
                    start,
                )
                view = delivery.view(runtime(exam), attempt, start)
    with factory() as session, session.begin():
        exam = session.get(Exam, exam_id)
        closing.close_exam(session, exam, runtime(exam), 1, start + timedelta(minutes=30))
        if checkpoint:
            checkpoints.sign(session, settings.log_signer(), settings.log_origin, "exam_close")
    engine.dispose()


RICH_EXAM, RICH_APPLICANT = "GAMBAR", "gambar01"


def prepare_rich_exam(settings: Settings) -> None:
    """The demo's rich TIU items in the bank (figures in SVG, tables, MathML), and an open
    exam ``GAMBAR`` of one figural and one numerical item for the applicant ``gambar01``,
    drawn from copies of them in a domain of their own (``GBR``), so that only they can
    be drawn."""
    from dataclasses import replace

    from itembank import repository
    from itembank.demo_rich import rich_items

    engine = database.sync_engine(settings)
    with database.session_factory(engine)() as session, session.begin():
        items, pictures = rich_items()
        items += [replace(i, item_id=i.item_id.replace("TIU", "GBR"), domain="GBR") for i in items]
        repository.import_items(session, [(i, "demo", i.item_id) for i in items], pictures)
        user = User(
            username=RICH_APPLICANT,
            password_hash=password_hasher(settings).hash(PASSWORD),
            role="applicant",
        )
        session.add(user)
        session.flush()
        config = ExamConfig(
            RICH_EXAM,
            "Ujian gambar",
            (
                SectionConfig(
                    "TIU",
                    "GBR",
                    kind="fixed",
                    max_items=2,
                    content=(ContentRule("figural", 1, 1), ContentRule("numerik", 1, 1)),
                ),
            ),
            600,
        )
        exam = delivery.new_exam(session, config)
        delivery.enroll(session, exam, user.id, f"{RICH_EXAM}-0", "Peserta Gambar")
        delivery.open_exam(session, exam, delivery_now())
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``python -m exam serve`` on one data dir (and database) and one port: start it, kill
    it with SIGKILL, start it again. Its output goes to ``server.log`` in the data dir."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the server is not running"
        return self.proc.pid

    def _env(self) -> dict[str, str]:
        env = dict(
            os.environ,
            SELEKSI_DATA_DIR=str(self.settings.data_dir),
            SELEKSI_ARGON2_TIME_COST=str(self.settings.argon2_time_cost),
            SELEKSI_ARGON2_MEMORY_KIB=str(self.settings.argon2_memory_kib),
        )
        env.pop("SELEKSI_DATABASE_URL", None)
        if self.settings.database_url:
            env["SELEKSI_DATABASE_URL"] = self.settings.database_url
        return env

    def start(self, timeout: float = 30.0) -> str:
        """Start the server and wait until it answers ``/healthz``; returns its URL."""
        assert self.proc is None or self.proc.poll() is not None, "the server is running"
        self.starts += 1
        with open(self.settings.data_dir / "server.log", "ab") as out:
            out.write(f"--- start {self.starts}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "exam", "serve", "--port", str(self.port)],
                env=self._env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1)
                return self.url
            except OSError:
                time.sleep(0.1)
        self.proc.kill()
        self.proc.wait(timeout=10)
        pytest.fail(f"the server did not start within {timeout} s: {self.log_tail()}")

    def kill9(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing; then reap the process."""
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def restart(self) -> str:
        """Start again on the same data dir and port (after ``kill9`` or ``stop``)."""
        return self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return (self.settings.data_dir / "server.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A server on a free port with exams UJI (10 min) and KILAT (12 s) open, HASIL
    taken by three applicants and closed, and GAMBAR (figures, tables, MathML) open."""
    settings = prepare_data(tmp_path_factory.mktemp("browser-data"))
    prepare_closed_exam(settings)
    prepare_rich_exam(settings)
    live = LiveServer(settings)
    url = live.start()  # its default: a loaded machine takes more than 10 s
    yield url
    live.stop()


def delivery_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
