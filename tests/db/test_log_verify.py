"""``seleksi log verify`` on both databases: a closed exam verifies and replays; altered,
deleted, reordered and inserted rows, a rewritten history and a forged score all fail."""

import dataclasses
import json
import random
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

import itembank
from exam.adapters.models import Attempt, Enrollment, Exam, Response, User
from exam.adapters.runtime import runtime
from exam.cat.blueprint import ExamConfig
from exam.cli import main
from exam.cli_log import state_path, write_export, write_openings
from exam.usecases import answering, closing, delivery
from itembank import repository
from itembank.transfer import read_bank_file
from proctoring import checkpoints, log, merkle, openings
from proctoring.canonical import canonical
from proctoring.note import Checkpoint, Signer
from proctoring.seal import Opening, bundle
from proctoring.verify import State, verify
from tests.db.test_delivery import T0, demo_config

ORIGIN = "test.example/log"
SIGNER = Signer.generate(ORIGIN)


@pytest.fixture
def closed_exam(session_maker):
    """Three applicants take the exam (one runs out of time), then the exam closes."""
    return take_and_close(session_maker, demo_config(duration_s=900))


def take_and_close(session_maker, config: ExamConfig) -> int:
    """Open the exam ``config``; three applicants take it (one runs out of time), then it
    closes. Returns the exam's id."""
    demo = Path(itembank.__file__).parent / "demo_bank.json"
    rng = random.Random(7)
    with session_maker() as session, session.begin():
        repository.import_items(session, read_bank_file(demo))
        exam = delivery.new_exam(session, config)
        for k in range(3):
            user = User(username=f"p{k}", password_hash="x", role="applicant")
            session.add(user)
            session.flush()
            delivery.enroll(session, exam, user.id, f"REG-{k}", f"Nama {k}")
        delivery.open_exam(session, exam, T0)
        checkpoints.sign(session, SIGNER, ORIGIN, "exam_open")
        exam_id = exam.id
    rt = None
    for k in range(3):
        now = T0 + timedelta(seconds=k)
        with session_maker() as session, session.begin():
            exam = session.get(Exam, exam_id)
            rt = rt or runtime(exam)
            enr = session.query(Enrollment).filter_by(registration_number=f"REG-{k}").one()
            view = delivery.start_attempt(session, rt, exam, enr, now)
        answered = 0
        while view.item is not None and (k != 2 or answered < 7):
            now += timedelta(seconds=rng.randint(5, 40))
            with session_maker() as session, session.begin():
                enr = session.query(Enrollment).filter_by(registration_number=f"REG-{k}").one()
                attempt = delivery.find_attempt(session, enr, lock=True)
                choice = rng.choice([key for key, _ in view.item.options])
                answering.submit_answer(
                    session, rt, attempt, enr, view.step, view.item.item_id, choice, now
                )
                view = delivery.view(rt, attempt, now)
            answered += 1
    with session_maker() as session, session.begin():
        exam = session.get(Exam, exam_id)
        closing.close_exam(session, exam, rt, 1, T0 + timedelta(hours=1))
        checkpoints.sign(session, SIGNER, ORIGIN, "exam_close")
    return exam_id


def signed(texts: list[str]) -> str:
    """A valid checkpoint over ``texts``, signed with the log's own key."""
    nodes = merkle.nodes_for_leaves(merkle.leaf_hash(t.encode()) for t in texts)
    root = merkle.root(len(texts), lambda lv, i: nodes[(lv, i)])
    return SIGNER.sign(Checkpoint(ORIGIN, len(texts), root).text())


def export(session_maker) -> tuple[list[str], str]:
    with session_maker() as session:
        latest = checkpoints.latest(session)
        return [r.entry for r in log.entries(session, 0, latest.size)], latest.note


def exam_openings(session_maker) -> list:
    with session_maker() as session:
        return openings.of_exam(session, "UJI")


def test_a_closed_exam_verifies_and_every_attempt_replays(session_maker, closed_exam):
    texts, note = export(session_maker)
    report = verify(texts, note, SIGNER.verifier, ORIGIN, openings=exam_openings(session_maker))
    assert report.problems == []
    assert report.attempts == 3 and report.replayed == 3 and report.exams_closed == 1
    assert report.level == "full replay" and report.opened == report.sealed > 0
    kinds = [json.loads(t)["type"] for t in texts]
    assert kinds.count("exam_revealed") == 1 and kinds[-2:] == ["exam_closed", "exam_revealed"]
    # Applicant 3 ran out of time: finished at close, and still replays.
    assert sum(1 for k in kinds if k == "attempt_finished") == 3


def test_an_exam_at_four_points_per_answer_replays_with_its_own_points(session_maker):
    config = dataclasses.replace(demo_config(duration_s=900), points_correct=4)
    take_and_close(session_maker, config)
    texts, note = export(session_maker)
    report = verify(texts, note, SIGNER.verifier, ORIGIN, openings=exam_openings(session_maker))
    assert report.problems == [] and report.level == "full replay" and report.replayed == 3
    entries = [json.loads(t) for t in texts]
    [revealed] = [e for e in entries if e["type"] == "exam_revealed"]
    assert json.loads(revealed["definition"])["points_correct"] == 4
    with session_maker() as session:
        rows = session.execute(
            select(Enrollment.pseudonym, Response.category)
            .join(Attempt, Attempt.enrollment_id == Enrollment.id)
            .join(Response, Response.attempt_id == Attempt.id)
            .where(Response.section == "TWK", Response.pilot.is_(False))
        ).all()
    correct = {p: sum(1 for q, c in rows if q == p and c == 1) for p, _ in rows}
    finished = [e for e in entries if e["type"] == "attempt_finished"]
    assert len(finished) == 3
    for entry in finished:
        twk = entry["points"]["TWK"]
        assert twk % 4 == 0 and twk == 4 * correct[entry["pseudonym"]]


def test_without_openings_verify_checks_integrity_only(session_maker, closed_exam):
    texts, note = export(session_maker)
    report = verify(texts, note, SIGNER.verifier, ORIGIN)
    assert report.problems == [] and report.replayed == 0
    assert report.level == "integrity" and report.exams_sealed == ["UJI"]


def test_an_opening_that_does_not_match_its_commitment_fails(session_maker, closed_exam):
    texts, note = export(session_maker)
    given = exam_openings(session_maker)
    answer = next(o for o in given if "choice" in o.record)
    other = next(k for k in "ABCDE" if k != answer.record["choice"])
    forged = Opening(answer.sealed, answer.salt, {**answer.record, "choice": other})
    given[given.index(answer)] = forged
    report = verify(texts, note, SIGNER.verifier, ORIGIN, openings=given)
    assert any("does not give its commitment" in p for p in report.problems)
    assert report.exams_sealed == ["UJI"], "an exam with an entry left sealed is not replayed"


def _tamper(session_maker, settings, statements: list) -> None:
    """What only someone with the database owner's rights can do: switch the
    append-only triggers off and change rows."""
    with session_maker() as session, session.begin():
        if settings.database_url:
            session.execute(text("ALTER TABLE log_entries DISABLE TRIGGER USER"))
        else:
            for action in ("update", "delete"):
                session.execute(text(f"DROP TRIGGER log_entries_no_{action}"))
        for statement in statements:
            sql, params = statement if isinstance(statement, tuple) else (statement, {})
            session.execute(text(sql), params)


def _entry(session_maker, index: int) -> str:
    with session_maker() as session:
        return log.entries(session, index, index + 1)[0].entry


@pytest.mark.parametrize("kind", ["modified", "deleted", "reordered", "inserted"])
def test_tampered_rows_make_verify_exit_1(session_maker, settings, closed_exam, tmp_path, kind):
    texts, note = export(session_maker)
    i = next(k for k, t in enumerate(texts) if '"type":"answer"' in t)
    answer = texts[i]
    q = '"index"'
    if kind == "modified":
        changed = answer.replace('"sealed":"', '"sealed":"0')
        stmt = [(f"UPDATE log_entries SET entry = :e WHERE {q} = {i}", {"e": changed})]
    elif kind == "deleted":
        n = len(texts)
        stmt = [f"DELETE FROM log_entries WHERE {q} = {i}"] + [
            f"UPDATE log_entries SET {q} = {k - 1} WHERE {q} = {k}" for k in range(i + 1, n)
        ]
    elif kind == "reordered":
        stmt = [
            f"UPDATE log_entries SET {q} = -1 WHERE {q} = {i}",
            f"UPDATE log_entries SET {q} = {i} WHERE {q} = {i + 1}",
            f"UPDATE log_entries SET {q} = {i + 1} WHERE {q} = -1",
        ]
    else:
        forged = canonical({"type": "answer", "exam": "UJI", "t": json.loads(answer)["t"], "x": 1})
        n = len(texts)
        stmt = [
            f"UPDATE log_entries SET {q} = {k + 1} WHERE {q} = {k}" for k in range(n - 1, i - 1, -1)
        ]
        zeros = "decode(repeat('00', 32), 'hex')" if settings.database_url else "zeroblob(32)"
        stmt.append(
            f"INSERT INTO log_entries ({q}, entry, leaf_hash, appended_at) "
            f"VALUES ({i}, :e, {zeros}, CURRENT_TIMESTAMP)"
        )
        stmt[-1] = (stmt[-1], {"e": forged})
    _tamper(session_maker, settings, stmt)
    with session_maker() as session:
        rows = [r.entry for r in log.entries(session, 0, log.size(session) + 1)]
    folder = tmp_path / "export"
    write_export(folder, str(SIGNER.verifier), note, rows, [])
    key = ["--key", str(SIGNER.verifier), "--state", str(tmp_path / "state")]
    result = CliRunner().invoke(main, ["log", "verify", "--export", str(folder), *key])
    assert result.exit_code == 1, result.output
    assert "do not hash to the signed root" in result.output or (
        kind == "deleted" and "only" in result.output
    )


def test_a_rewritten_history_is_caught_on_the_next_run(session_maker, closed_exam, tmp_path):
    texts, note = export(session_maker)
    state = tmp_path / "state"
    first = tmp_path / "first"
    write_export(first, str(SIGNER.verifier), note, texts, [])
    ok = CliRunner().invoke(main, ["log", "verify", "--export", str(first), "--state", str(state)])
    assert ok.exit_code == 0, ok.output
    assert "trusting the key the log serves" in ok.output
    assert State.loads(state_path(state, ORIGIN).read_text()).size == len(texts)
    # The operator rewrites an early entry and signs a fresh, self-consistent checkpoint.
    forged = list(texts)
    forged[1] = forged[1].replace('"t":', '"t":1', 1)
    forged.append(canonical({"type": "note", "exam": "", "t": 1}))
    new_note = signed(forged)
    second = tmp_path / "second"
    write_export(second, str(SIGNER.verifier), new_note, forged, [])
    caught = CliRunner().invoke(
        main, ["log", "verify", "--export", str(second), "--state", str(state)]
    )
    assert caught.exit_code == 1 and "history rewritten" in caught.output
    assert verify(forged, new_note, SIGNER.verifier, ORIGIN).problems == [], "alone it verifies"


def test_a_forged_score_fails_the_replay(session_maker, closed_exam):
    texts, _ = export(session_maker)
    i = next(k for k, t in enumerate(texts) if '"type":"section_finished"' in t)
    entry = json.loads(texts[i])
    entry["points"] += 5
    forged = list(texts)
    forged[i] = canonical(entry)
    given = exam_openings(session_maker)
    problems = verify(forged, signed(forged), SIGNER.verifier, ORIGIN, openings=given).problems
    assert any("replay gives" in p for p in problems), problems


def test_event_rules(session_maker, closed_exam):
    texts, _ = export(session_maker)
    entries = [json.loads(t) for t in texts]
    first_answer = next(e for e in entries if e["type"] == "answer")
    late = dict(first_answer, t=first_answer["t"] + 10**8)
    twice = dict(first_answer)
    unserved = dict(first_answer, step=10_000)

    for extra, message in [
        (late, "after the deadline"),
        (twice, "a second answer"),
        (unserved, "was not served"),
    ]:
        forged = [*texts[:-2], canonical(extra)]
        problems = verify(forged, signed(forged), SIGNER.verifier, ORIGIN).problems
        assert any(message in p for p in problems), (message, problems)


def test_bad_input_exits_2(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "key.txt").write_text("not a key\n")
    (broken / "checkpoint.txt").write_text("x\n")
    (broken / "entries.jsonl").write_text("")
    result = CliRunner().invoke(main, ["log", "verify", "--export", str(broken)])
    assert result.exit_code == 2 and "checkpoint.txt: a checkpoint is origin" in result.output
    (broken / "checkpoint.txt").write_text(f"log\n0\n{'A' * 43}=\n\n")
    result = CliRunner().invoke(main, ["log", "verify", "--export", str(broken)])
    assert result.exit_code == 2 and "key.txt: a verifier key is" in result.output
    result = CliRunner().invoke(main, ["log", "verify", "--export", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "missing" in result.output
    assert CliRunner().invoke(main, ["log", "verify"]).exit_code == 2


def test_a_new_key_is_refused_once_one_was_trusted(session_maker, closed_exam, tmp_path):
    texts, note = export(session_maker)
    write_export(tmp_path / "a", str(SIGNER.verifier), note, texts, [])
    args = ["--state", str(tmp_path / "state")]
    assert (
        CliRunner()
        .invoke(main, ["log", "verify", "--export", str(tmp_path / "a"), *args])
        .exit_code
        == 0
    )
    other = Signer.generate(ORIGIN)
    write_export(
        tmp_path / "b", str(other.verifier), other.sign(note.split("\n\n")[0] + "\n"), texts, []
    )
    result = CliRunner().invoke(main, ["log", "verify", "--export", str(tmp_path / "b"), *args])
    assert result.exit_code == 1 and "different key" in result.output


def test_the_cli_says_which_level_it_reached(session_maker, closed_exam, tmp_path):
    texts, note = export(session_maker)
    folder = tmp_path / "export"
    write_export(folder, str(SIGNER.verifier), note, texts, [])
    args = ["log", "verify", "--export", str(folder), "--key", str(SIGNER.verifier)]
    sealed = CliRunner().invoke(main, [*args, "--state", str(tmp_path / "s1")])
    assert sealed.exit_code == 0, sealed.output
    assert "level: integrity; 0 of" in sealed.output and "still sealed: UJI" in sealed.output
    given = tmp_path / "openings-UJI.json"
    given.write_text(bundle("UJI", exam_openings(session_maker)))
    full = CliRunner().invoke(
        main, [*args, "--openings", str(given), "--state", str(tmp_path / "s2")]
    )
    assert full.exit_code == 0, full.output
    assert "level: full replay" in full.output and "3 replayed" in full.output
    # Beside an export, an openings file is read without being named.
    write_openings(folder, "UJI", given.read_text())
    found = CliRunner().invoke(main, [*args, "--state", str(tmp_path / "s3")])
    assert "level: full replay" in found.output
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "other"}')
    bad = CliRunner().invoke(
        main, [*args, "--openings", str(broken), "--state", str(tmp_path / "s4")]
    )
    assert bad.exit_code == 2 and "broken.json" in bad.output
