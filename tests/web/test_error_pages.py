"""One map from errors to replies: a browser gets an error page in its language for 403,
404, 409, 429 and 500, the JSON API gets JSON; a 500 is logged with the id its page shows."""

import logging
import re

import pytest
from litestar import get
from litestar.testing import TestClient

from exam.adapters import database
from exam.app import create_app
from exam.usecases import delivery
from tests.db.test_delivery import demo_config
from tests.web.conftest import csrf, login
from tests.web.test_attempt_api import api, api_login, exam_ready, post  # noqa: F401 (fixtures)

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def page(reply, status: int, *texts: str) -> None:
    """An HTML error page in Indonesian with ``texts``, never raw JSON."""
    assert reply.status_code == status
    assert reply.headers["content-type"].startswith("text/html")
    assert not reply.text.lstrip().startswith("{")
    assert '<html lang="id">' in reply.text
    for text in texts:
        assert text in reply.text


def as_json(reply, status: int) -> dict:
    assert reply.status_code == status
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["status_code"] == status
    return body


def test_404_page_and_json(client):
    page(client.get("/results/NOPE", headers=HTML), 404, "Halaman tidak ditemukan")
    as_json(client.get("/api/v1/exams/NOPE/rankings", headers=HTML), 404)
    client.cookies["lang"] = "en"
    english = client.get("/results/NOPE", headers=HTML)
    assert english.status_code == 404 and "Page not found" in english.text
    assert '<html lang="en">' in english.text


def test_403_page_and_json(client):
    assert login(client, "peserta01").status_code == 303
    page(client.get("/committee/exams/", headers=HTML), 403, "Akses ditolak")
    # The JSON API without the CSRF token: refused, as JSON even to a browser's Accept.
    as_json(client.post("/api/v1/auth/login", json={}, headers=HTML), 403)


def test_409_page(web, app_settings):
    engine = database.sync_engine(app_settings)
    with database.session_factory(engine)() as session, session.begin():
        delivery.new_exam(session, demo_config())
    engine.dispose()
    # A domain conflict on a page: screening an exam that has not opened.
    refused = web.post("/observer/exams/UJI/screening", headers={**HTML, "x-csrftoken": csrf(web)})
    page(refused, 409, "Tidak dapat dilakukan saat ini", "has not opened")


def test_409_json(api):  # noqa: F811 (a fixture)
    """The same kind of refusal in the JSON API: a second, different answer to a step of
    the adaptive section (which runs forward only)."""
    api_login(api, "peserta01")
    attempt = post(api, "/api/v1/exams/UJI/attempts").json()["attempt_id"]
    assert post(api, f"/api/v1/attempts/{attempt}/sections/current/finish").status_code == 200
    data = api.get(f"/api/v1/attempts/{attempt}").json()
    answer = {"step": data["step"], "item_id": data["item"]["item_id"], "choice": "A"}
    assert post(api, f"/api/v1/attempts/{attempt}/answers", answer).status_code == 200
    again = post(api, f"/api/v1/attempts/{attempt}/answers", {**answer, "choice": "B"})
    assert "already answered" in as_json(again, 409)["detail"]


def test_429_page_and_json(client):
    token = {"x-csrftoken": csrf(client)}
    pages = [
        client.post("/login", data={"username": "x", "password": "y"}, headers={**HTML, **token})
        for _ in range(7)
    ]
    # The login page again, saying why and for how long, in the visitor's language.
    page(pages[-1], 429, "Terlalu banyak percobaan masuk yang gagal", 'name="password"')
    assert int(pages[-1].headers["retry-after"]) > 0
    with TestClient(app=client.app) as other:
        token = {"x-csrftoken": csrf(other)}
        replies = [
            other.post("/api/v1/auth/login", json={"username": "x", "password": "y"}, headers=token)
            for _ in range(7)
        ]
        as_json(replies[-1], 429)


@get("/committee/boom", include_in_schema=False)
async def boom() -> str:
    raise RuntimeError("a bug")


@get("/api/v1/committee/boom", include_in_schema=False)
async def api_boom() -> str:
    raise RuntimeError("a bug")


@pytest.fixture
def broken(web_settings):
    app = create_app(web_settings)
    app.register(boom)
    app.register(api_boom)
    with TestClient(app=app, raise_server_exceptions=False) as c:
        assert login(c, "komite").status_code == 303
        yield c


def test_500_page_shows_the_request_id_that_is_logged_with_the_traceback(broken, caplog):
    with caplog.at_level(logging.ERROR, logger="exam.web"):
        reply = broken.get("/committee/boom", headers=HTML)
    page(reply, 500, "Terjadi kesalahan pada server", "Nomor permintaan")
    assert "a bug" not in reply.text and "Traceback" not in reply.text
    [shown] = re.findall(r"data-request-id>([0-9a-f]{32})<", reply.text)
    assert reply.headers["x-request-id"] == shown
    [record] = [r for r in caplog.records if shown in r.getMessage()]
    assert record.exc_info and record.exc_info[0] is RuntimeError

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="exam.web"):
        body = as_json(broken.get("/api/v1/committee/boom", headers=HTML), 500)
    assert "a bug" not in body["detail"]
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and logged[0].getMessage().split()[1] in body["detail"]


def test_each_request_has_its_own_id(client):
    first, second = client.get("/login"), client.get("/login")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
