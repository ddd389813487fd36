"""CAT BKN navigation in a fixed section through the JSON API: the grid, answering items
out of order, changing answers, ragu-ragu marks and finishing the section; the score
counts the last answers and the closed exam's log replays to the same numbers."""

import json
from datetime import timedelta

from sqlalchemy import select

from exam.adapters import database
from exam.adapters.models import Attempt, Exam, Response
from exam.adapters.runtime import runtime
from exam.cat.blueprint import ExamConfig
from exam.usecases import closing
from proctoring import checkpoints, log, openings, seal
from proctoring.attempt_replay import replay_attempt
from proctoring.verify import Report, verify
from tests.web.conftest import START
from tests.web.test_attempt_api import api, api_login, exam_ready, post  # noqa: F401


def put(client, url, body):
    from tests.web.conftest import csrf

    return client.put(url, json=body, headers={"x-csrftoken": csrf(client)})


def item_at(client, attempt: int, step: int) -> dict:
    data = client.get(f"/api/v1/attempts/{attempt}/items/{step}").json()
    assert data["step"] == step
    return data


def test_moving_around_a_fixed_section_changing_and_marking(api, clock, exam_ready):  # noqa: F811
    api_login(api, "peserta01")
    attempt = post(api, "/api/v1/exams/UJI/attempts").json()["attempt_id"]
    grid = api.get(f"/api/v1/attempts/{attempt}/grid").json()
    assert grid["section"] == "TWK" and grid["navigable"] is True
    assert [c["number"] for c in grid["items"]] == list(range(1, 11))
    assert {c["status"] for c in grid["items"]} == {"unanswered"}
    assert [(s["name"], s["count"], s["current"]) for s in grid["sections"]] == [
        ("TWK", 10, True),
        ("TIU", None, False),
        ("TKP", 6, False),
    ]
    # Straight to item 6, then item 1: numbered within the section.
    sixth = item_at(api, attempt, 5)
    assert (sixth["section"], sixth["number"], sixth["count"]) == ("TWK", 6, 10)
    log_indices, ids = [], {}
    for step in (5, 0, 1, 2, 3, 4, 6, 7, 8, 9):
        clock.now += timedelta(seconds=10)
        item = item_at(api, attempt, step)["item"]
        ids[step] = item["item_id"]
        reply = put(
            api,
            f"/api/v1/attempts/{attempt}/items/{step}",
            {"item_id": item["item_id"], "choice": "A"},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["next_step"] == min(step + 1, 9)
        log_indices.append(reply.json()["log_index"])
    # Every item is answered and the section is still open: two answers change, both
    # to a better option (or, where "A" is mostly best, both to a worse one), so the
    # section's points with the first answers differ from those with the last.
    engine = database.sync_engine(exam_ready)
    with database.session_factory(engine)() as session:
        rt = runtime(session.scalar(select(Exam)))
    plan = rt.plans[0]

    def worth(step: int, key: str) -> int:
        content = rt.content(ids[step])
        return int(plan.points[plan.ids.index(ids[step]), content.category_of(key)])

    def changed_to(step: int, better: bool) -> str | None:
        keys = [o.key for o in rt.content(ids[step]).options]
        pick = max(keys, key=lambda k: worth(step, k) * (1 if better else -1))
        return pick if worth(step, pick) != worth(step, "A") else None

    operational = [k for k in range(10) if ids[k] in plan.ids]
    better = sum(changed_to(k, True) is not None for k in operational) >= 2
    candidates = [(k, changed_to(k, better)) for k in operational]
    changes = dict([(k, c) for k, c in candidates if c is not None][:2])
    assert len(changes) == 2
    kept = next(k for k in range(10) if k not in changes)
    for step, choice in changes.items():
        item = item_at(api, attempt, step)["item"]
        reply = put(
            api,
            f"/api/v1/attempts/{attempt}/items/{step}",
            {"item_id": item["item_id"], "choice": choice},
        )
        assert reply.status_code == 200 and reply.json()["log_index"] > max(log_indices)
    marked = put(api, f"/api/v1/attempts/{attempt}/items/3/mark", {"marked": True})
    assert marked.status_code == 200
    wrong = put(api, f"/api/v1/attempts/{attempt}/items/30/mark", {"marked": True})
    assert wrong.status_code == 422
    grid = api.get(f"/api/v1/attempts/{attempt}/grid").json()
    status = {c["number"]: c["status"] for c in grid["items"]}
    assert status[4] == "ragu-ragu" and list(status.values()).count("answered") == 9
    choices = {c["step"]: c["choice"] for c in grid["items"]}
    assert {k: choices[k] for k in changes} == changes and choices[kept] == "A"
    assert grid["sections"][0]["answered"] == 10
    # Finishing the section: on to TIU, which runs forward only.
    done = post(api, f"/api/v1/attempts/{attempt}/sections/current/finish")
    assert done.status_code == 200, done.text
    now = done.json()["attempt"]
    assert (now["section"], now["step"], now["number"], now["count"]) == ("TIU", 10, 1, None)
    tiu = api.get(f"/api/v1/attempts/{attempt}/grid").json()
    assert tiu["navigable"] is False and tiu["items"] == []
    assert (
        put(api, f"/api/v1/attempts/{attempt}/items/10/mark", {"marked": True}).status_code == 409
    )
    again = post(api, f"/api/v1/attempts/{attempt}/sections/current/finish")
    assert again.status_code == 409 and "adaptive" in again.text
    first = {"step": 10, "item_id": now["item"]["item_id"], "choice": "A"}
    assert post(api, f"/api/v1/attempts/{attempt}/answers", first).status_code == 200
    other = post(api, f"/api/v1/attempts/{attempt}/answers", {**first, "choice": "B"})
    assert other.status_code == 409 and "already answered" in other.text
    # TWK has ended: its answers can no longer change.
    stored = changes.get(0, "A")
    other_key = next(o.key for o in rt.content(ids[0]).options if o.key != stored)
    late = put(api, f"/api/v1/attempts/{attempt}/items/0", {"item_id": ids[0], "choice": other_key})
    assert late.status_code == 409
    # The rest forward through /answers, as a forward-only client does.
    while True:
        data = api.get(f"/api/v1/attempts/{attempt}").json()
        if data["status"] == "finished":
            break
        clock.now += timedelta(seconds=5)
        answer = {"step": data["step"], "item_id": data["item"]["item_id"], "choice": "D"}
        assert post(api, f"/api/v1/attempts/{attempt}/answers", answer).status_code == 200
    result = api.get(f"/api/v1/attempts/{attempt}/result").json()

    with database.session_factory(engine)() as session, session.begin():
        exam = session.scalar(select(Exam))
        rows = session.scalars(
            select(Response).where(Response.section == "TWK").order_by(Response.step)
        ).all()
        # One stored answer per item, the last one; the log holds every change.
        assert [r.choice for r in rows] == [changes.get(k, "A") for k in range(10)]
        plan = rt.plans[0]
        expected = sum(
            int(plan.points[plan.ids.index(r.item_id), r.category]) for r in rows if not r.pilot
        )
        assert result["sections"]["TWK"]["points"] == expected
        assert result["sections"]["TWK"]["items"] == 10
        firsts = dict.fromkeys(changes, "A")
        expected_first = sum(
            int(
                plan.points[
                    plan.ids.index(r.item_id),
                    rt.content(r.item_id).category_of(firsts.get(r.step, r.choice)),
                ]
            )
            for r in rows
            if not r.pilot
        )
        exam_definition, seed_hex = exam.definition, exam.seed_hex
        attempt_row = session.get(Attempt, attempt)
        closing.close_exam(session, exam, rt, 1, START + timedelta(hours=1))
        signer = exam_ready.log_signer()
        checkpoints.sign(session, signer, exam_ready.log_origin, "exam_close")
    with database.session_factory(engine)() as session:
        latest = checkpoints.latest(session)
        texts = [r.entry for r in log.entries(session, 0, latest.size)]
        given = openings.of_exam(session, "UJI")
    engine.dispose()
    assert attempt_row.status == "finished"
    kinds = [t for t in texts if '"type":"answer"' in t and '"changed":true' in t]
    assert len(kinds) == 2, "each change is its own log entry"
    assert sum('"type":"item_marked"' in t for t in texts) == 1
    report = verify(texts, latest.note, signer.verifier, exam_ready.log_origin, openings=given)
    assert report.problems == [] and report.level == "full replay" and report.replayed == 1
    # The replay takes the last answer at each step: with the changes' openings swapped
    # for the first answers' records, the logged TWK points no longer replay.
    entries = [json.loads(t) for t in texts]
    seal.open_entries(entries, given)
    mine = [e for e in entries if e.get("pseudonym") and e["type"] != "applicants_enrolled"]
    first_only = [e for e in mine if not e.get("changed")]
    config = ExamConfig.from_dict(exam_definition)
    plans = {p.config.name: p for p in rt.plans}
    seed = bytes.fromhex(seed_hex)
    problems = Report()
    replay_attempt("UJI", config, plans, seed, mine[0]["pseudonym"], mine, problems)
    assert problems.problems == []
    changed_points = result["sections"]["TWK"]["points"]
    first_points = expected_first
    replay_attempt("UJI", config, plans, seed, mine[0]["pseudonym"], first_only, problems)
    assert first_points != changed_points
    assert any("TWK: replay gives points" in p for p in problems.problems)
