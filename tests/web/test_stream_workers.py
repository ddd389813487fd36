"""PostgreSQL: an answer through one server process reaches an SSE client of another
within a second, woken by pg_notify from the append transaction (the poll that backs it
up runs only every 5 s)."""

import json
import threading
import time

import httpx
import pytest

from tests.conftest import _fresh_pg_database
from tests.live_server import PASSWORD, LiveServer, prepare_data


@pytest.fixture
def two_servers(pg_server, tmp_path):
    url, drop = _fresh_pg_database(pg_server)
    settings = prepare_data(tmp_path / "data", url)
    settings.log_signer()  # the shared key file, before two processes look for it
    servers = [LiveServer(settings), LiveServer(settings)]
    try:
        yield [s.start() for s in servers]
    finally:
        for s in servers:
            s.stop()
        drop()


def test_an_entry_through_one_worker_reaches_a_stream_on_the_other(two_servers):
    one, other = two_servers
    with httpx.Client(base_url=other, timeout=20) as watcher, httpx.Client(base_url=one) as app:
        for round_ in range(3):
            got: list[tuple[float, dict]] = []
            with watcher.stream("GET", "/api/v1/log/stream") as stream:

                def read(stream=stream, got=got):
                    for line in stream.iter_lines():
                        if line.startswith("data: "):
                            got.append((time.monotonic(), json.loads(line[6:])))
                            return

                reader = threading.Thread(target=read)
                reader.start()
                time.sleep(0.3)
                app.cookies.clear()
                app.get("/login")
                sent = time.monotonic()
                res = app.post(
                    "/api/v1/auth/login",
                    json={"username": f"peserta0{round_ + 1}", "password": PASSWORD},
                    headers={"x-csrftoken": app.cookies["csrftoken"]},
                )
                assert res.status_code == 200, res.text
                reader.join(timeout=10)
            assert got, "no entry reached the other worker's stream"
            arrived, entry = got[0]
            assert entry["type"] == "login"
            assert arrived - sent < 1.0, f"round {round_}: {arrived - sent:.2f} s"
