"""An applicant's own openings never give away a key while the exam runs.

In a fixed section an answer can be changed. If the applicant's own openings (their
receipt) showed each answer's scored outcome, they could answer A, read their openings,
change to B, read again, and so find every key mid-exam; an item's unsalted content hash
would let them try each option as the key. So an answer's outcome and an item's content
hash are sealed apart, inside the record: the applicant's openings show what they did
(item, choice, time), and only the openings released at close (to observers) or at
retirement (to everyone) open the rest, which replays every attempt in full."""

import json
from datetime import timedelta

from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import select

from exam.adapters import database
from exam.adapters.models import Exam
from exam.adapters.runtime import runtime
from exam.app import create_app
from exam.cli import main
from exam.cli_log import write_export, write_openings
from exam.usecases import closing
from proctoring import checkpoints, log
from proctoring.seal import parse_bundle
from proctoring.verify import verify
from tests.web.conftest import START, login
from tests.web.test_attempt_api import api, api_login, exam_ready, post  # noqa: F401
from tests.web.test_fixed_navigation_api import item_at, put

#: What narrows an item's key (the scored outcome, the content hash) or tells an unscored
#: pilot item from a scored one.
KEY_REVEALING = {"category", "item_sha256", "pilot"}
#: The outer record's field that commits to its inner part (``proctoring.seal.INNER``).
INNER = "inner"


def own_openings(client, attempt: int) -> tuple[str, list]:
    reply = client.get(f"/api/v1/attempts/{attempt}/openings")
    assert reply.status_code == 200, reply.text
    return reply.text, parse_bundle(reply.text)[1]


def test_changing_an_answer_and_reading_ones_own_openings_finds_no_key(
    api,  # noqa: F811
    clock,
    exam_ready,  # noqa: F811
    tmp_path,
):
    api_login(api, "peserta01")
    attempt = post(api, "/api/v1/exams/UJI/attempts").json()["attempt_id"]
    assert api.get(f"/api/v1/attempts/{attempt}/grid").json()["navigable"] is True
    item = item_at(api, attempt, 0)["item"]
    engine = database.sync_engine(exam_ready)
    with database.session_factory(engine)() as session:
        rt = runtime(session.scalar(select(Exam).where(Exam.code == "UJI")))
        content_hash = rt.content_sha256(item["item_id"])
    # The attack: every option in turn, reading the openings after each.
    seen = []
    for option in [o["key"] for o in item["options"]]:
        clock.now += timedelta(seconds=5)
        body = {"item_id": item["item_id"], "choice": option}
        assert put(api, f"/api/v1/attempts/{attempt}/items/0", body).status_code == 200
        text, mine = own_openings(api, attempt)
        assert content_hash not in text, "the item's content hash is in the applicant's hands"
        for opening in mine:
            assert opening.holds()
            assert not KEY_REVEALING & set(opening.record), opening.record
        answers = [o.record for o in mine if o.record.get("item") == item["item_id"]]
        answers = [r for r in answers if "choice" in r]
        latest = next(r for r in answers if r["choice"] == option)
        assert len(latest[INNER]) == 64  # a commitment to the outcome, salted
        # Apart from the choice itself, its time and the salted commitment, every answer
        # reads the same: nothing tells the right option from the wrong ones.
        seen.append({k: v for k, v in latest.items() if k not in ("choice", "response_ms", INNER)})
    assert len(seen) == len(item["options"]) > 1
    assert all(view == seen[0] for view in seen), seen
    _, before_close = own_openings(api, attempt)

    # At close, the observers' openings open everything: the attempt replays in full.
    with database.session_factory(engine)() as session, session.begin():
        exam = session.scalar(select(Exam).where(Exam.code == "UJI"))
        closing.close_exam(session, exam, runtime(exam), 1, START + timedelta(hours=1))
        signer = exam_ready.log_signer()
        checkpoints.sign(session, signer, exam_ready.log_origin, "exam_close")
    with database.session_factory(engine)() as session:
        latest_cp = checkpoints.latest(session)
        texts = [r.entry for r in log.entries(session, 0, latest_cp.size)]
    engine.dispose()
    with TestClient(app=create_app(exam_ready)) as observer:
        assert login(observer, "pengamat").status_code == 303
        reply = observer.get("/observer/exams/UJI/openings")
        assert reply.status_code == 200, reply.text
    all_text, everything = reply.text, parse_bundle(reply.text)[1]
    assert content_hash in all_text
    assert any("category" in o.record for o in everything)
    assert any("item_sha256" in o.record for o in everything)
    assert any("pilot" in o.record for o in everything)
    report = verify(
        texts, latest_cp.note, signer.verifier, exam_ready.log_origin, openings=everything
    )
    assert report.problems == [] and report.level == "full replay"
    assert report.replayed == 1 and report.inner == report.inner_opened > 0
    # The applicant's own openings check what was recorded, but replay no score.
    _, after_close = own_openings(api, attempt)
    assert {o.sealed for o in before_close} <= {o.sealed for o in after_close}
    assert not any(KEY_REVEALING & set(o.record) for o in after_close)
    report = verify(
        texts, latest_cp.note, signer.verifier, exam_ready.log_origin, openings=after_close
    )
    assert report.problems == [] and report.level == "integrity" and report.exams_sealed
    assert report.opened == len(after_close) and report.inner_opened == 0 < report.inner

    # The same through `seleksi log verify`, from an export.
    folder = tmp_path / "export"
    write_export(folder, str(signer.verifier), latest_cp.note, texts, [])
    args = ["log", "verify", "--export", str(folder), "--key", str(signer.verifier)]
    own_file = tmp_path / "own.json"
    own_file.write_text(api.get(f"/api/v1/attempts/{attempt}/openings").text)
    partial = CliRunner().invoke(
        main, [*args, "--openings", str(own_file), "--state", str(tmp_path / "s1")]
    )
    assert partial.exit_code == 0, partial.output
    assert "level: integrity;" in partial.output and "still sealed: UJI" in partial.output
    assert "keep their scored outcome or content hash sealed" in partial.output
    write_openings(folder, "UJI", all_text)
    full = CliRunner().invoke(main, [*args, "--state", str(tmp_path / "s2")])
    assert full.exit_code == 0, full.output
    assert "level: full replay" in full.output and "1 replayed" in full.output
    assert "keep their scored outcome" not in full.output
    assert json.loads(all_text)["exam"] == "UJI"
