"""The public audit log over HTTP: checkpoint, key, entries, proofs (both databases), and
the Server-Sent Events stream against a real server."""

import base64
import json
import threading
import time

import httpx
from litestar.testing import TestClient

from exam.app import create_app
from proctoring import merkle
from proctoring.note import Verifier, open_checkpoint
from tests.live_server import server  # noqa: F401 (the fixture)
from tests.web.conftest import csrf, login
from tests.web.test_committee_exams import CSV, FORM, enroll, post


def unb64(hashes):
    return [base64.b64decode(h) for h in hashes]


def test_checkpoints_entries_and_proofs_verify_offline(web, app_settings):
    """Everything an observer needs, without a login: after the committee opens an exam,
    the signed checkpoint verifies with the served key, and every entry is in it."""
    assert post(web, "/committee/exams/new", FORM).status_code == 200
    enroll(web, CSV)
    assert "notice=opened" in str(post(web, "/committee/exams/CPNS1/open").url)
    with TestClient(app=create_app(app_settings)) as public:
        key = Verifier.parse(public.get("/api/v1/log/key").text)
        assert key.name == app_settings.log_origin
        note = public.get("/api/v1/log/checkpoint")
        assert note.headers["content-type"].startswith("text/plain")
        cp = open_checkpoint(note.text, key, app_settings.log_origin)
        entries = public.get("/api/v1/log/entries", params={"start": 0, "end": cp.size}).json()
        texts = [e["entry"] for e in entries["entries"]]
        assert [e["index"] for e in entries["entries"]] == list(range(cp.size))
        assert json.loads(texts[-1])["type"] == "exam_committed"
        leaves = [merkle.leaf_hash(t.encode()) for t in texts]
        for i, leaf in enumerate(leaves):
            proof = public.get(
                "/api/v1/log/proof/inclusion", params={"index": i, "size": cp.size}
            ).json()
            assert merkle.verify_inclusion(i, cp.size, leaf, unb64(proof["hashes"]), cp.root)
        nodes = merkle.nodes_for_leaves(leaves)
        earlier = merkle.root(2, lambda lv, i: nodes[(lv, i)])
        proof = public.get(
            "/api/v1/log/proof/consistency", params={"first": 2, "second": cp.size}
        ).json()
        assert merkle.verify_consistency(2, cp.size, earlier, cp.root, unb64(proof["hashes"]))
        for url, params in [
            ("/api/v1/log/entries", {"start": 3, "end": 3}),
            ("/api/v1/log/entries", {"start": 0, "end": 5000}),
            ("/api/v1/log/proof/inclusion", {"index": cp.size, "size": cp.size}),
            ("/api/v1/log/proof/inclusion", {"index": 0, "size": cp.size + 1}),
            ("/api/v1/log/proof/consistency", {"first": 3, "second": 2}),
            ("/api/v1/log/entries", {"start": -1, "end": 2}),
        ]:
            assert public.get(url, params=params).status_code == 400, (url, params)
    public_text = " ".join(texts)
    assert "Ani Lestari" not in public_text and "2401001" not in public_text


def read_events(response, count: int, timeout: float = 10.0) -> list[dict]:
    """The first ``count`` entry events of an SSE response (id and parsed data)."""
    events, current = [], {}
    deadline = time.monotonic() + timeout
    for line in response.iter_lines():
        if time.monotonic() > deadline:
            break
        if line.startswith("id: "):
            current["id"] = int(line[4:])
        elif line.startswith("data: "):
            current["data"] = json.loads(line[6:])
        elif line == "" and "id" in current:
            events.append(current)
            current = {}
            if len(events) == count:
                break
    return events


def test_the_stream_replays_resumes_after_last_event_id_and_goes_live(server):  # noqa: F811
    with httpx.Client(base_url=server, timeout=20) as client:
        with client.stream("GET", "/api/v1/log/stream", params={"since": 0}) as first:
            assert first.headers["content-type"].startswith("text/event-stream")
            events = read_events(first, 2)
        assert [e["id"] for e in events] == [0, 1]
        assert all({"type", "exam", "t"} <= set(e["data"]) for e in events)
        with client.stream("GET", "/api/v1/log/stream", headers={"Last-Event-ID": "0"}) as again:
            assert [e["id"] for e in read_events(again, 1)] == [1]

        # Live: a login appends an entry, and the open stream delivers it within a second.
        size = int(client.get("/api/v1/log/checkpoint").text.split("\n")[1])
        with client.stream("GET", "/api/v1/log/stream") as live:
            got: list[dict] = []
            reader = threading.Thread(target=lambda: got.extend(read_events(live, 1)))
            reader.start()
            time.sleep(0.5)
            applicant = httpx.Client(base_url=server)
            applicant.get("/login")
            sent = time.monotonic()
            applicant.post(
                "/api/v1/auth/login",
                json={"username": "peserta05", "password": "demo"},
                headers={"x-csrftoken": applicant.cookies["csrftoken"]},
            )
            reader.join(timeout=10)
            delay = time.monotonic() - sent
            applicant.close()
        assert got and got[0]["data"]["type"] == "login" and got[0]["id"] >= size
        assert delay < 1.5


def test_observers_need_no_login_for_the_log_but_cannot_write(client):
    assert client.get("/api/v1/log/key").status_code == 200
    assert login(client, "pengamat").status_code == 303
    res = client.post("/committee/exams/new", data=FORM, headers={"x-csrftoken": csrf(client)})
    assert res.status_code == 403
