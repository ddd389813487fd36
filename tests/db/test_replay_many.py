"""Replay equality over a simulated exam of 200 applicants, on both databases.

200 applicants take a two-section exam (an adaptive TIU section with randomesque
exposure control, then a fixed TWK form) through the delivery functions, each answer in
its own transaction; the exam is closed and a checkpoint signed. The exported log then
verifies with no problem, every attempt replays, and the points, θ and SE that a replay
from the log alone gives for each section are the ones stored in the attempt's results.
"""

import json
import random
from collections import defaultdict
from datetime import timedelta

from exam.adapters.models import Attempt, Enrollment, Exam
from exam.adapters.runtime import runtime
from exam.cat.blueprint import ContentRule, ExamConfig, ExposureConfig, SectionConfig
from exam.cat.plan import compile_section
from exam.cat.replay import replay_section
from exam.usecases import closing, delivery
from itembank.table import BankTable
from proctoring import checkpoints, log, merkle, openings
from proctoring import verify as verify_module
from proctoring.canonical import canonical, decimal
from proctoring.note import Checkpoint, Signer
from proctoring.seal import open_entries
from proctoring.verify import verify
from tests.db.test_delivery import T0
from tests.forensic_exam import answer_alone, open_exam_with

APPLICANTS = 200
ORIGIN = "test.example/replay"
SIGNER = Signer.generate(ORIGIN)
TWK_TOPICS = ("nasionalisme", "integritas", "bela_negara", "pilar_negara", "bahasa_indonesia")


def short_exam() -> ExamConfig:
    return ExamConfig(
        "RAMAI",
        "Ujian 200 peserta",
        (
            SectionConfig("TIU", "TIU", max_items=9, exposure=ExposureConfig("randomesque", k=4)),
            SectionConfig(
                "TWK",
                "TWK",
                kind="fixed",
                max_items=8,
                content=tuple(ContentRule(t, 1, 2) for t in TWK_TOPICS),
            ),
        ),
        3600,
    )


def take_exam(session_maker) -> int:
    exam_id, enrollments = open_exam_with(session_maker, short_exam(), APPLICANTS, "REG")
    ids = [e.id for e in enrollments]
    with session_maker() as session:
        rt = runtime(session.get(Exam, exam_id))
    for k, enrollment_id in enumerate(ids):
        rng = random.Random(k)
        skill = rng.random()  # a better applicant picks the key more often
        now = T0 + timedelta(seconds=k)
        with session_maker() as session, session.begin():
            exam = session.get(Exam, exam_id)
            enr = session.get(Enrollment, enrollment_id)
            view = delivery.start_attempt(session, rt, exam, enr, now)
        while view.item is not None:
            now += timedelta(seconds=rng.randint(5, 30))
            item = rt.content(view.item.item_id)
            keys = [key for key, _ in view.item.options]
            right = item.correct if item.correct and rng.random() < skill else None
            choice = right or rng.choice(keys)
            view = answer_alone(session_maker, rt, enrollment_id, view, choice, now)
    with session_maker() as session, session.begin():
        exam = session.get(Exam, exam_id)
        closing.close_exam(session, exam, rt, 1, T0 + timedelta(hours=2))
        checkpoints.sign(session, SIGNER, ORIGIN, "exam_close")
    return exam_id


def replayed_results(texts: list[str], given: list) -> dict[str, dict[str, tuple]]:
    """(points, θ, SE) of every section of every attempt, from the log and its openings."""
    entries = [json.loads(t) for t in texts]
    assert open_entries(entries, given).complete
    reveal = next(e for e in entries if e["type"] == "exam_revealed")
    commit = next(e for e in entries if e["type"] == "exam_committed")
    seed = bytes.fromhex(reveal["seed"])
    config = ExamConfig.from_dict(json.loads(reveal["definition"]))
    bank = BankTable.from_parameter_table(commit["parameter_table"])
    plans = {s.name: compile_section(s, bank) for s in config.sections}
    answers: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for e in entries:
        if e["type"] == "answer":
            answers[e["pseudonym"]][e["section"]].append(e["category"])
    out = {}
    for pseudonym, sections in answers.items():
        out[pseudonym] = {}
        for name, plan in plans.items():
            r = replay_section(plan, seed, pseudonym, sections[name]).result
            out[pseudonym][name] = (r.points, decimal(r.theta), decimal(r.se))
    return out


def test_replay_equality_over_a_simulated_exam_of_200_applicants(session_maker, monkeypatch):
    exam_id = take_exam(session_maker)
    with session_maker() as session:
        latest = checkpoints.latest(session)
        texts = [r.entry for r in log.entries(session, 0, latest.size)]
        stored = {
            enr.pseudonym: attempt.results
            for attempt, enr in session.query(Attempt, Enrollment)
            .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
            .filter(Attempt.exam_id == exam_id)
        }
        assert {a.status for a in session.query(Attempt)} == {"finished"}
        given = openings.of_exam(session, "RAMAI")
    assert latest.size == len(texts) and latest.reason == "exam_close"

    report = verify(texts, latest.note, SIGNER.verifier, ORIGIN, openings=given)
    assert report.problems == []
    assert report.attempts == APPLICANTS and report.replayed == APPLICANTS
    assert report.exams_closed == 1

    replayed = replayed_results(texts, given)
    assert len(stored) == len(replayed) == APPLICANTS
    for pseudonym, results in stored.items():
        assert set(results) == {"TIU", "TWK"}
        for section, r in results.items():
            assert r["items"] == (9 if section == "TIU" else 8)
            assert replayed[pseudonym][section] == (r["points"], r["theta"], r["se"]), (
                pseudonym,
                section,
            )
    # Randomesque exposure spreads the adaptive section's first item over several items.
    served = {o.sealed: o.record["item"] for o in given if set(o.record) == {"item", "inner"}}
    firsts = {
        served[json.loads(t)["sealed"]]
        for t in texts
        if '"type":"item_served"' in t and '"step":0,' in t
    }
    assert len(firsts) > 1
    check_replay_in_worker_processes(texts, given, monkeypatch)


def signed(texts: list[str]) -> str:
    nodes = merkle.nodes_for_leaves(merkle.leaf_hash(t.encode()) for t in texts)
    root = merkle.root(len(texts), lambda lv, i: nodes[(lv, i)])
    return SIGNER.sign(Checkpoint(ORIGIN, len(texts), root).text())


def check_replay_in_worker_processes(texts: list[str], given: list, monkeypatch) -> None:
    """The replay shared among worker processes finds what one process finds, in order."""
    forged = list(texts)
    finished = [i for i, t in enumerate(texts) if '"type":"section_finished"' in t]
    for i in (finished[3], finished[-1]):  # an early and a late attempt
        entry = json.loads(texts[i])
        entry["points"] += 1
        forged[i] = canonical(entry)
    note = signed(forged)
    monkeypatch.setattr(verify_module, "PARALLEL_FROM", 10**9)
    alone = verify(forged, note, SIGNER.verifier, ORIGIN, openings=given)
    monkeypatch.setattr(verify_module, "PARALLEL_FROM", 1)
    monkeypatch.setattr(verify_module, "_workers", lambda: 2)
    real_context = verify_module.multiprocessing.get_context
    for threads, method in ((1, "fork"), (2, "forkserver")):
        # A process with other threads (a progress bar's monitor) does not fork workers.
        monkeypatch.setattr(verify_module.threading, "active_count", lambda n=threads: n)
        used = []

        def context(name, used=used):
            used.append(name)
            return real_context(name)

        monkeypatch.setattr(verify_module.multiprocessing, "get_context", context)
        shared = verify(forged, note, SIGNER.verifier, ORIGIN, openings=given)
        monkeypatch.setattr(verify_module.multiprocessing, "get_context", real_context)
        assert used == [method], "the replay ran in worker processes"
        assert shared.replayed == alone.replayed == APPLICANTS
        assert shared.problems == alone.problems and len(alone.problems) == 2
    assert all("replay gives" in p for p in alone.problems)
