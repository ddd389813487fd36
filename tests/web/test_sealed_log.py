"""The public log never helps anyone answer an item: on an open exam with 300 simulated
applicants, an attacker with public access only recovers no more keys than a blind guess,
while the same attack on the opened log (what observers get at close) recovers them."""

import json
import math
import random
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from litestar.testing import TestClient

from exam.adapters import database
from exam.adapters.models import Enrollment, Exam, User
from exam.adapters.runtime import runtime
from exam.app import create_app
from exam.usecases import answering, delivery
from proctoring import openings
from proctoring.seal import open_entries
from tests.db.test_delivery import T0, demo_config
from tests.web.conftest import login

APPLICANTS = 300
#: The fields of an answer or a served item that narrow an item's key.
REVEALING = {"item", "choice", "category", "scored", "item_sha256", "correct", "points_by_option"}


def probability(item, theta: float) -> float:
    """P(correct) under the item's 3PL/2PL parameters (D = 1)."""
    c = item.c or 0.0
    return c + (1 - c) / (1 + math.exp(-item.a * (theta - item.b)))


@pytest.fixture
def busy_exam(app_settings):
    """300 applicants of realistic ability take the exam; it stays open."""
    engine = database.sync_engine(app_settings)
    maker = database.session_factory(engine)
    rng = random.Random(18)
    with maker() as session, session.begin():
        exam = delivery.new_exam(session, demo_config(duration_s=7200))
        for k in range(APPLICANTS):
            user = User(username=f"sim{k:03d}", password_hash="x", role="applicant")
            session.add(user)
            session.flush()
            delivery.enroll(session, exam, user.id, f"SIM-{k:03d}", f"Sim {k}")
        delivery.open_exam(session, exam, T0)
        exam_id = exam.id
    keys: dict[str, str] = {}
    for k in range(APPLICANTS):
        theta = rng.gauss(0, 1)
        now = T0 + timedelta(seconds=k)
        with maker() as session, session.begin():
            exam = session.get(Exam, exam_id)
            rt = runtime(exam)
            enr = session.query(Enrollment).filter_by(registration_number=f"SIM-{k:03d}").one()
            view = delivery.start_attempt(session, rt, exam, enr, now)
            attempt = delivery.find_attempt(session, enr, lock=True)
            while view.item is not None:
                item = rt.content(view.item.item_id)
                options = [o.key for o in item.options]
                if item.polytomous:
                    choice = rng.choice(options)
                else:
                    keys[item.item_id] = item.correct
                    right = rng.random() < probability(item, theta)
                    wrong = [o for o in options if o != item.correct]
                    choice = item.correct if right else rng.choice(wrong)
                now += timedelta(seconds=rng.randint(10, 60))
                answering.submit_answer(
                    session, rt, attempt, enr, view.step, view.item.item_id, choice, now
                )
                view = delivery.view(rt, attempt, now)
    with maker() as session:
        given = openings.of_exam(session, "UJI")
        hashes = {i.content_hash() for i in runtime(session.get(Exam, exam_id)).items.values()}
        status = session.get(Exam, exam_id).status
    engine.dispose()
    assert status == "open"
    return keys, given, hashes


def public_entries(client: TestClient) -> list[dict]:
    """The whole log as anyone reads it: no login."""
    size = int(client.get("/api/v1/log/checkpoint").text.split("\n")[1])
    entries: list[dict] = []
    while len(entries) < size:
        reply = client.get(
            "/api/v1/log/entries", params={"start": len(entries), "end": len(entries) + 1000}
        )
        assert reply.status_code == 200
        entries += [json.loads(r["entry"]) for r in reply.json()["entries"]]
    return entries


def infer_keys(entries: list[dict]) -> dict[str, str]:
    """The red team's inference: for every item whose answers can be seen, the option
    most often chosen by applicants who scored high on that section (weighted by their
    section points), or the option the log shows as scored right."""
    points = {
        (e["pseudonym"], e["section"]): e["points"]
        for e in entries
        if e["type"] == "section_finished"
    }
    top = max(points.values(), default=1) or 1
    votes: dict[str, Counter] = defaultdict(Counter)
    for e in entries:
        if e["type"] != "answer" or "item" not in e or "choice" not in e:
            continue
        if e.get("category") == 1:
            votes[e["item"]][e["choice"]] += 1000  # the log says this choice was right
        weight = 1 + points.get((e["pseudonym"], e["section"]), 0) / top
        votes[e["item"]][e["choice"]] += weight
    return {item: tally.most_common(1)[0][0] for item, tally in votes.items()}


def recovered(guess: dict[str, str], keys: dict[str, str]) -> int:
    """Keys guessed right, with "A" guessed for every item the attacker knows nothing of."""
    return sum(guess.get(item, "A") == key for item, key in keys.items())


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_public_access_recovers_no_more_keys_than_chance(busy_exam, app_settings):
    keys, given, hashes = busy_exam
    with TestClient(app=create_app(app_settings)) as anonymous:
        entries = public_entries(anonymous)
        board = anonymous.get("/api/v1/exams/UJI/rankings").json()
        # The openings are not public while the exam runs.
        assert anonymous.get("/api/v1/exams/UJI/openings").status_code == 409
    ours = [e for e in entries if e["exam"] == "UJI"]
    assert sum(e["type"] == "answer" for e in ours) > APPLICANTS * 20
    for e in ours:
        assert not REVEALING & set(e), e
    text = repr(entries) + repr(board)
    assert not any(h in text for h in hashes), "an item's content hash is public"
    assert not any(item in text for item in keys), "an item is named in public"
    assert set(board["rows"][0]) <= {
        "rank",
        "pseudonym",
        "status",
        "sections",
        "total",
        "passed",
        "passed_all",
        "flags",
        "log_mismatch",
    }
    assert not any(row["log_mismatch"] for row in board["rows"])

    # The attack on what the public sees: nothing to go on, so no better than blind.
    blind = max(Counter(keys.values()).values())
    public_hits = recovered(infer_keys(entries), keys)
    assert public_hits <= blind, (public_hits, blind, len(keys))

    # The same attack on the opened log (observers at close, or today's unsealed log)
    # recovers nearly every key: the test can tell a leak when there is one.
    opened = [dict(e) for e in ours]
    assert open_entries(opened, given).complete
    open_hits = recovered(infer_keys(opened), keys)
    assert open_hits >= 0.9 * len(keys) > blind, (open_hits, len(keys))


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_openings_go_to_whom_the_rules_say(busy_exam, app_settings):
    """Observers get nothing while the exam runs and everything once it closes; the public
    gets everything only once the committee retires the items (a logged act); an applicant
    gets their own with the receipt."""
    with TestClient(app=create_app(app_settings)) as c:
        assert login(c, "pengamat").status_code == 303
        assert c.get("/observer/exams/UJI/openings").status_code == 409
    with TestClient(app=create_app(app_settings)) as c:
        assert login(c, "komite").status_code == 303
        committee = c.get("/observer/exams/UJI/openings")
        assert (
            committee.status_code == 200
            and "attachment" in committee.headers["content-disposition"]
        )
        bundle = committee.json()
        assert bundle["format"] == "seleksi-openings/v1"
        assert len(bundle["openings"]) == len(busy_exam[1])
        # Close (every attempt has finished) and retire from the committee's pages.
        token = c.cookies["csrftoken"]
        closed = c.post("/committee/exams/UJI/close", headers={"x-csrftoken": token})
        assert closed.status_code in (200, 303), closed.text
    with TestClient(app=create_app(app_settings)) as c:
        assert c.get("/api/v1/exams/UJI/openings").status_code == 409
        assert login(c, "pengamat").status_code == 303
        assert c.get("/observer/exams/UJI/openings").status_code == 200
    with TestClient(app=create_app(app_settings)) as c:
        assert login(c, "komite").status_code == 303
        page = c.get("/committee/exams/UJI")
        assert "Pensiunkan soal ujian ini" in page.text
        token = c.cookies["csrftoken"]
        retired = c.post("/committee/exams/UJI/retire", headers={"x-csrftoken": token})
        assert retired.status_code in (200, 303), retired.text
        assert "sudah pensiun" in c.get("/committee/exams/UJI").text
        again = c.post("/committee/exams/UJI/retire", headers={"x-csrftoken": token})
        assert again.status_code == 409
    with TestClient(app=create_app(app_settings)) as anonymous:
        public = anonymous.get("/api/v1/exams/UJI/openings")
        assert public.status_code == 200 and len(public.json()["openings"]) == len(busy_exam[1])
        entries = public_entries(anonymous)
        retire = [e for e in entries if e["type"] == "items_retired"]
        assert len(retire) == 1 and retire[0]["count"] > 0
