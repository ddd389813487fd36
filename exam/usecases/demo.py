"""The demo: a complete exam on the Indonesian demo bank, ready to take.

``prepare_demo`` is idempotent: it creates what is missing (schema, bank, accounts, the
exam ``DEMO`` and its enrollments) and leaves the rest as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

import itembank
from exam.adapters import database, migrate
from exam.adapters.models import Enrollment, Exam, User
from exam.adapters.security import password_hasher
from exam.adapters.settings import Settings
from exam.cat.blueprint import ContentRule, ExamConfig, ExposureConfig, SectionConfig
from exam.usecases import delivery, rooms
from itembank import repository
from itembank.demo_rich import rich_items
from itembank.transfer import read_bank_file
from proctoring import checkpoints

DEMO_PASSWORD = "demo"
DEMO_CODE = "DEMO"
TWK_TOPICS = ("nasionalisme", "integritas", "bela_negara", "pilar_negara", "bahasa_indonesia")
FORMATIONS = ("Analis Kebijakan", "Pranata Komputer", "Auditor")


def demo_exam(points_correct: int) -> ExamConfig:
    """SKD-style: TWK as a random fixed form, TIU adaptive, TKP as a fixed form.

    The demo bank is small (about 45 items per section), so TIU uses randomesque exposure
    control rather than derived Sympson–Hetter parameters; TKP has 40 items (up to 200
    points) and its passing grade is CAT BKN's 166 of 225 scaled to 148 of 200. A correct
    TWK or TIU answer earns ``points_correct`` (the settings' default for a new exam).
    """
    return ExamConfig(
        code=DEMO_CODE,
        title="Ujian Demo Seleksi Kompetensi Dasar",
        sections=(
            SectionConfig(
                "TWK",
                "TWK",
                kind="fixed",
                max_items=30,
                passing_grade=65,
                content=tuple(ContentRule(t, 6, 6) for t in TWK_TOPICS),
            ),
            SectionConfig(
                "TIU",
                "TIU",
                max_items=20,
                min_items=15,
                se_target=0.35,
                exposure=ExposureConfig("randomesque", k=4),
                passing_grade=80,
                pilot_rate=0.1,
            ),
            SectionConfig("TKP", "TKP", kind="fixed", max_items=40, passing_grade=148),
        ),
        duration_s=100 * 60,
        points_correct=points_correct,
    )


#: The demo's test site; its applicants sit in rooms of ten, the first watched by ``proctor``.
DEMO_SITE = "Jakarta-1"


def _room(k: int) -> str:
    return f"Ruang {k // 10 + 1}"


def applicant_names(count: int) -> list[str]:
    width = max(2, len(str(count)))
    return [f"applicant{i:0{width}d}" for i in range(1, count + 1)]


@dataclass(frozen=True)
class DemoInfo:
    exam_code: str
    committee: str
    observer: str
    proctor: str
    applicants: list[str]
    password: str
    log_key: str


def prepare_demo(settings: Settings, applicants: int = 50) -> DemoInfo:
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    names = applicant_names(applicants)
    hasher = password_hasher(settings)
    demo_hash = None
    with database.session_factory(engine)() as session, session.begin():
        if not repository.known_item_ids(session):
            demo = Path(itembank.__file__).parent / "demo_bank.json"
            repository.import_items(session, read_bank_file(demo))
            figural, pictures = rich_items()
            repository.import_items(session, [(i, "demo", i.item_id) for i in figural], pictures)
        existing = set(session.scalars(select(User.username)))
        for name, role in [
            ("committee", "committee"),
            ("observer", "observer"),
            ("proctor", "proctor"),
            *((n, "applicant") for n in names),
        ]:
            if name not in existing:
                demo_hash = demo_hash or hasher.hash(DEMO_PASSWORD)
                session.add(
                    User(
                        username=name,
                        password_hash=demo_hash,
                        role=role,
                        display_name=name.capitalize(),
                    )
                )
        session.flush()
        exam = session.scalar(select(Exam).where(Exam.code == DEMO_CODE))
        if exam is None:
            exam = delivery.new_exam(session, demo_exam(settings.points_correct))
        enrolled = set(
            session.scalars(
                select(Enrollment.registration_number).where(Enrollment.exam_id == exam.id)
            )
        )
        users = {u.username: u for u in session.scalars(select(User))}
        if not rooms.proctor_rooms(session, users["proctor"].id):
            rooms.bind_proctor(session, users["proctor"], [(DEMO_SITE, _room(0))])
        for k, name in enumerate(names):
            if name not in enrolled:
                delivery.enroll(
                    session,
                    exam,
                    users[name].id,
                    name,
                    f"Peserta {k + 1}",
                    formation=FORMATIONS[k % len(FORMATIONS)],
                    attributes={
                        "gender": "P" if k % 2 else "L",
                        "region": ("Jawa", "Sumatra", "Sulawesi", "Papua")[k % 4],
                        "room": _room(k),
                    },
                    site=DEMO_SITE,
                    room=_room(k),
                )
        if exam.status == "draft":
            delivery.open_exam(
                session, exam, datetime.now(UTC), exposure_tolerance=settings.exposure_tolerance
            )
            checkpoints.sign(session, settings.log_signer(), settings.log_origin, "exam_open")
    engine.dispose()
    return DemoInfo(
        DEMO_CODE,
        "committee",
        "observer",
        "proctor",
        names,
        DEMO_PASSWORD,
        str(settings.log_signer().verifier),
    )
