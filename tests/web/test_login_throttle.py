"""Logins a test site can use: only failures count, per account (a growing wait, then a
lock that the committee or the command line lifts, each logged) and per address (a
registered test-site network allows more); X-Forwarded-For only from trusted proxies;
no database connection is held while a password hashes."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from datetime import timedelta

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import select

from exam.adapters import database
from exam.adapters.models import AddressFailures, User
from exam.adapters.security import PASSWORD_NICENESS, PasswordChecker, password_hasher
from exam.adapters.settings import get_settings
from exam.app import create_app
from exam.cli import main
from proctoring.models import LogEntry
from tests.web.conftest import PASSWORD, csrf, login
from tests.web.test_attempt_api import exam_ready  # noqa: F401 (a fixture: peserta01 enrolled)

HTML = {"accept": "text/html"}


class Peer:
    """The socket peer the app sees (Litestar's TestClient always says ``testclient``):
    wraps the app's ASGI handler; ``host`` may change between requests."""

    def __init__(self, app, host: str) -> None:
        self.host, self.inner = host, app.asgi_handler
        app.asgi_handler = self

    async def __call__(self, scope, receive, send) -> None:
        await self.inner({**scope, "client": (self.host, 40000)}, receive, send)


@pytest.fixture
def throttled(web_settings):
    """Settings whose address allowance does not get in the way of an account's."""
    return web_settings.model_copy(update={"login_address_failures": 1000})


def _app(settings, clock, host: str = "203.0.113.7"):
    app = create_app(settings, clock=clock)
    return app, Peer(app, host)


def _log_entries(settings, kind: str) -> list[dict]:
    engine = database.sync_engine(settings)
    with database.session_factory(engine)() as session:
        texts = session.scalars(select(LogEntry.entry).order_by(LogEntry.index)).all()
    engine.dispose()
    return [e for e in map(json.loads, texts) if e["type"] == kind]


def _account(settings, username: str) -> User:
    engine = database.sync_engine(settings)
    with database.session_factory(engine)() as session:
        user = session.scalar(select(User).where(User.username == username))
    engine.dispose()
    return user


def test_failures_of_an_account_wait_longer_then_lock_until_the_committee_unlocks(throttled, clock):
    app, _ = _app(throttled, clock)
    with TestClient(app=app) as c:
        codes = [login(c, "pengamat", "salah").status_code for _ in range(4)]
        assert codes == [401] * 4  # three free failures, then the fourth is counted
        # The fourth failure makes the next try wait 2 s, even with the right password.
        waiting = login(c, "pengamat")
        assert waiting.status_code == 429 and waiting.headers["retry-after"] == "2"
        assert "Coba lagi dalam 2 detik" in waiting.text
        waits = []
        for _ in range(6):  # failures 5 … 10: each wait doubles, the tenth locks
            retry = login(c, "pengamat", "salah")
            assert retry.status_code == 429
            waits.append(int(retry.headers["retry-after"]))
            clock.now += timedelta(seconds=waits[-1])
            assert login(c, "pengamat", "salah").status_code == 401
        assert waits == [2, 4, 8, 16, 32, 64]
        locked = login(c, "pengamat")
        assert locked.status_code == 429 and "retry-after" not in locked.headers
        assert "Akun ini dikunci" in locked.text
        clock.now += timedelta(days=1)
        assert login(c, "pengamat").status_code == 429  # a lock does not wear off
    assert _account(throttled, "pengamat").locked_at is not None
    [entry] = _log_entries(throttled, "account_locked")
    assert entry["role"] == "observer" and entry["failures"] == 10
    assert "pengamat" not in json.dumps(entry)  # the public log names no account

    app, _ = _app(throttled, clock)
    with TestClient(app=app) as c:
        assert login(c, "komite").status_code == 303
        page = c.get("/committee/access/")
        assert "pengamat" in page.text and "Buka kunci" in page.text
        done = c.post(
            "/committee/access/unlock",
            data={"username": "pengamat"},
            headers={"x-csrftoken": csrf(c)},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert "Tidak ada akun yang terkunci" in c.get("/committee/access/").text
    [unlocked] = _log_entries(throttled, "account_unlocked")
    assert unlocked["by"] == "committee"
    account = _account(throttled, "pengamat")
    assert account.locked_at is None and account.failed_logins == 0
    app, _ = _app(throttled, clock)
    with TestClient(app=app) as c:
        assert login(c, "pengamat").status_code == 303


def test_a_success_clears_the_failures_and_a_lock_of_an_applicant_is_logged_by_pseudonym(
    exam_ready,  # noqa: F811 (the fixture)
    throttled,
    clock,
):
    app, _ = _app(throttled, clock)
    with TestClient(app=app) as c:
        for _ in range(3):
            assert login(c, "peserta01", "salah").status_code == 401
        assert login(c, "peserta01").status_code == 303
        assert _account(throttled, "peserta01").failed_logins == 0
    app, _ = _app(throttled, clock)
    with TestClient(app=app) as c:
        for _ in range(10):
            clock.now += timedelta(minutes=10)
            assert login(c, "peserta01", "salah").status_code == 401
        assert login(c, "peserta01").status_code == 429
    [entry] = _log_entries(throttled, "account_locked")
    assert entry["pseudonym"].startswith("P") and entry["exam"]


def test_the_command_line_lists_and_unlocks_locked_accounts(throttled, clock, monkeypatch):
    app, _ = _app(throttled, clock)
    with TestClient(app=app) as c:
        for _ in range(10):
            clock.now += timedelta(minutes=10)
            login(c, "komite", "salah")
    monkeypatch.setenv("SELEKSI_DATA_DIR", str(throttled.data_dir))
    if throttled.database_url:
        monkeypatch.setenv("SELEKSI_DATABASE_URL", throttled.database_url)
    get_settings.cache_clear()
    try:
        listed = CliRunner().invoke(main, ["account", "locked"])
        assert listed.exit_code == 0 and "komite\tcommittee\tlocked" in listed.output
        done = CliRunner().invoke(main, ["account", "unlock", "komite"])
        assert done.exit_code == 0, done.output
        missing = CliRunner().invoke(main, ["account", "unlock", "nobody"])
        assert missing.exit_code == 1 and "no account 'nobody'" in missing.output
    finally:
        get_settings.cache_clear()
    assert [e["by"] for e in _log_entries(throttled, "account_unlocked")] == ["cli"]
    app, _ = _app(throttled, clock)
    with TestClient(app=app) as c:
        assert login(c, "komite").status_code == 303


def test_an_address_is_throttled_on_failures_only(web_settings, clock):
    """The web settings allow 5 failures per address and window."""
    app, peer = _app(web_settings, clock)
    with TestClient(app=app) as c:
        for _ in range(20):  # successes never count
            assert login(c, "komite").status_code == 303
        for k in range(5):
            assert login(c, f"nobody{k}", "x").status_code == 401
        refused = login(c, "komite")  # now even a right password waits for the window
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) == int(web_settings.login_window_s)
        peer.host = "198.51.100.1"  # another address is not affected
        assert login(c, "komite").status_code == 303
        peer.host = "203.0.113.7"
        clock.now += timedelta(seconds=web_settings.login_window_s)
        assert login(c, "komite").status_code == 303


def test_a_registered_network_has_its_own_allowance(web_settings, clock):
    app, peer = _app(web_settings, clock, host="192.0.2.10")
    with TestClient(app=app) as c:
        assert login(c, "komite").status_code == 303
        token = {"x-csrftoken": csrf(c)}
        bad = c.post(
            "/committee/access/networks",
            data={"cidr": "203.0.113.0/33", "name": "x", "allowance": "50"},
            headers={**token, **HTML},
        )
        assert (
            bad.status_code == 422 and "cidr: &#39;203.0.113.0/33&#39; is not a network" in bad.text
        )
        added = c.post(
            "/committee/access/networks",
            data={"cidr": "203.0.113.5/24", "name": "SMAN 1 Bogor", "allowance": "50"},
            headers=token,
            follow_redirects=False,
        )
        assert added.status_code == 303
        page = c.get("/committee/access/").text
        assert "203.0.113.0/24" in page and "SMAN 1 Bogor" in page
        peer.host = "203.0.113.77"
        codes = [login(c, f"nobody{k}", "x").status_code for k in range(30)]
        assert codes == [401] * 30  # the default allowance (5) would have refused
        assert login(c, "komite").status_code == 303
        peer.host = "198.51.100.1"
        codes = [login(c, f"nobody{k}", "x").status_code for k in range(6)]
        assert codes == [401] * 5 + [429]
        peer.host = "192.0.2.10"
        assert login(c, "komite").status_code == 303
        removed = c.post(
            "/committee/access/networks/remove",
            data={"cidr": "203.0.113.0/24"},
            headers={"x-csrftoken": csrf(c)},
            follow_redirects=False,
        )
        assert removed.status_code == 303
        peer.host = "203.0.113.77"
        assert login(c, "komite").status_code == 429  # 30 failures: over the default


def test_the_command_line_registers_networks(web_settings, monkeypatch):
    monkeypatch.setenv("SELEKSI_DATA_DIR", str(web_settings.data_dir))
    if web_settings.database_url:
        monkeypatch.setenv("SELEKSI_DATABASE_URL", web_settings.database_url)
    get_settings.cache_clear()
    run = CliRunner().invoke
    try:
        added = run(main, ["network", "add", "10.1.0.0/16", "--allowance", "400", "--name", "A"])
        assert added.exit_code == 0, added.output
        assert run(main, ["network", "list"]).output == "10.1.0.0/16\t400\tA\n"
        bad = run(main, ["network", "add", "10.1.0.0/99", "--allowance", "4"])
        assert bad.exit_code == 2 and "cidr: '10.1.0.0/99' is not a network" in bad.output
        assert run(main, ["network", "remove", "10.1.0.0/16"]).exit_code == 0
        assert run(main, ["network", "list"]).output == ""
    finally:
        get_settings.cache_clear()


def _failed_addresses(settings) -> dict[str, int]:
    engine = database.sync_engine(settings)
    with database.session_factory(engine)() as session:
        rows = session.execute(select(AddressFailures.address, AddressFailures.failures)).all()
    engine.dispose()
    return dict(rows)


def test_x_forwarded_for_is_not_believed_by_default(web_settings, clock):
    app, _ = _app(web_settings, clock, host="127.0.0.1")
    with TestClient(app=app) as c:
        for k in range(7):
            spoofed = {"x-forwarded-for": f"198.51.100.{k}", "x-csrftoken": csrf(c)}
            c.post("/login", data={"username": "x", "password": "y"}, headers=spoofed)
    assert _failed_addresses(web_settings) == {"127.0.0.1": 5}


def test_x_forwarded_for_is_read_past_trusted_proxies_only(web_settings, clock):
    settings = web_settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    app, peer = _app(settings, clock, host="10.0.0.2")

    def fail(forwarded: str) -> int:
        headers = {"x-forwarded-for": forwarded, "x-csrftoken": csrf(c)}
        data = {"username": "x", "password": "y"}
        return c.post("/login", data=data, headers=headers).status_code

    with TestClient(app=app) as c:
        # The client forged the first hop; the proxies 10.0.0.9 and 10.0.0.2 added theirs.
        assert fail("1.2.3.4, 198.51.100.9, 10.0.0.9") == 401
        assert fail("198.51.100.10") == 401
        peer.host = "192.0.2.50"  # not a trusted proxy: its header is ignored
        assert fail("198.51.100.11") == 401
    assert _failed_addresses(settings) == {"198.51.100.9": 1, "198.51.100.10": 1, "192.0.2.50": 1}


def test_no_database_connection_is_held_while_a_password_hashes(web_settings, clock):
    app, _ = _app(web_settings, clock)
    db = app.state.db
    engines = [e for e in (db.async_engine, db.async_read_engine) if e is not None]
    pools = [e.sync_engine.pool for e in engines]
    pools += [e.pool for e in (db.loop_engine, db.store_engine) if e is not None]
    held: list[int] = []

    class Watching(PasswordChecker):
        def _check(self, stored, password):
            held.append(sum(p.checkedout() for p in pools))
            return super()._check(stored, password)

    app.state.passwords = Watching(app.state.hasher)
    with TestClient(app=app) as c:
        assert login(c, "komite").status_code == 303
        assert login(c, "pengamat", "salah").status_code == 401
        assert login(c, "nobody", "salah").status_code == 401
    assert held == [0, 0, 0]


def test_passwords_hash_below_the_servers_priority(web_settings):
    """The hashing threads are niced, so answers get the cores first while a site logs in."""
    checker = PasswordChecker(password_hasher(web_settings))

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    here = niceness()
    there = checker.executor.submit(niceness).result()
    assert there == min(19, here + PASSWORD_NICENESS)
    assert asyncio.run(checker.verify(checker.hasher.hash(PASSWORD), PASSWORD)) is True
    assert asyncio.run(checker.verify(None, PASSWORD)) is False
    checker.executor.shutdown()


def test_three_hundred_applicants_of_one_site_log_in_from_one_address(settings, clock):
    """The shipped settings (argon2 costs, allowances): a site's 300 applicants behind one
    address log in within their 5-minute start window, none refused; then, with the site's
    network registered, one applicant in ten mistyping first costs the site nothing."""
    shipped = settings.model_copy(update={"downtime_credit": False})
    hasher = password_hasher(shipped)
    assert (shipped.argon2_time_cost, shipped.argon2_memory_kib) == (2, 19456)
    stored = hasher.hash(PASSWORD)  # one hash for all: the check costs the same
    names = [f"2026{k:05d}" for k in range(300)]
    engine = database.sync_engine(shipped)
    with database.session_factory(engine)() as session, session.begin():
        session.add(User(username="komite", password_hash=stored, role="committee"))
        session.add_all(User(username=n, password_hash=stored, role="applicant") for n in names)
    engine.dispose()

    app, _ = _app(shipped, clock, host="203.0.113.7")
    start = clock.now
    with TestClient(app=app) as c:
        for name in names:
            c.cookies.clear()
            assert login(c, name).status_code == 303, name
            clock.now += timedelta(seconds=1)
        assert clock.now - start <= timedelta(minutes=5)
        assert login(c, "komite").status_code == 303
        c.post(
            "/committee/access/networks",
            data={"cidr": "203.0.113.0/24", "name": "SMAN 1", "allowance": "300"},
            headers={"x-csrftoken": csrf(c)},
        )
        for name in names[::10]:  # one in ten mistypes first
            c.cookies.clear()
            assert login(c, name, "typo").status_code == 401
            assert login(c, name).status_code == 303, name
            clock.now += timedelta(seconds=1)
        c.cookies.clear()
        # 30 failures: the default allowance would refuse this address now.
        assert login(c, names[1]).status_code == 303
    assert _failed_addresses(shipped) == {"203.0.113.7": 30}
