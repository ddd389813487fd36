"""A simulated exam for the forensics and fairness tests: applicants take a 12-item
adaptive TIU section through the delivery functions, with recorded times; a few guess
rapidly (a random option within 1–2 s on every item), the rest answer in 20–60 s."""

import random
from datetime import timedelta
from pathlib import Path

import itembank
from exam.adapters.models import Enrollment, Exam, User
from exam.adapters.runtime import runtime
from exam.cat.blueprint import ExamConfig, ExposureConfig, SectionConfig
from exam.usecases import answering, delivery
from itembank import repository
from itembank.transfer import read_bank_file
from tests.db.test_delivery import T0

CODE = "FORENSIK"
RAPID = 4


def screened_exam() -> ExamConfig:
    return ExamConfig(
        CODE,
        "Ujian untuk telaah forensik",
        (SectionConfig("TIU", "TIU", max_items=12, exposure=ExposureConfig("randomesque", k=3)),),
        3600,
    )


def open_exam_with(session_maker, config, applicants: int, prefix: str, attributes=None):
    """The demo bank, ``applicants`` enrolled users (registration numbers ``prefix-0000``
    …, ``attributes(k)`` as their group attributes) and ``config`` opened at T0; returns
    the exam's id and the enrollments."""
    demo = Path(itembank.__file__).parent / "demo_bank.json"
    with session_maker() as session, session.begin():
        repository.import_items(session, read_bank_file(demo))
        exam = delivery.new_exam(session, config)
        users = [
            User(username=f"{prefix.lower()}{k:03d}", password_hash="x", role="applicant")
            for k in range(applicants)
        ]
        session.add_all(users)
        session.flush()
        enrollments = [
            delivery.enroll(
                session,
                exam,
                u.id,
                f"{prefix}-{k:04d}",
                f"Peserta {k}",
                attributes=attributes(k) if attributes else None,
            )
            for k, u in enumerate(users)
        ]
        delivery.open_exam(session, exam, T0)
        return exam.id, enrollments


def answer_alone(session_maker, rt, enrollment_id: int, view, choice: str, now):
    """Answer the item of ``view`` in a transaction of its own; returns the next view."""
    with session_maker() as session, session.begin():
        enr = session.get(Enrollment, enrollment_id)
        attempt = delivery.find_attempt(session, enr, lock=True)
        answering.submit_answer(
            session, rt, attempt, enr, view.step, view.item.item_id, choice, now
        )
        return delivery.view(rt, attempt, now)


def take_exam(session_maker, applicants: int = 60) -> tuple[int, list[str]]:
    """Returns the exam's id and the pseudonyms of the rapid guessers."""
    exam_id, enrollments = open_exam_with(
        session_maker,
        screened_exam(),
        applicants,
        "F",
        lambda k: {"gender": "F" if k % 2 else "M", "room": f"R{k // 20}"},
    )
    ids = [e.id for e in enrollments]
    rapid = [e.pseudonym for e in enrollments[:RAPID]]
    with session_maker() as session:
        rt = runtime(session.get(Exam, exam_id))
    for k, enrollment_id in enumerate(ids):
        rng = random.Random(k)
        skill = rng.random()
        now = T0 + timedelta(seconds=k)
        with session_maker() as session, session.begin():
            enr = session.get(Enrollment, enrollment_id)
            view = delivery.start_attempt(session, rt, session.get(Exam, exam_id), enr, now)
        while view.item is not None:
            item = rt.content(view.item.item_id)
            keys = [key for key, _ in view.item.options]
            if k < RAPID:
                now += timedelta(seconds=rng.uniform(1, 2))
                choice = rng.choice(keys)
            else:
                now += timedelta(seconds=rng.uniform(20, 60))
                right = item.correct if item.correct and rng.random() < skill else None
                choice = right or rng.choice(keys)
            view = answer_alone(session_maker, rt, enrollment_id, view, choice, now)
    return exam_id, rapid
