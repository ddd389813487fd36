"""The pure parts of the login's throttle: waits, locks, allowances, the client address."""

from datetime import UTC, datetime, timedelta

from exam.usecases.login_access import (
    Account,
    Network,
    Policy,
    account_delay_s,
    allowance,
    refusal,
)
from exam.web.client_address import derive, networks

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
POLICY = Policy()


def account(failures: int, last: datetime | None = NOW, locked: datetime | None = None):
    return Account(1, "u", "applicant", "", 0, "h", failures, last, locked)


def test_the_wait_doubles_after_the_free_failures_up_to_the_longest():
    waits = [account_delay_s(POLICY, f) for f in range(0, 12)]
    assert waits[:4] == [0, 0, 0, 0]
    assert waits[4:10] == [2, 4, 8, 16, 32, 64]
    assert account_delay_s(POLICY, 1000) == POLICY.max_delay_s


def test_refusals_before_the_password_is_checked():
    assert refusal(POLICY, None, None, 30, NOW) is None
    assert refusal(POLICY, account(3), None, 30, NOW) is None
    waiting = refusal(POLICY, account(5), None, 30, NOW + timedelta(seconds=1))
    assert (waiting.reason, waiting.retry_after_s) == ("account", 3)
    assert refusal(POLICY, account(5), None, 30, NOW + timedelta(seconds=4)) is None
    assert refusal(POLICY, account(0, None, NOW), None, 30, NOW).reason == "locked"
    full = refusal(POLICY, None, (NOW, 30), 30, NOW + timedelta(seconds=100))
    assert (full.reason, full.retry_after_s) == ("address", 800)
    assert refusal(POLICY, None, (NOW, 29), 30, NOW) is None
    assert refusal(POLICY, None, (NOW, 30), 30, NOW + timedelta(seconds=900)) is None
    assert refusal(POLICY, None, (NOW, 30), 31, NOW) is None  # a larger allowance


def test_the_allowance_of_an_address_is_its_networks_largest():
    nets = [Network("203.0.113.0/24", "A", 300), Network("203.0.0.0/16", "B", 500)]
    nets.append(Network("2001:db8::/32", "C", 40))
    assert allowance(POLICY, "203.0.113.9", nets) == 500
    assert allowance(POLICY, "203.0.114.9", nets) == 500
    assert allowance(POLICY, "198.51.100.1", nets) == POLICY.address_failures
    assert allowance(POLICY, "2001:db8::5", nets) == 40
    assert allowance(POLICY, "testclient", nets) == POLICY.address_failures


def test_the_client_address_believes_only_trusted_proxies():
    proxies = networks(("10.0.0.0/8", "127.0.0.1"))
    assert derive("198.51.100.1", ["1.2.3.4"], proxies) == "198.51.100.1"
    assert derive("127.0.0.1", ["1.2.3.4"], ()) == "127.0.0.1"  # none trusted by default
    assert derive("127.0.0.1", ["9.9.9.9, 1.2.3.4, 10.1.1.1"], proxies) == "1.2.3.4"
    assert derive("10.0.0.1", ["9.9.9.9", "1.2.3.4"], proxies) == "1.2.3.4"
    assert derive("10.0.0.1", ["10.0.0.3"], proxies) == "10.0.0.3"  # all trusted
    assert derive("10.0.0.1", ["garbage, 10.0.0.3"], proxies) == "10.0.0.3"
    assert derive("10.0.0.1", [], proxies) == "10.0.0.1"


def test_trusted_proxies_setting_is_comma_separated_and_checked(monkeypatch):
    import pytest
    from pydantic import ValidationError

    from exam.adapters.settings import Settings

    monkeypatch.setenv("SELEKSI_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    assert Settings().trusted_proxies == ["10.0.0.1", "192.168.0.0/16"]
    monkeypatch.setenv("SELEKSI_TRUSTED_PROXIES", "10.0.0.1,nginx")
    with pytest.raises(ValidationError, match="not an address or network"):
        Settings()
    monkeypatch.delenv("SELEKSI_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == []
