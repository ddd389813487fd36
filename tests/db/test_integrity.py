"""Before results are published the exam replays from its log and every stored answer is
the one its sealed entry commits to: rows changed behind the application's back (a
response's choice, a stored opening, a deleted response) stop the publication."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from exam.adapters.models import Exam
from exam.usecases import results
from exam.usecases.delivery import DeliveryError
from exam.usecases.integrity import check_exam
from proctoring.note import Signer
from tests.db.test_delivery import T0
from tests.db.test_log_verify import closed_exam  # noqa: F401 (the fixture)


def publish(session_maker, exam_id):
    with session_maker() as session, session.begin():
        exam = session.get(Exam, exam_id)
        signer = Signer.generate("seleksi.test/log")
        return results.publish(session, exam, 1, T0 + timedelta(hours=4), signer)


def problems(session_maker, exam_id) -> list[str]:
    with session_maker() as session:
        return check_exam(session, session.get(Exam, exam_id))


def change(session_maker, sql: str) -> None:
    with session_maker() as session, session.begin():
        session.execute(text(sql))


def test_an_untouched_exam_replays_and_publishes(session_maker, closed_exam):  # noqa: F811
    assert problems(session_maker, closed_exam) == []
    assert publish(session_maker, closed_exam).version == 1


def test_a_changed_choice_stops_the_publication(session_maker, closed_exam):  # noqa: F811
    change(
        session_maker,
        "UPDATE responses SET choice = CASE WHEN choice = 'A' THEN 'B' ELSE 'A' END "
        "WHERE id = (SELECT MIN(id) FROM responses)",
    )
    found = problems(session_maker, closed_exam)
    assert len(found) == 1 and "the stored answer differs from the log's" in found[0]
    with pytest.raises(DeliveryError, match="do not follow from the audit log"):
        publish(session_maker, closed_exam)


def test_a_changed_opening_or_a_lost_answer_stops_it_too(session_maker, closed_exam):  # noqa: F811
    with session_maker() as session:
        # The scored outcome is an answer's inner part: its own opening, nested.
        sealed, record = session.execute(
            text("SELECT sealed, record FROM log_openings WHERE record LIKE '%\"category\"%'")
        ).first()
    forged = json.dumps({"category": 1 - json.loads(record)["category"]})
    change(session_maker, f"UPDATE log_openings SET record = '{forged}' WHERE sealed = '{sealed}'")
    change(session_maker, "DELETE FROM responses WHERE id = (SELECT MAX(id) FROM responses)")
    found = problems(session_maker, closed_exam)
    assert any("does not give its commitment" in p for p in found), found
    assert any("an answer in the log that is not stored" in p for p in found), found
    with pytest.raises(DeliveryError):
        publish(session_maker, closed_exam)
