"""The applicant JSON API over HTTP, on both databases."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient

import itembank
from exam.adapters import database
from exam.adapters.models import User
from exam.app import create_app
from exam.usecases import delivery
from itembank import repository
from itembank.transfer import read_bank_file
from proctoring import merkle
from proctoring.note import Verifier, open_checkpoint, parse_proof
from proctoring.seal import Opening
from tests.db.test_delivery import demo_config
from tests.web.conftest import PASSWORD, START, csrf


@pytest.fixture
def exam_ready(web_settings):
    engine = database.sync_engine(web_settings)
    demo = Path(itembank.__file__).parent / "demo_bank.json"
    with database.session_factory(engine)() as session, session.begin():
        repository.import_items(session, read_bank_file(demo))
        users = {u.username: u for u in session.query(User).all()}
        other = User(
            username="peserta02", password_hash=users["peserta01"].password_hash, role="applicant"
        )
        session.add(other)
        session.flush()
        exam = delivery.new_exam(session, demo_config(duration_s=1800))
        delivery.enroll(session, exam, users["peserta01"].id, "REG-1", "Siti")
        delivery.enroll(session, exam, other.id, "REG-2", "Budi")
        delivery.open_exam(session, exam, START)
    engine.dispose()
    return web_settings


@pytest.fixture
def api(exam_ready, clock):
    debug = exam_ready.model_copy(update={"debug": True})
    with TestClient(app=create_app(debug, clock=clock)) as c:
        yield c


def api_login(client, name):
    res = client.post(
        "/api/v1/auth/login",
        json={"username": name, "password": PASSWORD},
        headers={"x-csrftoken": csrf(client)},
    )
    assert res.status_code == 200, res.text
    return res.json()


def post(client, url, body=None):
    return client.post(url, json=body or {}, headers={"x-csrftoken": csrf(client)})


def test_a_full_attempt_through_the_api_never_shows_a_key(api, clock):
    assert api_login(api, "peserta01")["role"] == "applicant"
    started = post(api, "/api/v1/exams/UJI/attempts")
    assert started.status_code == 200 and started.json()["remaining_seconds"] == 1800
    attempt = started.json()["attempt_id"]
    again = post(api, "/api/v1/exams/UJI/attempts").json()
    assert again["attempt_id"] == attempt and again["resumed"] is True
    bodies = [started.text]
    steps = 0
    while True:
        state = api.get(f"/api/v1/attempts/{attempt}")
        bodies.append(state.text)
        data = state.json()
        if data["status"] == "finished":
            break
        item = data["item"]
        assert [o["key"] for o in item["options"]] == list("ABCDE")
        clock.now += timedelta(seconds=15)
        answer = {"step": data["step"], "item_id": item["item_id"], "choice": "C"}
        reply = post(api, f"/api/v1/attempts/{attempt}/answers", answer)
        assert reply.status_code == 200, reply.text
        assert post(api, f"/api/v1/attempts/{attempt}/answers", answer).json() == reply.json()
        bodies.append(reply.text)
        steps += 1
    assert steps == 26
    result = api.get(f"/api/v1/attempts/{attempt}/result")
    bodies.append(result.text)
    res = result.json()
    assert set(res["sections"]) == {"TWK", "TIU", "TKP"}
    assert res["total"] == sum(s["points"] for s in res["sections"].values())
    assert len(res["receipt"]["answers"]) == 26
    key = Verifier.parse(api.get("/api/v1/log/key").text)
    for line in res["receipt"]["answers"]:
        proof = parse_proof(line["proof"])
        cp = open_checkpoint(proof.checkpoint_note, key)
        assert proof.index == line["log_index"] and cp.size > proof.index
        leaf = merkle.leaf_hash(proof.extra)
        assert merkle.verify_inclusion(proof.index, cp.size, leaf, proof.hashes, cp.root)
        entry = json.loads(proof.extra)
        assert entry["type"] == "answer" and "choice" not in entry and "item" not in entry
        # The applicant's own opening of the sealed entry: their item and choice.
        opening = Opening(**line["opening"])
        assert opening.holds() and opening.sealed == entry["sealed"]
        assert opening.record["choice"] == "C" and opening.record["item"] == line["item_id"]
        # Not whether it was right: that stays sealed inside (proctoring.seal.INNER).
        assert "category" not in opening.record and "inner" in opening.record
    own = api.get(f"/api/v1/attempts/{attempt}/openings").json()
    assert len(own["openings"]) == 2 * 26, "each answer and each served item"
    assert not any({"category", "item_sha256"} & set(o["record"]) for o in own["openings"])
    # Besides the applicant's own openings after the end, nothing shows a key or a score.
    for line in res["receipt"]["answers"]:
        line.pop("opening")
    bodies[-1] = json.dumps(res)
    for body in bodies:
        parsed = json.dumps(json.loads(body))
        assert '"correct"' not in parsed and '"points": {' not in parsed
        assert '"category"' not in parsed


def test_conflicts_and_the_deadline(api, clock):
    api_login(api, "peserta01")
    attempt = post(api, "/api/v1/exams/UJI/attempts").json()["attempt_id"]
    item = api.get(f"/api/v1/attempts/{attempt}").json()["item"]
    ok = post(
        api,
        f"/api/v1/attempts/{attempt}/answers",
        {"step": 0, "item_id": item["item_id"], "choice": "A"},
    )
    assert ok.status_code == 200 and ok.json()["next_step"] == 1
    other = post(
        api,
        f"/api/v1/attempts/{attempt}/answers",
        {"step": 0, "item_id": item["item_id"], "choice": "B"},
    )
    # TWK is a fixed section: a different answer changes the first one.
    assert other.status_code == 200 and other.json()["log_index"] > ok.json()["log_index"]
    clock.now = START + timedelta(seconds=1801)
    nxt = api.get(f"/api/v1/attempts/{attempt}").json()
    assert nxt["status"] == "finished" and nxt["remaining_seconds"] == 0
    late = post(
        api,
        f"/api/v1/attempts/{attempt}/answers",
        {"step": 1, "item_id": item["item_id"], "choice": "A"},
    )
    assert late.status_code == 409 and "finished" in late.text


def test_nobody_else_reaches_an_attempt(api, exam_ready):
    api_login(api, "peserta01")
    attempt = post(api, "/api/v1/exams/UJI/attempts").json()["attempt_id"]
    post(api, "/api/v1/auth/logout")
    api_login(api, "peserta02")
    assert api.get(f"/api/v1/attempts/{attempt}").status_code == 404
    assert (
        post(
            api, f"/api/v1/attempts/{attempt}/answers", {"step": 0, "item_id": "x", "choice": "A"}
        ).status_code
        == 404
    )
    post(api, "/api/v1/auth/logout")
    api_login(api, "pengamat")
    assert api.get(f"/api/v1/attempts/{attempt}").status_code == 403
    post(api, "/api/v1/auth/logout")
    assert api.get(f"/api/v1/attempts/{attempt}").status_code == 401


def test_proctoring_events_are_logged(api):
    api_login(api, "peserta01")
    attempt = post(api, "/api/v1/exams/UJI/attempts").json()["attempt_id"]
    res = post(api, f"/api/v1/attempts/{attempt}/events", {"type": "blur", "at": 1700000})
    assert res.status_code == 200 and res.json()["log_index"] > 0
    bad = post(api, f"/api/v1/attempts/{attempt}/events", {"type": "keylogger", "at": 1})
    assert bad.status_code == 422


def test_an_applicant_not_enrolled_gets_404(api):
    api_login(api, "peserta01")
    assert post(api, "/api/v1/exams/NOPE/attempts").status_code == 404


def test_logins_and_logouts_of_applicants_are_logged(api, exam_ready):
    from sqlalchemy import select

    from proctoring.models import LogEntry

    api_login(api, "peserta01")
    post(api, "/api/v1/auth/logout")
    engine = database.sync_engine(exam_ready)
    with database.session_factory(engine)() as session:
        kinds = [e.entry for e in session.scalars(select(LogEntry).order_by(LogEntry.index))]
    engine.dispose()
    assert '"type":"login"' in kinds[-2] and '"type":"logout"' in kinds[-1]
    assert "peserta01" not in kinds[-1] and '"pseudonym":"P' in kinds[-1]


def test_a_second_login_takes_over_and_is_logged(exam_ready, clock):
    from sqlalchemy import select

    from proctoring.models import LogEntry

    app = create_app(exam_ready, clock=clock)
    with TestClient(app=app) as first, TestClient(app=app) as second:
        api_login(first, "peserta01")
        attempt = post(first, "/api/v1/exams/UJI/attempts").json()["attempt_id"]
        api_login(second, "peserta01")
        assert second.get(f"/api/v1/attempts/{attempt}").status_code == 200
        assert (
            first.get(
                f"/api/v1/attempts/{attempt}", headers={"accept": "application/json"}
            ).status_code
            == 401
        )
    engine = database.sync_engine(exam_ready)
    with database.session_factory(engine)() as session:
        last = session.scalars(select(LogEntry).order_by(LogEntry.index.desc())).first().entry
    engine.dispose()
    assert '"type":"session_takeover"' in last


def test_a_new_browser_mid_exam_is_logged_once(api, web_settings, clock):
    from tests.web.test_committee_exams import events

    api_login(api, "peserta01")
    attempt = post(api, "/api/v1/exams/UJI/attempts").json()["attempt_id"]

    def answer(user_agent: str):
        data = api.get(f"/api/v1/attempts/{attempt}").json()
        body = {"step": data["step"], "item_id": data["item"]["item_id"], "choice": "A"}
        headers = {"x-csrftoken": csrf(api), "user-agent": user_agent}
        res = api.post(f"/api/v1/attempts/{attempt}/answers", json=body, headers=headers)
        assert res.status_code == 200, res.text

    answer(api.headers["user-agent"])
    assert events(web_settings, "client_changed") == []
    answer("Mozilla/5.0 (remote desktop)")
    answer("Mozilla/5.0 (remote desktop)")
    [changed] = events(web_settings, "client_changed")
    assert changed["ua_changed"] is True and changed["ip_changed"] is False
    assert "remote desktop" not in json.dumps(changed) and changed["step"] == 1
