"""Exam delivery on both databases: open, start, resume, answer, finish, replay."""

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import itembank
from exam.adapters.models import Attempt, Enrollment, Exam, Response, User
from exam.adapters.runtime import RuntimeRegistry, runtime
from exam.cat.blueprint import ContentRule, ExamConfig, ExposureConfig, SectionConfig
from exam.cat.replay import replay_exam
from exam.errors import Kind
from exam.usecases import answering, delivery
from itembank import repository
from itembank.transfer import read_bank_file
from proctoring import log, openings
from proctoring.models import LogEntry

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
TWK_TOPICS = ("nasionalisme", "integritas", "bela_negara", "pilar_negara", "bahasa_indonesia")


def demo_config(duration_s: int = 3600) -> ExamConfig:
    return ExamConfig(
        "UJI",
        "Ujian uji",
        (
            SectionConfig(
                "TWK",
                "TWK",
                kind="fixed",
                max_items=10,
                content=tuple(ContentRule(t, 2, 2) for t in TWK_TOPICS),
            ),
            SectionConfig(
                "TIU", "TIU", max_items=8, exposure=ExposureConfig("randomesque"), pilot_rate=0.25
            ),
            SectionConfig("TKP", "TKP", kind="fixed", max_items=6),
        ),
        duration_s,
    )


@pytest.fixture
def opened(session_maker):
    demo = Path(itembank.__file__).parent / "demo_bank.json"
    with session_maker() as session, session.begin():
        repository.import_items(session, read_bank_file(demo))
        user = User(username="peserta01", password_hash="x", role="applicant")
        session.add(user)
        session.flush()
        exam = delivery.new_exam(session, demo_config())
        enrollment = delivery.enroll(
            session,
            exam,
            user.id,
            "REG-0001",
            "Siti",
            formation="Analis",
            attributes={"gender": "P"},
        )
        commitment = delivery.open_exam(session, exam, T0)
    return exam.id, enrollment.id, commitment.index


def load(session, exam_id, enrollment_id):
    exam = session.get(Exam, exam_id)
    return exam, session.get(Enrollment, enrollment_id), runtime(exam)


def answer_all(session_maker, exam_id, enrollment_id, choose=lambda v: "A", start=T0):
    now = start
    with session_maker() as session, session.begin():
        exam, enr, rt = load(session, exam_id, enrollment_id)
        view = delivery.start_attempt(session, rt, exam, enr, now)
    replies = []
    while view.item is not None:
        now += timedelta(seconds=20)
        with session_maker() as session, session.begin():
            exam, enr, rt = load(session, exam_id, enrollment_id)
            attempt = delivery.find_attempt(session, enr, lock=True)
            reply = answering.submit_answer(
                session, rt, attempt, enr, view.step, view.item.item_id, choose(view), now
            )
            replies.append((view.step, view.item.item_id, reply))
            view = delivery.view(rt, attempt, now)
    return view, replies


def test_open_commits_to_the_exam_in_the_log(session_maker, opened):
    exam_id, _, commitment = opened
    with session_maker() as session:
        exam = session.get(Exam, exam_id)
        assert exam.status == "open" and exam.bank_snapshot["hash"]
        entry = log.entries(session, commitment, commitment + 1)[0].entry
        assert '"type":"exam_committed"' in entry and exam.seed_hex not in entry
        assert '"seed_sha256":' in entry
        # The parameter table (every option's points) and the snapshot's hash are sealed.
        assert '"sealed":' in entry and "parameter" not in entry
        assert exam.snapshot_sha256 not in entry
        [opening] = openings.of_exam(session, exam.code)
        assert opening.holds() and opening.sealed in entry
        assert opening.record["bank_snapshot_sha256"] == exam.snapshot_sha256


def test_a_whole_attempt_then_replay_from_the_log(session_maker, opened):
    exam_id, enrollment_id, _ = opened
    final, replies = answer_all(session_maker, exam_id, enrollment_id)
    assert final.status == "finished" and final.item is None
    with session_maker() as session:
        _exam, enr, rt = load(session, exam_id, enrollment_id)
        attempt = delivery.find_attempt(session, enr)
        results = attempt.results
        assert set(results) == {"TWK", "TIU", "TKP"}
        assert results["TWK"]["items"] == 10 and results["TKP"]["items"] == 6
        assert results["TIU"]["items"] >= 8
        responses = session.scalars(
            select(Response).where(Response.attempt_id == attempt.id).order_by(Response.step)
        ).all()
        assert len(responses) == len(replies) == 10 + 8 + 6 + 2  # two TIU pilots
        assert [r.log_index for r in responses] == [reply.log_index for _, _, reply in replies]
        # Every answer's receipt is a real log entry naming the pseudonym, never the name.
        for r in responses:
            text = log.entries(session, r.log_index, r.log_index + 1)[0].entry
            assert f'"step":{r.step}' in text and enr.pseudonym in text and "Siti" not in text
        # Replay from the seed and the logged answers gives the same points.
        by_section = {
            s.name: [r.category for r in responses if r.section == s.name and not r.pilot]
            for s in rt.config.sections
        }
        pilots = {
            s.name: [r.category for r in responses if r.section == s.name and r.pilot]
            for s in rt.config.sections
        }
        replayed = replay_exam(
            rt.config, rt.bank, rt.seed, enr.pseudonym, by_section, pilot_responses=pilots
        )
        for name, rep in replayed.items():
            assert rep.result.points == results[name]["points"]
            served = [r.item_id for r in responses if r.section == name and not r.pilot]
            assert list(rep.result.items) == served


def test_resume_idempotent_answers_and_conflicts(session_maker, opened):
    exam_id, enrollment_id, _ = opened
    with session_maker() as session, session.begin():
        exam, enr, rt = load(session, exam_id, enrollment_id)
        first = delivery.start_attempt(session, rt, exam, enr, T0)
    with session_maker() as session, session.begin():
        exam, enr, rt = load(session, exam_id, enrollment_id)
        again = delivery.start_attempt(session, rt, exam, enr, T0 + timedelta(minutes=5))
    assert again.attempt_id == first.attempt_id and again.resumed
    assert again.item == first.item and again.remaining_seconds == 3600 - 300
    now = T0 + timedelta(minutes=6)
    with session_maker() as session, session.begin():
        exam, enr, rt = load(session, exam_id, enrollment_id)
        attempt = delivery.find_attempt(session, enr, lock=True)
        reply = answering.submit_answer(session, rt, attempt, enr, 0, first.item.item_id, "B", now)
        # The reply's log index is known once the transaction commits: not before.
        with pytest.raises(RuntimeError, match="appended when their transaction commits"):
            _ = reply.log_index
    assert reply.log_index >= 0
    with session_maker() as session, session.begin():
        exam, enr, rt = load(session, exam_id, enrollment_id)
        attempt = delivery.find_attempt(session, enr, lock=True)
        same = answering.submit_answer(session, rt, attempt, enr, 0, first.item.item_id, "B", now)
        assert same == reply and reply.next_step == 1
        # The caller's own read of the stored answer: found, and found none before a
        # concurrent request (the same answer sent twice) stored it.
        stored = answering.StoredAnswer(first.item.item_id, "B", reply.log_index, 1)
        for seen in (stored, None):
            assert reply == answering.submit_answer(
                session, rt, attempt, enr, 0, first.item.item_id, "B", now, stored=seen
            )
        # TWK is a fixed section: a different answer changes the stored one, and is logged.
        changed = answering.submit_answer(
            session, rt, attempt, enr, 0, first.item.item_id, "C", now
        )
        assert changed.next_step == 1
        with pytest.raises(delivery.DeliveryError, match="not an item of section TWK"):
            answering.submit_answer(session, rt, attempt, enr, 99, first.item.item_id, "C", now)
        with pytest.raises(delivery.DeliveryError, match="not the item served"):
            answering.submit_answer(session, rt, attempt, enr, 5, first.item.item_id, "C", now)
        with pytest.raises(delivery.DeliveryError, match="not the item served"):
            answering.submit_answer(session, rt, attempt, enr, 1, first.item.item_id, "C", now)
        with pytest.raises(delivery.DeliveryError, match="not an option") as err:
            answering.submit_answer(session, rt, attempt, enr, 1, attempt.served_item, "Z", now)
        assert err.value.kind == Kind.INVALID
    assert changed.log_index > reply.log_index
    with session_maker() as session:
        [row] = session.scalars(select(Response)).all()
        assert (row.choice, row.log_index) == ("C", changed.log_index)


def test_an_answer_after_the_deadline_is_refused_and_finishes_the_attempt(session_maker, opened):
    exam_id, enrollment_id, _ = opened
    with session_maker() as session, session.begin():
        exam, enr, rt = load(session, exam_id, enrollment_id)
        first = delivery.start_attempt(session, rt, exam, enr, T0)
    late = T0 + timedelta(seconds=3601)
    with session_maker() as session:
        session.begin()
        exam, enr, rt = load(session, exam_id, enrollment_id)
        attempt = delivery.find_attempt(session, enr, lock=True)
        with pytest.raises(delivery.DeliveryError, match="deadline has passed"):
            answering.submit_answer(session, rt, attempt, enr, 0, first.item.item_id, "A", late)
        session.commit()
    with session_maker() as session:
        attempt = session.scalars(select(Attempt)).one()
        assert attempt.status == "finished" and attempt.finish_reason == "deadline"
        assert set(attempt.results) == {"TWK", "TIU", "TKP"}
        kinds = [e.entry for e in session.scalars(select(LogEntry).order_by(LogEntry.index))]
        assert '"type":"attempt_finished"' in kinds[-1] and '"reason":"deadline"' in kinds[-1]


def test_views_never_carry_a_key_or_points(session_maker, opened):
    exam_id, enrollment_id, _ = opened
    with session_maker() as session, session.begin():
        exam, enr, rt = load(session, exam_id, enrollment_id)
        view = delivery.start_attempt(session, rt, exam, enr, T0)
    fields = {f for f in view.item.__dataclass_fields__}
    assert fields == {"item_id", "stem", "options", "markup"}
    assert all(len(o) == 2 for o in view.item.options)


def test_the_same_answer_after_the_end_gets_the_same_reply(session_maker, opened):
    exam_id, enrollment_id, _ = opened
    _, replies = answer_all(session_maker, exam_id, enrollment_id)
    with session_maker() as session, session.begin():
        _exam, enr, rt = load(session, exam_id, enrollment_id)
        attempt = delivery.find_attempt(session, enr, lock=True)
        for step, item_id, reply in (replies[0], replies[-1]):
            again = answering.submit_answer(
                session, rt, attempt, enr, step, item_id, "A", T0 + timedelta(hours=3)
            )
            assert again == reply
        assert replies[-1][2].next_step is None and replies[0][2].next_step == 1


def test_a_section_time_limit_closes_the_section_at_the_next_answer(session_maker):
    import dataclasses

    demo = Path(itembank.__file__).parent / "demo_bank.json"
    config = demo_config()
    timed = dataclasses.replace(config.sections[0], time_limit_s=60)
    config = dataclasses.replace(config, sections=(timed, *config.sections[1:]))
    with session_maker() as session, session.begin():
        repository.import_items(session, read_bank_file(demo))
        user = User(username="u", password_hash="x", role="applicant")
        session.add(user)
        session.flush()
        exam = delivery.new_exam(session, config)
        enrollment = delivery.enroll(session, exam, user.id, "R", "N")
        delivery.open_exam(session, exam, T0)
        rt = runtime(exam)
        first = delivery.start_attempt(session, rt, exam, enrollment, T0)
    with session_maker() as session:
        session.begin()
        exam, enr, rt = load(session, exam.id, enrollment.id)
        attempt = delivery.find_attempt(session, enr, lock=True)
        with pytest.raises(delivery.DeliveryError, match="time for section TWK is up"):
            answering.submit_answer(
                session, rt, attempt, enr, 0, first.item.item_id, "A", T0 + timedelta(seconds=61)
            )
        session.commit()
    with session_maker() as session:
        attempt = session.scalars(select(Attempt)).one()
        assert attempt.results["TWK"]["items"] == 0 and attempt.results["TWK"]["points"] == 0
        assert attempt.section_index == 1 and attempt.status == "active"


def test_the_registry_compiles_an_open_exam_once(session_maker, opened):
    exam_id, _, _ = opened
    registry = RuntimeRegistry()
    with session_maker() as session:
        first = registry.get(session.get(Exam, exam_id))
    with session_maker() as session:
        exam = session.get(Exam, exam_id)
        assert registry.get(exam) is first and len(registry) == 1
        assert runtime(exam) is not first  # the plain function compiles afresh
        draft = delivery.new_exam(session, dataclasses.replace(demo_config(), code="DRAF"))
        with pytest.raises(ValueError, match="not open"):
            registry.get(draft)


def test_opening_refuses_an_exposure_cap_that_cannot_be_held(session_maker):
    """15 adaptive items per applicant from the demo bank's 44 operational TIU items: the
    exposure rates add up to 15, so no cap of 0.2 can hold; opening says so, by how much,
    and leaves the exam a draft."""
    demo = Path(itembank.__file__).parent / "demo_bank.json"
    tiu = SectionConfig("TIU", "TIU", min_items=15, max_items=15)  # default Sympson-Hetter
    with session_maker() as session, session.begin():
        repository.import_items(session, read_bank_file(demo))
        exam = delivery.new_exam(session, ExamConfig("SH", "Uji", (tiu,), 3600))
        with pytest.raises(delivery.DeliveryError) as caught:
            delivery.open_exam(session, exam, T0)
        assert caught.value.kind == Kind.INVALID
        assert "section TIU: Sympson-Hetter cannot hold item exposure at r_max 0.2" in str(
            caught.value
        )
        assert "at least 15 items from a pool of 44" in str(caught.value)  # operational
        assert exam.status == "draft"
