"""The stored scores and placements checked against the audit log, on both databases: a
finished attempt's points or an enrollment's formation changed directly in the database
are caught, and the publication refuses them, naming the pseudonym."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from exam.adapters.models import Attempt, Enrollment, Exam, Publication
from exam.errors import Kind
from exam.usecases import results
from exam.usecases.closing import close_exam
from exam.usecases.delivery import DeliveryError
from exam.usecases.score_check import checked_rows
from proctoring.note import Signer
from tests.db.test_delivery import T0, answer_all, load, opened  # noqa: F401 (a fixture)


@pytest.fixture
def finished(session_maker, opened):  # noqa: F811 (the fixture imported above)
    exam_id, enrollment_id, _ = opened
    answer_all(session_maker, exam_id, enrollment_id)
    with session_maker() as session, session.begin():
        exam, enr, rt = load(session, exam_id, enrollment_id)
        close_exam(session, exam, rt, 1, T0 + timedelta(hours=3))
        pseudonym = enr.pseudonym
    return exam_id, enrollment_id, pseudonym


def publish(session_maker, exam_id):
    with session_maker() as session, session.begin():
        exam = session.get(Exam, exam_id)
        signer = Signer.generate("seleksi.test/log")
        return results.publish(session, exam, 1, T0 + timedelta(hours=4), signer)


def published_count(session_maker, exam_id) -> int:
    with session_maker() as session:
        return len(session.scalars(select(Publication).where(Publication.exam_id == exam_id)).all())


def test_untouched_rows_match_the_log_and_publish(session_maker, finished):
    exam_id, _, pseudonym = finished
    with session_maker() as session:
        checked = checked_rows(session, session.get(Exam, exam_id), placements=True)
        assert checked.mismatches == {}
        logged = checked.logged.attempts[pseudonym]
        assert logged.finished and logged.points == {
            name: r["points"] for name, r in checked.rows[0].results.items()
        }
        assert checked.logged.placements[pseudonym].formation == "Analis"
    assert publish(session_maker, exam_id).version == 1


def test_changed_points_are_caught_and_not_published(session_maker, finished, caplog):
    exam_id, enrollment_id, pseudonym = finished
    with session_maker() as session, session.begin():
        attempt = session.scalar(select(Attempt).where(Attempt.enrollment_id == enrollment_id))
        forged = dict(attempt.results)
        forged["TWK"] = {**forged["TWK"], "points": forged["TWK"]["points"] + 50}
        session.execute(
            update(Attempt.__table__).where(Attempt.id == attempt.id).values(results=forged)
        )
    with session_maker() as session:
        exam = session.get(Exam, exam_id)
        checked = checked_rows(session, exam)
        [reason] = checked.mismatches[pseudonym]
        assert reason.startswith("TWK: points") and "the log states" in reason
        computed = results.compute(session, exam)
        assert computed.rows == [] and pseudonym in computed.mismatches
    assert any(r.levelname == "ERROR" and pseudonym in r.getMessage() for r in caplog.records), (
        caplog.records
    )
    with pytest.raises(DeliveryError) as refused:
        publish(session_maker, exam_id)
    reason = refused.value.reason
    assert refused.value.kind == Kind.CONFLICT
    assert "do not match the audit log" in reason and pseudonym in reason
    assert published_count(session_maker, exam_id) == 0


def test_a_changed_formation_is_caught_and_not_published(session_maker, finished):
    exam_id, enrollment_id, pseudonym = finished
    with session_maker() as session, session.begin():
        session.execute(
            update(Enrollment.__table__)
            .where(Enrollment.id == enrollment_id)
            .values(formation="Pranata Komputer")
        )
    with pytest.raises(DeliveryError) as refused:
        publish(session_maker, exam_id)
    assert pseudonym in refused.value.reason and "'Pranata Komputer'" in refused.value.reason
    assert "the log states formation 'Analis'" in refused.value.reason
    assert published_count(session_maker, exam_id) == 0
    # Put back as the log states it, the table publishes.
    with session_maker() as session, session.begin():
        session.execute(
            update(Enrollment.__table__)
            .where(Enrollment.id == enrollment_id)
            .values(formation="Analis")
        )
    assert publish(session_maker, exam_id).version == 1


def test_a_finished_attempt_set_back_to_active_is_caught(session_maker, finished):
    exam_id, enrollment_id, pseudonym = finished
    with session_maker() as session, session.begin():
        session.execute(
            update(Attempt.__table__)
            .where(Attempt.enrollment_id == enrollment_id)
            .values(status="active")
        )
    with session_maker() as session:
        checked = checked_rows(session, session.get(Exam, exam_id))
        assert checked.mismatches[pseudonym] == [
            "the log has finished the attempt, the table has not"
        ]
    with pytest.raises(DeliveryError, match=pseudonym):
        publish(session_maker, exam_id)
