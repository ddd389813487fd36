"""A running app per database, with a committee member, an observer and an applicant."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from litestar.testing import TestClient

import itembank
from exam.adapters import database
from exam.adapters.models import User
from exam.adapters.security import password_hasher
from exam.adapters.settings import Settings
from exam.app import create_app
from itembank import repository
from itembank.transfer import read_bank_file

ACCOUNTS = {
    "komite": "committee",
    "pengamat": "observer",
    "peserta01": "applicant",
    "pengawas": "proctor",
}
PASSWORD = "rahasia-123"


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    fast = settings.model_copy(
        update={
            "argon2_time_cost": 1,
            "argon2_memory_kib": 8,
            "login_address_failures": 5,
            # These apps run on a fake clock, in the test's process: real downtime is
            # tested with real servers (test_kill_restart, benchmarks/faults.py).
            "downtime_credit": False,
        }
    )
    engine = database.sync_engine(fast)
    hasher = password_hasher(fast)
    with database.session_factory(engine)() as session, session.begin():
        for name, role in ACCOUNTS.items():
            session.add(User(username=name, password_hash=hasher.hash(PASSWORD), role=role))
    engine.dispose()
    return fast


@pytest.fixture
def client(web_settings):
    with TestClient(app=create_app(web_settings)) as c:
        yield c


def csrf(client: TestClient) -> str:
    if "csrftoken" not in client.cookies:
        client.get("/login")
    return client.cookies["csrftoken"]


def login(client: TestClient, username: str, password: str = PASSWORD):
    return client.post(
        "/login",
        data={"username": username, "password": password},
        headers={"x-csrftoken": csrf(client)},
        follow_redirects=False,
    )


@pytest.fixture
def committee(client):
    assert login(client, "komite").status_code == 303
    return client


def problems_in(html: str) -> list[str]:
    return re.findall(r"<li><code>(.*?)</code>", html)


START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand (the app's ``clock``)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app_settings(web_settings):
    """The accounts plus the demo bank."""
    engine = database.sync_engine(web_settings)
    demo = Path(itembank.__file__).parent / "demo_bank.json"
    with database.session_factory(engine)() as session, session.begin():
        repository.import_items(session, read_bank_file(demo))
    engine.dispose()
    return web_settings


@pytest.fixture
def web(app_settings, clock):
    """A committee member's client on an app with the demo bank."""
    with TestClient(app=create_app(app_settings, clock=clock)) as c:
        assert login(c, "komite").status_code == 303
        yield c
