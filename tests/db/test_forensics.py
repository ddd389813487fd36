"""Forensic screening and the fairness report on recorded answers, on both databases."""

import hashlib
import json
from datetime import timedelta

import pytest

from exam.adapters.models import Exam, FlagReview, ForensicFlag, User
from exam.errors import Kind
from exam.usecases.delivery import DeliveryError
from proctoring import fairness_report, forensics, log
from proctoring.verify import Report, _check_events
from tests.db.test_delivery import T0
from tests.forensic_exam import RAPID, take_exam

NOW = T0 + timedelta(hours=3)


def entries_of(session, kind: str) -> list[dict]:
    texts = [r.entry for r in log.entries(session, 0, log.size(session))]
    return [e for e in map(json.loads, texts) if e["type"] == kind]


def staff(session, role: str) -> int:
    user = User(username=f"{role}-1", password_hash="x", role=role)
    session.add(user)
    session.flush()
    return user.id


def test_screening_flags_the_rapid_guessers_and_commits_every_flag(session_maker):
    exam_id, rapid = take_exam(session_maker)
    with session_maker() as session, session.begin():
        exam = session.get(Exam, exam_id)
        [tiu] = forensics.section_answers(session, exam)
        assert tiu.section == "TIU" and len(tiu.persons) == 60
        assert (tiu.responses >= 0).sum(1).tolist() == [12] * 60
        assert set(tiu.rooms) == {"R0", "R1", "R2"}
        summary = forensics.run(
            session, exam, staff(session, "observer"), "observer", NOW, n_boot=50
        )
    rapid_flags = [f for f in summary.result.flags if f.kind == "rapid_guessing"]
    assert sorted(p for f in rapid_flags for p in f.pseudonyms) == sorted(rapid)
    assert summary.raised == len(summary.result.flags) >= RAPID
    tested = {(t.section, t.kind): t.tested for t in summary.result.tested}
    assert tested[("TIU", "person_fit")] == 60 and tested[("TIU", "similarity")] > 0
    with session_maker() as session:
        flags = session.query(ForensicFlag).all()
        raised = {e["flag"]: e for e in entries_of(session, "flag_raised")}
        [run] = entries_of(session, "forensics_run")
    assert run["raised"] == len(flags) and run["role"] == "observer"
    for flag in flags:
        # The log commits to the flag's document: anyone holding it can check the hash.
        assert hashlib.sha256(flag.document.encode()).hexdigest() == flag.commitment
        assert raised[flag.id]["commitment"] == flag.commitment
        assert raised[flag.id]["pseudonyms"] == flag.pseudonyms
        assert raised[flag.id]["statistic"] == flag.kind
        assert json.loads(flag.document)["evidence"]
    # A second run raises nothing already raised.
    with session_maker() as session, session.begin():
        again = forensics.run(session, session.get(Exam, exam_id), 1, "observer", NOW, n_boot=50)
    with session_maker() as session:
        assert session.query(ForensicFlag).count() == len(flags) + again.raised
        kinds = [(f.kind, f.section, f.subject) for f in session.query(ForensicFlag)]
        assert len(kinds) == len(set(kinds))


def test_notes_and_decisions_are_logged_by_the_hash_of_their_text(session_maker):
    exam_id, _ = take_exam(session_maker, applicants=40)
    with session_maker() as session, session.begin():
        exam = session.get(Exam, exam_id)
        observer, committee = staff(session, "observer"), staff(session, "committee")
        forensics.run(session, exam, committee, "committee", NOW, n_boot=50)
        flag = session.query(ForensicFlag).filter_by(kind="rapid_guessing").first()
        forensics.review(
            session, flag, exam, "Dilihat pengawas ruang", "", observer, "observer", NOW
        )
        with pytest.raises(DeliveryError) as refused:
            forensics.review(session, flag, exam, "x", "no_action", observer, "observer", NOW)
        assert refused.value.kind == Kind.FORBIDDEN
        for bad in (("", ""), ("x", "sanction")):
            with pytest.raises(DeliveryError) as invalid:
                forensics.review(session, flag, exam, *bad, committee, "committee", NOW)
            assert invalid.value.kind == Kind.INVALID
        text = "Listrik padam; peserta mengulang di PC lain"
        forensics.review(session, flag, exam, text, "no_action", committee, "committee", NOW)
        flag_id = flag.id
    with session_maker() as session:
        assert session.get(ForensicFlag, flag_id).status == "no_action"
        assert [r.role for r in session.query(FlagReview)] == ["observer", "committee"]
        [note] = entries_of(session, "flag_note")
        [decision] = entries_of(session, "flag_decision")
    assert note["flag"] == decision["flag"] == flag_id
    assert decision["decision"] == "no_action"
    assert decision["text_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert "Listrik" not in json.dumps(decision)
    # The log with its flags, notes and decision keeps every event rule of the verifier.
    with session_maker() as session:
        texts = [r.entry for r in log.entries(session, 0, log.size(session))]
    report = Report()
    _check_events([dict(json.loads(t), _index=i) for i, t in enumerate(texts)], report)
    assert report.problems == []


def test_settings_are_checked_and_logged(session_maker):
    exam_id, _ = take_exam(session_maker, applicants=20)
    with session_maker() as session, session.begin():
        exam = session.get(Exam, exam_id)
        served = forensics.served_items(session, exam)
        with pytest.raises(DeliveryError, match="level"):
            forensics.set_settings(session, exam, 0.5, [], 1, "committee", NOW)
        with pytest.raises(DeliveryError, match="NOPE"):
            forensics.set_settings(session, exam, 0.05, ["NOPE"], 1, "committee", NOW)
        forensics.set_settings(session, exam, 0.1, served[:3], 1, "committee", NOW)
        summary = forensics.run(session, exam, 1, "committee", NOW, n_boot=50)
    with session_maker() as session:
        [logged] = entries_of(session, "forensics_settings")
    assert logged["level"] == "0.100" and logged["compromised"] == sorted(served[:3])
    kinds = {t.kind for t in summary.result.tested}
    assert {"preknowledge", "preknowledge_time"} <= kinds


def test_the_fairness_report_by_group(session_maker):
    exam_id, _ = take_exam(session_maker, applicants=60)
    with session_maker() as session:
        exam = session.get(Exam, exam_id)
        result = fairness_report.report(session, exam, min_group=20, min_item=5, min_per_group=5)
    [tiu] = result.sections
    assert tiu.attempts == 60 and tiu.attributes == ("gender",)  # the room is not a group
    assert {b.group for b in tiu.conditional_se.bins} == {"F", "M"}
    assert sum(b.n for b in tiu.conditional_se.bins) == 60
    assert tiu.exposure.n_attempts == 60 and tiu.exposure.mean_length == 12
    assert {r.focal for r in tiu.dif.rows} == {"M"} or {r.focal for r in tiu.dif.rows} == {"F"}
    assert {g.group for g in tiu.information.groups} == {"F", "M"}
    plots = tiu.plots()
    assert set(plots) == {"se", "exposure", "information"}
    assert all("<svg" in p.svg for p in plots.values())
