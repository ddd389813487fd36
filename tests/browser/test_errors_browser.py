"""Errors people can read, in Chromium: the login's 429 is a page in the visitor's
language (the JSON API still gets JSON), and a 500 page shows the request id that the
server logged with the traceback."""

from __future__ import annotations

import io
import json
import logging
import threading
import time

import pytest
import uvicorn
from litestar import get

from exam.app import create_app
from exam.cli_access import server_options
from exam.web.logs import JsonLines
from tests.live_server import PASSWORD, free_port, prepare_data


@get("/results/boom", include_in_schema=False)  # a public page: no login needed
async def boom() -> str:
    raise RuntimeError("a bug")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An app with a failing route, served by uvicorn as ``seleksi serve`` runs it (in a
    thread of this process, so the route can be added); its ``exam.web`` log as JSON."""
    settings = prepare_data(tmp_path_factory.mktemp("errors")).model_copy(
        update={"login_address_failures": 3, "downtime_credit": False}
    )
    app = create_app(settings)
    app.register(boom)
    port = free_port()
    options = {k: v for k, v in server_options(settings).items() if k != "log_config"}
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, **options)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    logging.getLogger("exam.web").addHandler(handler)
    yield f"http://127.0.0.1:{port}", out
    logging.getLogger("exam.web").removeHandler(handler)
    server.should_exit = True
    thread.join(timeout=10)


def _try(page, url: str, username: str, password: str):
    page.goto(f"{url}/login")
    page.locator("#username").fill(username)  # by id: the labels follow the language
    page.locator("#password").fill(password)
    with page.expect_navigation() as navigation:
        page.locator("#password").press("Enter")
    return navigation.value


def test_too_many_failed_logins_get_a_page_in_the_visitors_language(served, page):
    url, _ = served
    for k in range(3):
        assert _try(page, url, f"tidak-ada-{k}", "salah").status == 401
    refused = _try(page, url, "komite", PASSWORD)
    assert refused.status == 429 and int(refused.headers["retry-after"]) > 0
    alert = page.get_by_role("alert")
    assert "Terlalu banyak percobaan masuk yang gagal" in alert.inner_text()
    assert page.locator("html").get_attribute("lang") == "id"
    assert page.get_by_label("Kata sandi").is_visible()  # the login form, to try again
    page.get_by_role("link", name="English").click()
    english = _try(page, url, "komite", PASSWORD)
    assert english.status == 429
    assert "Too many failed login attempts" in page.get_by_role("alert").inner_text()
    # The JSON API gets JSON, from the same address.
    token = page.context.cookies()
    csrf = next(c["value"] for c in token if c["name"] == "csrftoken")
    api = page.request.post(
        f"{url}/api/v1/auth/login",
        data=json.dumps({"username": "komite", "password": PASSWORD}),
        headers={"content-type": "application/json", "x-csrftoken": csrf},
    )
    assert api.status == 429 and api.json()["status_code"] == 429


def test_a_500_page_shows_the_request_id_the_server_logged(served, page):
    url, out = served
    reply = page.goto(f"{url}/results/boom")
    assert reply.status == 500
    shown = page.locator("[data-request-id]").inner_text()
    assert page.get_by_role("heading", name="Terjadi kesalahan pada server").is_visible()
    assert reply.headers["x-request-id"] == shown
    assert "a bug" not in page.content()
    lines = [json.loads(text) for text in out.getvalue().splitlines()]
    [logged] = [line for line in lines if line.get("request_id") == shown]
    assert "RuntimeError: a bug" in logged["traceback"]
