"""The answer use case that the item page and the JSON API share, on both databases: found
by attempt id or by exam code, only for its own user, idempotent, and a refusal is returned
with what it changed kept."""

from datetime import timedelta

import pytest

from exam.adapters.models import Attempt, Exam, Response
from exam.adapters.runtime import runtime
from exam.usecases import answering, delivery
from tests.db.test_delivery import T0, load, opened  # noqa: F401 (the fixture)


def runtime_of(session, key):
    return runtime(session.get(Exam, key.id))


def start(session_maker, exam_id, enrollment_id):
    with session_maker() as session, session.begin():
        exam, enr, rt = load(session, exam_id, enrollment_id)
        return delivery.start_attempt(session, rt, exam, enr, T0), enr.user_id


def test_both_doors_store_the_same_answer(session_maker, opened):  # noqa: F811
    exam_id, enrollment_id, _ = opened
    view, user_id = start(session_maker, exam_id, enrollment_id)
    now = T0 + timedelta(seconds=30)
    with session_maker() as session, session.begin():
        by_id = answering.answer(
            session, runtime_of, user_id, 0, view.item.item_id, "A", now, attempt_id=view.attempt_id
        )
    assert by_id.refusal is None and by_id.reply.next_step == 1
    assert by_id.view.step == 1 and by_id.following.item_id == by_id.view.item.item_id
    # The same answer again, through the other door: the same reply, nothing stored twice.
    with session_maker() as session, session.begin():
        again = answering.answer(
            session, runtime_of, user_id, 0, view.item.item_id, "A", now, exam_code="UJI"
        )
        assert again.reply == by_id.reply
        assert session.query(Response).count() == 1
    # Another answer to the answered step of a fixed section changes it.
    with session_maker() as session, session.begin():
        other = answering.answer(
            session, runtime_of, user_id, 0, view.item.item_id, "B", now, exam_code="UJI"
        )
    with session_maker() as session:
        assert session.query(Response).one().choice == "B"
    assert other.reply.log_index > by_id.reply.log_index and other.view.step == 1
    # A step the section does not have is refused, not raised.
    with session_maker() as session, session.begin():
        wrong = answering.answer(
            session, runtime_of, user_id, 99, view.item.item_id, "B", now, exam_code="UJI"
        )
    assert wrong.reply is None and "not an item of section" in wrong.refusal.reason


def test_only_the_users_own_attempt(session_maker, opened):  # noqa: F811
    exam_id, enrollment_id, _ = opened
    view, user_id = start(session_maker, exam_id, enrollment_id)
    with session_maker() as session, session.begin():
        for kwargs in ({"attempt_id": view.attempt_id}, {"exam_code": "UJI"}):
            with pytest.raises(answering.AttemptNotFoundError):
                answering.answer(
                    session, runtime_of, user_id + 999, 0, view.item.item_id, "A", T0, **kwargs
                )
        with pytest.raises(answering.AttemptNotFoundError):
            answering.answer(
                session, runtime_of, user_id, 0, view.item.item_id, "A", T0, exam_code="NOPE"
            )


def test_an_answer_after_the_deadline_finishes_the_attempt(session_maker, opened):  # noqa: F811
    exam_id, enrollment_id, _ = opened
    view, user_id = start(session_maker, exam_id, enrollment_id)
    late = T0 + timedelta(hours=2)
    with session_maker() as session, session.begin():
        done = answering.answer(
            session, runtime_of, user_id, 0, view.item.item_id, "A", late, exam_code="UJI"
        )
    assert done.reply is None and "time is up" in done.refusal.reason
    assert done.view.status == "finished"
    with session_maker() as session:
        assert session.get(Attempt, view.attempt_id).status == "finished"
