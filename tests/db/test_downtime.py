"""Downtime is credited: the gap since the last heartbeat moves the deadlines of the
attempts running then, once, and is logged so the verifier accepts the later answers."""

import json
from datetime import timedelta

from exam.adapters.models import Attempt, Heartbeat
from exam.usecases import delivery, downtime
from proctoring import log
from proctoring.verify import Report, _check_events
from tests.db.test_delivery import T0, load, opened  # noqa: F401 (the fixture)


def entries(session, kind: str) -> list[dict]:
    found = [json.loads(r.entry) for r in log.entries(session, 0, log.size(session))]
    return [e for e in found if e["type"] == kind]


def test_the_gap_since_the_last_beat_is_credited_once(session_maker, opened):  # noqa: F811
    exam_id, enrollment_id, _ = opened
    with session_maker() as session, session.begin():
        exam, enrollment, rt = load(session, exam_id, enrollment_id)
        view = delivery.start_attempt(session, rt, exam, enrollment, T0)
    with session_maker() as session, session.begin():
        downtime.beat(session, T0 + timedelta(seconds=60))
    before = view.deadline
    # The service comes back 5 minutes after its last beat.
    back = T0 + timedelta(seconds=360)
    with session_maker() as session, session.begin():
        assert downtime.credit(session, back) == {exam.code: 1}
    with session_maker() as session:
        attempt = session.query(Attempt).one()
        assert attempt.deadline_at - before == timedelta(seconds=300)
        assert session.get(Heartbeat, 1).beat_at == back
        [logged] = entries(session, "downtime_credited")
    assert logged["credit_ms"] == 300_000 and logged["attempts"] == 1
    assert logged["from"] == int((T0 + timedelta(seconds=60)).timestamp() * 1000)
    # A second process starting right after finds a fresh beat: nothing more.
    with session_maker() as session, session.begin():
        assert downtime.credit(session, back + timedelta(seconds=1)) == {}
    with session_maker() as session, session.begin():
        downtime.beat(session, back + timedelta(seconds=3))
    # A short pause between beats is not downtime.
    with session_maker() as session, session.begin():
        assert downtime.credit(session, back + timedelta(seconds=3 + downtime.GAP_S)) == {}
    with session_maker() as session:
        assert session.query(Attempt).one().deadline_at == before + timedelta(seconds=300)
        assert len(entries(session, "downtime_credited")) == 1


def test_finished_and_expired_attempts_get_no_credit(session_maker, opened):  # noqa: F811
    exam_id, enrollment_id, _ = opened
    with session_maker() as session, session.begin():
        exam, enrollment, rt = load(session, exam_id, enrollment_id)
        view = delivery.start_attempt(session, rt, exam, enrollment, T0)
    # The last beat came after this attempt's time had run out.
    with session_maker() as session, session.begin():
        downtime.beat(session, view.deadline + timedelta(seconds=1))
    with session_maker() as session, session.begin():
        assert downtime.credit(session, view.deadline + timedelta(hours=1)) == {}
        assert session.query(Attempt).one().deadline_at == view.deadline
        assert entries(session, "downtime_credited") == []


def test_the_verifier_applies_the_credit_to_the_deadline():
    start = {"type": "attempt_started", "exam": "X", "pseudonym": "P1", "t": 0, "deadline": 1000}
    served = {"type": "item_served", "exam": "X", "pseudonym": "P1", "t": 1, "step": 0, "item": "I"}
    late = {"type": "answer", "exam": "X", "pseudonym": "P1", "t": 1500, "step": 0, "item": "I"}
    credit = {"type": "downtime_credited", "exam": "X", "t": 900, "from": 400, "credit_ms": 800}
    other = dict(credit, exam="Y")
    for extra, problems in (([credit], 0), ([], 1), ([other], 1)):
        report = Report()
        stream = [start, served, *extra, late]
        _check_events([dict(e, _index=i) for i, e in enumerate(stream)], report)
        assert len(report.problems) == problems, report.problems


def test_processes_starting_together_on_a_new_database_all_start(session_maker):
    """Two workers find no heartbeat row at once: the second waits for the first's insert
    instead of failing on the primary key (which stopped that worker at startup)."""
    import threading

    first = session_maker()
    first.begin()
    assert downtime.credit(first, T0) == {}
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with session_maker() as session, session.begin():
                downtime.credit(session, T0 + timedelta(milliseconds=10))
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.3)  # the second is now waiting for the first's row
    first.commit()
    first.close()
    thread.join(10)
    assert not thread.is_alive() and errors == []
    with session_maker() as session:
        assert session.get(Heartbeat, 1) is not None
