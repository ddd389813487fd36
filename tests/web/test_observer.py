"""The observers' pages and the public ranking, on both databases."""

from litestar.testing import TestClient

from tests.web.conftest import csrf, login
from tests.web.test_committee_exams import CSV, FORM, enroll, events, post, sheet


def open_exam_with_one_start(web):
    assert post(web, "/committee/exams/new", FORM).status_code == 200
    creds = sheet(enroll(web, CSV).text)
    assert "notice=opened" in str(post(web, "/committee/exams/CPNS1/open").url)
    with TestClient(app=web.app) as applicant:
        assert login(applicant, "2401002", creds["2401002"]).status_code == 303
        post(applicant, "/exam/CPNS1/start")
        attempt = applicant.get("/exam/CPNS1/attempt")
        assert attempt.status_code == 200
        res = applicant.post(
            "/api/v1/attempts/1/events",
            json={"type": "blur", "at": 1},
            headers={"x-csrftoken": csrf(applicant)},
        )
        assert res.status_code == 200, res.text
    return creds


def test_the_board_and_the_public_ranking(web, app_settings):
    open_exam_with_one_start(web)
    with TestClient(app=web.app) as observer:
        assert login(observer, "pengamat").status_code == 303
        page = observer.get("/observer/exams/CPNS1")
        assert page.status_code == 200
        assert page.text.count("belum mulai") == 2 and page.text.count("sedang ujian") == 1
        assert "data-verify-checkpoint" in page.text and "observer.js" in page.text
        assert "Ani Lestari" not in page.text and "2401001" not in page.text
    with TestClient(app=web.app) as public:
        ranking = public.get("/api/v1/exams/CPNS1/rankings").json()
        statuses = sorted(r["status"] for r in ranking["rows"])
        assert statuses == ["active", "not_started", "not_started"]
        active = next(r for r in ranking["rows"] if r["status"] == "active")
        assert active["flags"] == 1 and active["rank"] is None
        assert ranking["log_size"] > 0 and ranking["passing_grades"] == {"TWK": 30, "TIU": None}
        assert public.get("/api/v1/exams/NOPE/rankings").status_code == 404


def test_observers_share_one_board_for_its_max_age(web):
    """However many observers follow, a process builds one board per exam per max age;
    each reply states the log size it reflects, and a newer board follows once it expires."""
    creds = open_exam_with_one_start(web)
    now = [0.0]
    boards = web.app.state.boards
    boards.max_age_s, boards.clock = 60.0, lambda: now[0]
    with TestClient(app=web.app) as public:
        first = public.get("/api/v1/exams/CPNS1/rankings").json()
        statuses = sorted(r["status"] for r in first["rows"])
        assert statuses == ["active", "not_started", "not_started"]
        with TestClient(app=web.app) as applicant:  # a change: another applicant starts
            assert login(applicant, "2401001", creds["2401001"]).status_code == 303
            post(applicant, "/exam/CPNS1/start")
            assert applicant.get("/exam/CPNS1/attempt").status_code == 200
        now[0] = 59.0
        assert public.get("/api/v1/exams/CPNS1/rankings").json() == first
        assert public.get("/api/v1/exams/NOPE/rankings").status_code == 404
        now[0] = 60.0
        fresh = public.get("/api/v1/exams/CPNS1/rankings").json()
        assert fresh["log_size"] > first["log_size"]
        assert sorted(r["status"] for r in fresh["rows"]) == ["active", "active", "not_started"]


def test_flags_and_incident_notes_are_logged(web, app_settings):
    open_exam_with_one_start(web)
    with TestClient(app=web.app) as observer:
        assert login(observer, "pengamat").status_code == 303
        flags = observer.get("/observer/flags", params={"exam": "CPNS1"})
        assert "jendela tidak aktif" in flags.text  # the "blur" event, named in Indonesian
        trail = observer.get("/observer/trail")
        assert "Jawaban</option>" in trail.text and ">answer</option>" not in trail.text
        note = post(
            observer,
            "/observer/notes",
            {"exam": "CPNS1", "text": "Pemadaman listrik 5 menit di ruang B"},
        )
        assert note.status_code == 200 and "Pemadaman listrik" in note.text
        assert post(observer, "/observer/notes", {"exam": "CPNS1", "text": " "}).status_code == 400
        assert post(observer, "/observer/notes", {"exam": "X", "text": "x"}).status_code == 422
    [logged] = events(app_settings, "incident_note")
    assert logged["role"] == "observer" and logged["text"].startswith("Pemadaman")


def test_verify_page_gives_the_key_and_the_command(web):
    open_exam_with_one_start(web)
    with TestClient(app=web.app) as observer:
        assert login(observer, "pengamat").status_code == 303
        page = observer.get("/observer/verify")
        key = observer.get("/api/v1/log/key").text.strip()
        assert key in page.text
        # The single-file verifier, with the packages it needs pinned to the server's.
        import cryptography
        import numpy

        commands = page.text.split('id="verify-commands">')[1].split("</pre>")[0]
        assert f"cryptography=={cryptography.__version__} numpy=={numpy.__version__}" in commands
        assert "/api/v1/log/verifier.pyz" in commands and "seleksi-verify.pyz --url" in commands
        assert observer.get("/api/v1/log/verifier.pyz").content[:2] == b"#!"
        assert "— seleksi.local/log" in page.text  # the signed checkpoint, shown as is
        assert 'id="witness-count" data-known="0" data-cosigned="0"' in page.text
        counted = observer.get("/api/v1/log/witnesses").json()
        assert (counted["known"], counted["cosigned"], counted["problems"]) == (0, 0, [])
        shown_size = int(page.text.split("seleksi.local/log\n")[1].split()[0])
        assert counted["checkpoint_size"] == shown_size


def test_observers_read_only_and_applicants_kept_out(client):
    assert login(client, "peserta01").status_code == 303
    for url in ("/observer/", "/observer/trail", "/observer/flags", "/observer/verify"):
        assert client.get(url).status_code == 403
    assert post(client, "/observer/notes", {"exam": "X", "text": "x"}).status_code == 403
    client.post("/logout", headers={"x-csrftoken": csrf(client)})
    assert login(client, "pengamat").status_code == 303
    for url in ("/committee/exams/", "/committee/bank/"):
        assert client.get(url).status_code == 403
