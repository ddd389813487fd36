"""New credentials end every live session of the account, on both databases: an
impersonator logged in with the old password is logged out in every worker, the real
applicant's new login works, and the log counts the sessions ended."""

import re

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from exam.adapters.models import User
from exam.adapters.security import SESSION_ENDED_DETAIL
from exam.app import create_app
from exam.web.sessions import ENDED, SESSION_COOKIE, SESSION_STORE
from tests.web.conftest import csrf, login
from tests.web.test_committee_exams import CSV, FORM, db_session, enroll, events, post, sheet


def status(client, url: str) -> int:
    """The status of a page read as the JSON API client would (no redirect to the login)."""
    return client.get(url, headers={"accept": "application/json"}).status_code


def api_post(client, url, body=None):
    return client.post(url, json=body or {}, headers={"x-csrftoken": csrf(client)})


@pytest.fixture
def open_exam(web):
    """CPNS1 open, with its applicants' first login sheet."""
    assert post(web, "/committee/exams/new", FORM).status_code == 200
    creds = sheet(enroll(web, CSV).text)
    assert "notice=opened" in str(post(web, "/committee/exams/CPNS1/open").url)
    return creds


def test_new_credentials_end_the_impersonators_session(web, app_settings, open_exam):
    impostor = TestClient(app=web.app)
    real = TestClient(app=web.app)
    with impostor, real:
        assert login(impostor, "2401001", open_exam["2401001"]).status_code == 303
        started = api_post(impostor, "/api/v1/exams/CPNS1/attempts")
        assert started.status_code == 200, started.text
        attempt = started.json()["attempt_id"]
        state = impostor.get(f"/api/v1/attempts/{attempt}").json()

        page = post(web, "/committee/exams/CPNS1/credentials", {"registration_number": "2401001"})
        new = sheet(page.text)["2401001"]
        assert login(real, "2401001", new).status_code == 303

        read = impostor.get(f"/api/v1/attempts/{attempt}")
        assert read.status_code == 401 and read.json()["detail"] == SESSION_ENDED_DETAIL
        answer = {"step": state["step"], "item_id": state["item"]["item_id"], "choice": "A"}
        refused = api_post(impostor, f"/api/v1/attempts/{attempt}/answers", answer)
        assert refused.status_code == 401 and refused.json()["detail"] == SESSION_ENDED_DETAIL

        assert real.get(f"/api/v1/attempts/{attempt}").json()["step"] == state["step"]
        accepted = api_post(real, f"/api/v1/attempts/{attempt}/answers", answer)
        assert accepted.status_code == 200 and accepted.json()["accepted"] is True

    [reset] = events(app_settings, "credentials_reset")
    assert reset["sessions_ended"] == [1] and len(reset["pseudonyms"]) == 1
    assert "2401001" not in str(reset)


def test_an_ended_session_gets_the_login_page_with_the_reason(web, open_exam):
    with TestClient(app=web.app) as impostor:
        assert login(impostor, "2401002", open_exam["2401002"]).status_code == 303
        assert impostor.get("/exam/CPNS1").status_code == 200
        post(web, "/committee/exams/CPNS1/credentials", {"registration_number": "2401002"})

        html = {"accept": "text/html"}
        page = impostor.get("/exam/CPNS1", headers=html)
        assert page.status_code == 200 and page.url.path == "/login"
        assert "kata sandi akun ini sudah diatur ulang" in page.text
        htmx = impostor.post(
            "/exam/CPNS1/answer", headers={"hx-request": "true", "x-csrftoken": csrf(impostor)}
        )
        # The item page stays and says the session ended (static/exam.js keeps the choice).
        assert htmx.status_code == 401 and "hx-redirect" not in htmx.headers
        assert htmx.json()["detail"] == SESSION_ENDED_DETAIL
        impostor.get("/lang/en", headers={"referer": "/login"})
        assert "password of this account was reset" in impostor.get("/login").text

        # An anonymous visitor sees no such note.
        with TestClient(app=web.app) as stranger:
            assert "diatur ulang" not in stranger.get("/login").text


def test_every_worker_and_a_restarted_server_see_the_ended_session(
    web, app_settings, clock, open_exam
):
    """Two apps on one database stand for two worker processes, or a server before and
    after a restart."""
    with TestClient(app=web.app) as impostor:
        assert login(impostor, "2401003", open_exam["2401003"]).status_code == 303
        cookie = impostor.cookies[SESSION_COOKIE]
    with TestClient(app=create_app(app_settings, clock=clock)) as other:
        other.cookies.set(SESSION_COOKIE, cookie)
        assert status(other, "/exam/CPNS1") == 200
        post(web, "/committee/exams/CPNS1/credentials", {"registration_number": "2401003"})
        assert status(other, "/exam/CPNS1") == 401
    with TestClient(app=create_app(app_settings, clock=clock)) as restarted:
        restarted.cookies.set(SESSION_COOKIE, cookie)
        assert (
            restarted.get("/exam/CPNS1", headers={"accept": "application/json"}).status_code == 401
        )


def test_a_session_written_again_after_the_reset_stays_ended(web, open_exam):
    """A request under way during the reset may write its session back (a client change
    does): it writes the count it logged in under, which is still the old one."""
    with TestClient(app=web.app) as impostor:
        assert login(impostor, "2401001", open_exam["2401001"]).status_code == 303
        key = impostor.cookies[SESSION_COOKIE]
        store = web.app.stores.get(SESSION_STORE)
        portal = impostor.blocking_portal
        before = portal.call(store.get, key)
        post(web, "/committee/exams/CPNS1/credentials", {"registration_number": "2401001"})
        assert portal.call(store.get, key) == ENDED
        portal.call(store.set, key, before, 3600)
        assert portal.call(store.get, key) == ENDED
        assert (
            impostor.get("/exam/CPNS1", headers={"accept": "application/json"}).status_code == 401
        )


def test_a_password_set_from_the_command_line_ends_every_session(web, app_settings, monkeypatch):
    """Committee members and observers may use several screens: all of them end."""
    from click.testing import CliRunner

    from exam import cli

    screens = [TestClient(app=web.app), TestClient(app=web.app)]
    for screen in screens:
        screen.__enter__()
        assert login(screen, "pengamat").status_code == 303
        assert screen.get("/observer", headers={"accept": "application/json"}).status_code == 200
    try:
        monkeypatch.setattr(cli, "get_settings", lambda: app_settings)
        result = CliRunner().invoke(
            cli.main, ["user", "add", "pengamat", "--role", "observer", "--password", "baru-456"]
        )
        assert result.exit_code == 0, result.output
        assert re.search(r"updated; 2 live session\(s\) ended", result.output)
        for screen in screens:
            res = screen.get("/observer", headers={"accept": "application/json"})
            assert res.status_code == 401 and res.json()["detail"] == SESSION_ENDED_DETAIL
        with TestClient(app=web.app) as fresh:
            assert login(fresh, "pengamat", "baru-456").status_code == 303
            assert fresh.get("/observer", headers={"accept": "application/json"}).status_code == 200
    finally:
        for screen in screens:
            screen.__exit__(None, None, None)
    with db_session(app_settings) as s:
        assert s.scalar(select(User.credentials_version).where(User.username == "pengamat")) == 1
    # Logged like a new login sheet: an account in no exam is named by its role only.
    [reset] = events(app_settings, "credentials_reset")
    assert reset["exam"] == "" and reset["role"] == "observer" and reset["by"] == "cli"
    assert reset["sessions_ended"] == [2] and "pengamat" not in str(reset)


def test_a_password_set_from_the_command_line_ends_both_of_an_applicants_sessions(
    web, app_settings, open_exam, monkeypatch
):
    """Two live sessions of one applicant (the first written back by a request still under
    way when the second logged in and took over): setting the password from the command
    line ends both, and the log counts them under the applicant's pseudonym."""
    from click.testing import CliRunner

    from exam import cli

    first, second = TestClient(app=web.app), TestClient(app=web.app)
    with first, second:
        assert login(first, "2401001", open_exam["2401001"]).status_code == 303
        key = first.cookies[SESSION_COOKIE]
        store = web.app.stores.get(SESSION_STORE)
        portal = first.blocking_portal
        written = portal.call(store.get, key)
        assert login(second, "2401001", open_exam["2401001"]).status_code == 303
        portal.call(store.set, key, written, 3600)
        assert status(first, "/exam/CPNS1") == status(second, "/exam/CPNS1") == 200

        monkeypatch.setattr(cli, "get_settings", lambda: app_settings)
        result = CliRunner().invoke(
            cli.main,
            ["user", "add", "2401001", "--role", "applicant", "--password", "baru-789"],
        )
        assert result.exit_code == 0, result.output
        assert "updated; 2 live session(s) ended" in result.output
        for client in (first, second):
            res = client.get("/exam/CPNS1", headers={"accept": "application/json"})
            assert res.status_code == 401 and res.json()["detail"] == SESSION_ENDED_DETAIL
        with TestClient(app=web.app) as fresh:
            assert login(fresh, "2401001", "baru-789").status_code == 303
            assert status(fresh, "/exam/CPNS1") == 200

    [reset] = events(app_settings, "credentials_reset")
    assert reset["exam"] == "CPNS1" and reset["by"] == "cli"
    assert reset["sessions_ended"] == [2] and len(reset["pseudonyms"]) == 1
    assert "2401001" not in str(reset)
