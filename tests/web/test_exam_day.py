"""Exam day at a test site: exam replies are never stored by the browser, a stale answer
is explained in the applicant's language, a room's outage is credited (and recomputed by
the verifier) while one applicant alone is not, and the proctor's room view with a pause."""

import contextlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

import itembank
from exam.adapters import database
from exam.adapters.models import Attempt, ContactGap, Enrollment, User
from exam.app import create_app
from exam.usecases import delivery, rooms
from itembank import repository
from itembank.transfer import read_bank_file
from proctoring import log, verify
from tests.db.test_delivery import demo_config
from tests.web.conftest import START, csrf, login

#: registration number → (account, room of site S1)
SEATS = {"R-1": ("a1", "R1"), "R-2": ("a2", "R1"), "R-3": ("a3", "R1"), "R-4": ("a4", "R1")}
SEATS["R-5"] = ("a5", "R2")


@pytest.fixture
def site_exam(web_settings):
    engine = database.sync_engine(web_settings)
    demo = Path(itembank.__file__).parent / "demo_bank.json"
    with database.session_factory(engine)() as session, session.begin():
        repository.import_items(session, read_bank_file(demo))
        hashed = session.scalar(select(User.password_hash).where(User.username == "peserta01"))
        exam = delivery.new_exam(session, demo_config(duration_s=3600))
        for reg, (name, room) in SEATS.items():
            user = User(username=name, password_hash=hashed, role="applicant")
            session.add(user)
            session.flush()
            delivery.enroll(session, exam, user.id, reg, f"Peserta {reg}", site="S1", room=room)
        delivery.open_exam(session, exam, START)
        proctor = session.scalar(select(User).where(User.username == "pengawas"))
        rooms.bind_proctor(session, proctor, [("S1", "R1")])
    engine.dispose()
    return web_settings


@pytest.fixture
def app(site_exam, clock):
    app = create_app(site_exam, clock=clock)
    with contextlib.ExitStack() as stack:
        app.state.clients = stack
        yield app


def seated(app, name: str) -> tuple[TestClient, int]:
    """An applicant's client with the attempt started (closed with the app)."""
    client = app.state.clients.enter_context(TestClient(app=app))
    assert login(client, name).status_code == 303
    res = client.post("/api/v1/exams/UJI/attempts", headers={"x-csrftoken": csrf(client)})
    assert res.status_code == 200, res.text
    return client, res.json()["attempt_id"]


def beat(client: TestClient, attempt: int) -> dict:
    res = client.post(
        f"/api/v1/attempts/{attempt}/heartbeat", headers={"x-csrftoken": csrf(client)}
    )
    assert res.status_code == 200, res.text
    assert res.headers["cache-control"] == "no-store"
    return res.json()


def flush(client: TestClient) -> list[int]:
    return client.blocking_portal.call(client.app.state.contacts.flush)


def deadlines(settings) -> dict[str, object]:
    engine = database.sync_engine(settings)
    with database.session_factory(engine)() as s:
        rows = s.execute(
            select(Enrollment.registration_number, Attempt.deadline_at).join(
                Attempt, Attempt.enrollment_id == Enrollment.id
            )
        ).all()
    engine.dispose()
    return dict(rows)


def all_entries(settings) -> list[str]:
    engine = database.sync_engine(settings)
    with database.session_factory(engine)() as s:
        texts = [e.entry for e in log.entries(s, 0, log.size(s))]
    engine.dispose()
    return texts


def test_every_exam_page_and_api_reply_is_no_store(app):
    client, attempt = seated(app, "a1")
    for url in ("/exam/UJI", "/exam/UJI/attempt", f"/api/v1/attempts/{attempt}"):
        res = client.get(url, follow_redirects=False)
        assert res.status_code in (200, 303), url
        assert res.headers["cache-control"] == "no-store", url
    assert beat(client, attempt)["status"] == "active"


def test_a_stale_answer_is_explained_in_the_applicants_language_with_the_current_item(app):
    client, attempt = seated(app, "a1")
    htmx = {"hx-request": "true", "x-csrftoken": csrf(client)}
    # The fixed TWK section ends; the adaptive TIU runs forward only, so a page that
    # answers one of its items again is out of date.
    finish = f"/api/v1/attempts/{attempt}/sections/current/finish"
    assert client.post(finish, headers={"x-csrftoken": csrf(client)}).status_code == 200
    data = client.get(f"/api/v1/attempts/{attempt}").json()
    step, item = data["step"], data["item"]
    first = {"step": str(step), "item_id": item["item_id"], "choice": "A"}
    assert client.post("/exam/UJI/answer", data=first, headers=htmx).status_code == 200
    stale = client.post("/exam/UJI/answer", data={**first, "choice": "B"}, headers=htmx)
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-store"
    assert "Halaman ini sudah usang" in stale.text
    assert f'name="step" value="{step + 1}"' in stale.text  # the item to answer now
    assert "already answered" not in stale.text
    client.get("/lang/en", headers={"referer": "/exam/UJI"})
    again = client.post("/exam/UJI/answer", data={**first, "choice": "C"}, headers=htmx)
    assert "This page was out of date" in again.text


def test_a_rooms_outage_is_credited_to_each_and_recomputed_by_the_verifier(app, site_exam, clock):
    clients = {name: seated(app, name) for name in ("a1", "a2", "a3", "a4")}
    for client, attempt in clients.values():
        beat(client, attempt)
    a4, a4_attempt = clients["a4"]
    assert flush(a4) == []
    before = deadlines(site_exam)
    # The network of three of the room's four seats drops for two minutes.
    for _ in range(6):
        clock.now += timedelta(seconds=20)
        beat(a4, a4_attempt)
        flush(a4)
    for name in ("a1", "a2", "a3"):
        client, attempt = clients[name]
        assert (
            beat(client, attempt)["remaining_ms"]
            == (before[f"R-{name[1]}"] - clock.now).total_seconds() * 1000
        )
    assert flush(a4) == []  # too soon: the rest of the room may still come back
    clock.now += timedelta(seconds=61)
    [index] = flush(a4)
    after = deadlines(site_exam)
    for reg in ("R-1", "R-2", "R-3"):
        assert after[reg] - before[reg] == timedelta(minutes=2)
    assert after["R-4"] == before["R-4"]
    client, attempt = clients["a1"]
    assert (
        beat(client, attempt)["remaining_ms"] == (after["R-1"] - clock.now).total_seconds() * 1000
    )

    texts = all_entries(site_exam)
    outage = json.loads(texts[index])
    assert outage["type"] == "site_outage" and (outage["site"], outage["room"]) == ("S1", "R1")
    assert outage["active"] == 4 and outage["lost_contact"] == 3
    assert outage["to"] - outage["from"] == 120_000
    report = verify.Report()
    verify._check_events(verify._parse(texts, report), report)
    assert report.problems == []
    tampered = [*texts[:index], texts[index].replace('"credit_ms":120000', '"credit_ms":900000', 1)]
    report = verify.Report()
    verify._check_events(verify._parse(tampered, report), report)
    assert any("credited 900000 ms, the rule gives 120000 ms" in p for p in report.problems)


def test_one_applicant_going_silent_alone_gets_no_credit(app, site_exam, clock):
    clients = {name: seated(app, name) for name in ("a1", "a2", "a3", "a5")}
    for client, attempt in clients.values():
        beat(client, attempt)
    a1, _ = clients["a1"]
    flush(a1)
    before = deadlines(site_exam)
    for _ in range(9):
        clock.now += timedelta(seconds=20)
        for name in ("a1", "a2", "a3"):
            beat(*clients[name])
        flush(a1)
    beat(*clients["a5"])  # back after three minutes, alone
    flush(a1)
    clock.now += timedelta(seconds=61)
    assert flush(a1) == []
    assert deadlines(site_exam) == before
    engine = database.sync_engine(site_exam)
    with database.session_factory(engine)() as s:
        [gap] = s.scalars(select(ContactGap)).all()
        assert gap.decided and gap.log_index is None
    engine.dispose()
    assert not any('"site_outage"' in t for t in all_entries(site_exam))


def test_the_proctor_sees_its_room_pauses_and_resumes_it(app, site_exam, clock):
    a1, attempt = seated(app, "a1")
    with TestClient(app=app) as proctor:
        assert login(proctor, "pengawas").status_code == 303
        page = proctor.get("/proctor/")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "R-1" in page.text and "R-4" in page.text and "R-5" not in page.text
        assert "Sedang ujian" in page.text and "Belum masuk" in page.text
        item = a1.get(f"/api/v1/attempts/{attempt}").json()["item"]
        assert item["stem"][:40] not in page.text  # never an item
        assert proctor.get(f"/api/v1/attempts/{attempt}").status_code == 403
        assert proctor.get("/observer/").status_code == 403

        room = {"exam": "UJI", "site": "S1", "room": "R1"}
        token = {"x-csrftoken": csrf(proctor)}
        assert proctor.post("/proctor/pause", data=room, headers=token).status_code == 200
        assert "Ruangan ini sedang dijeda" in proctor.get("/proctor/").text
        flush(a1)
        assert beat(a1, attempt)["paused"] is True
        # The server holds the room's answers too, not only the page.
        now = a1.get(f"/api/v1/attempts/{attempt}").json()
        answer = {"step": now["step"], "item_id": now["item"]["item_id"], "choice": "A"}
        held = a1.post(
            f"/api/v1/attempts/{attempt}/answers", json=answer, headers={"x-csrftoken": csrf(a1)}
        )
        assert held.status_code == 409 and "paused" in held.text
        before = deadlines(site_exam)["R-1"]
        clock.now += timedelta(minutes=5)
        assert proctor.post("/proctor/resume", data=room, headers=token).status_code == 200
        assert deadlines(site_exam)["R-1"] - before == timedelta(minutes=5)
        flush(a1)
        assert beat(a1, attempt)["paused"] is False
        saved = a1.post(
            f"/api/v1/attempts/{attempt}/answers", json=answer, headers={"x-csrftoken": csrf(a1)}
        )
        assert saved.status_code == 200, saved.text
        other = {**room, "room": "R2"}
        refused = proctor.post(
            "/proctor/pause", data=other, headers={**token, "accept": "application/json"}
        )
        assert refused.status_code == 403
        noted = proctor.post(
            "/proctor/notes", data={**room, "text": "Listrik padam 2 menit"}, headers=token
        )
        assert noted.status_code == 200
    kinds = [json.loads(t) for t in all_entries(site_exam)]
    resumed = [e for e in kinds if e["type"] == "room_resumed"]
    assert resumed[0]["credit_ms"] == 300_000 and len(resumed[0]["pseudonyms"]) == 1
    assert any(e["type"] == "incident_note" and e["role"] == "proctor" for e in kinds)
    report = verify.Report()
    verify._check_events(verify._parse(all_entries(site_exam), report), report)
    assert report.problems == []


def test_a_heartbeat_after_the_first_reads_only_the_session(app, site_exam, clock):
    """A running attempt's facts are read once per process, then kept fresh by the
    contacts' pass: a credit reaches the next heartbeat, another account still gets 404."""
    a1, attempt = seated(app, "a1")
    a2, _ = seated(app, "a2")
    first = beat(a1, attempt)
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        again = beat(a1, attempt)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert len(statements) == 1 and "sessions" in statements[0], statements
    assert again["remaining_ms"] == first["remaining_ms"]  # the test clock stands still

    engine = database.sync_engine(site_exam)
    with database.session_factory(engine)() as s, s.begin():
        row = s.get(Attempt, attempt)
        row.deadline_at = row.deadline_at + timedelta(minutes=7)
    engine.dispose()
    flush(a1)
    assert beat(a1, attempt)["remaining_ms"] - first["remaining_ms"] == 7 * 60_000

    stranger = a2.post(f"/api/v1/attempts/{attempt}/heartbeat", headers={"x-csrftoken": csrf(a2)})
    assert stranger.status_code == 404
