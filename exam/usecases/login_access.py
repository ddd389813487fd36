"""Who may try to log in now: failed logins per account and per address, account locks,
and the test-site networks that the committee registered with a larger allowance.

Only failures count. An account's failures since its last success make each next try wait
longer (doubling from ``first_delay_s``), then lock it until an operator unlocks it; an
address's failures in a window make its tries wait for the window's end. Several hundred
applicants of one test site share one address, so a successful login never counts against
anyone, and a site's network may be registered with an allowance for its typing mistakes.

The decision (``refusal``) is a pure function of what one read gives; the login reads,
releases its connection, hashes, and only then writes (``record_failure`` /
``record_success``), so no connection is held while a password hashes. Concurrent tries
of one account all pass the read before any failure is written, so a burst may try a few
more passwords than the allowance before the lock: as many as hash at once.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from exam.adapters.models import AddressFailures, Enrollment, Exam, LoginNetwork, User
from exam.errors import DomainError, Kind
from proctoring import log

#: The largest allowance a network may have (per address and window).
MAX_ALLOWANCE = 1_000_000


@dataclass(frozen=True)
class Policy:
    """The login settings (``Settings.login_*``) as plain values."""

    free_failures: int = 3
    first_delay_s: float = 2.0
    max_delay_s: float = 300.0
    lock_failures: int = 10
    address_failures: int = 30
    window_s: float = 900.0


@dataclass(frozen=True)
class Account:
    """What a login reads of an account before it hashes."""

    id: int
    username: str
    role: str
    display_name: str
    credentials_version: int
    password_hash: str
    failed_logins: int
    last_failed_at: datetime | None
    locked_at: datetime | None


@dataclass(frozen=True)
class Refusal:
    """Why a try is refused before its password is checked: ``locked`` (until an operator
    unlocks), ``account`` or ``address`` (wait ``retry_after_s`` seconds)."""

    reason: str
    retry_after_s: int | None = None


@dataclass(frozen=True)
class Network:
    cidr: str
    name: str
    allowance: int


def account_delay_s(policy: Policy, failures: int) -> float:
    """The wait after an account's ``failures``-th failure: none for the free ones, then
    ``first_delay_s`` doubling per failure, at most ``max_delay_s``."""
    over = failures - policy.free_failures
    if over <= 0:
        return 0.0
    return min(policy.max_delay_s, policy.first_delay_s * 2.0 ** min(over - 1, 62))


def allowance(policy: Policy, address: str, networks: Sequence[Network]) -> int:
    """The failures per window of ``address``: the largest allowance of the registered
    networks that hold it, else the default."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return policy.address_failures
    held = [
        n.allowance
        for n in networks
        if ip.version == (net := ipaddress.ip_network(n.cidr)).version and ip in net
    ]
    return max(held, default=policy.address_failures)


def refusal(
    policy: Policy,
    account: Account | None,
    address_failures: tuple[datetime, int] | None,
    address_allowance: int,
    now: datetime,
) -> Refusal | None:
    """Whether a try is refused before its password is checked, and for how long."""
    if account is not None and account.locked_at is not None:
        return Refusal("locked")
    waits = []
    if address_failures is not None:
        start, failures = address_failures
        end = start + timedelta(seconds=policy.window_s)
        if failures >= address_allowance and now < end:
            waits.append(("address", (end - now).total_seconds()))
    if account is not None and account.last_failed_at is not None:
        ready = account.last_failed_at + timedelta(
            seconds=account_delay_s(policy, account.failed_logins)
        )
        if now < ready:
            waits.append(("account", (ready - now).total_seconds()))
    if not waits:
        return None
    reason, seconds = max(waits, key=lambda w: w[1])
    return Refusal(reason, max(1, math.ceil(seconds)))


# -- reads and writes ---------------------------------------------------------------------


_ACCOUNT = select(
    User.id,
    User.username,
    User.role,
    User.display_name,
    User.credentials_version,
    User.password_hash,
    User.failed_logins,
    User.last_failed_at,
    User.locked_at,
)


def read_for_login(
    connection: Connection, username: str, address: str
) -> tuple[Account | None, tuple[datetime, int] | None, list[Network]]:
    """Everything a try is judged by: the account, the address's failures and the
    registered networks (three short statements on one connection)."""
    row = connection.execute(_ACCOUNT.where(User.username == username)).first()
    failures = connection.execute(
        select(AddressFailures.window_start, AddressFailures.failures).where(
            AddressFailures.address == address
        )
    ).first()
    nets = connection.execute(
        select(LoginNetwork.cidr, LoginNetwork.name, LoginNetwork.allowance)
    ).all()
    return (
        Account(*row) if row is not None else None,
        (failures[0], failures[1]) if failures is not None else None,
        [Network(*n) for n in nets],
    )


def _insert(session: Session):
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert


def record_failure(
    session: Session, policy: Policy, account_id: int | None, address: str, now: datetime
) -> bool:
    """Count a failed login against the address and the account (if it exists); lock the
    account at ``lock_failures`` and log the lock. True when this failure locked it."""
    session.execute(
        _insert(session)(AddressFailures)
        .values(address=address, window_start=now, failures=0)
        .on_conflict_do_nothing(index_elements=["address"])
    )
    row = session.scalars(
        select(AddressFailures).where(AddressFailures.address == address).with_for_update()
    ).one()
    if now >= row.window_start + timedelta(seconds=policy.window_s):
        row.window_start, row.failures = now, 0
    row.failures += 1
    if account_id is None:
        return False
    failures = session.execute(
        update(User)
        .where(User.id == account_id)
        .values(failed_logins=User.failed_logins + 1, last_failed_at=now)
        .returning(User.failed_logins, User.locked_at)
    ).first()
    if failures is None or failures[1] is not None or failures[0] < policy.lock_failures:
        return False
    session.execute(update(User).where(User.id == account_id).values(locked_at=now))
    _log_account(session, account_id, "account_locked", now, failures=failures[0])
    return True


def record_success(session: Session, account: Account) -> bool:
    """Clear the failures of an account that just logged in; False when a concurrent try
    locked it meanwhile (then the login is refused)."""
    if account.failed_logins == 0:
        locked = session.scalar(select(User.locked_at).where(User.id == account.id))
        return locked is None
    cleared = session.execute(
        update(User)
        .where(User.id == account.id, User.locked_at.is_(None))
        .values(failed_logins=0, last_failed_at=None)
    )
    return cleared.rowcount == 1


def unlock(session: Session, username: str, now: datetime, by: str) -> User:
    """Lift the lock of ``username`` and forget its failures; logged when it was locked.
    ``by`` says who (``committee``, ``cli``)."""
    user = session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None:
        raise DomainError(f"no account {username!r}", Kind.NOT_FOUND)
    was_locked = user.locked_at is not None
    user.locked_at, user.failed_logins, user.last_failed_at = None, 0, None
    if was_locked:
        _log_account(session, user.id, "account_unlocked", now, by=by)
    return user


def locked_accounts(session: Session) -> list[User]:
    return list(
        session.scalars(select(User).where(User.locked_at.is_not(None)).order_by(User.username))
    )


def _log_account(session: Session, user_id: int, kind: str, now: datetime, **fields) -> None:
    """An account's lock or unlock in the audit log: once per open exam the account is
    enrolled in, by its pseudonym there; else once, by its role (never a name)."""
    rows = session.execute(
        select(Exam.code, Enrollment.pseudonym)
        .join(Enrollment, Enrollment.exam_id == Exam.id)
        .where(Enrollment.user_id == user_id, Exam.status == "open")
    ).all()
    t = int(now.timestamp() * 1000)
    if rows:
        entries = [{"type": kind, "exam": c, "t": t, "pseudonym": p, **fields} for c, p in rows]
    else:
        role = session.scalar(select(User.role).where(User.id == user_id))
        entries = [{"type": kind, "exam": "", "t": t, "role": role, **fields}]
    log.record(session, entries)


# -- registered networks ------------------------------------------------------------------


def parse_network(text: str, where: str = "cidr") -> str:
    """``text`` as a network in CIDR form (a lone address is a network of one), or an
    INVALID error naming ``where``."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise DomainError(
            f"{where}: {text!r} is not a network (CIDR, e.g. 203.0.113.0/24)", Kind.INVALID
        ) from None


def add_network(session: Session, cidr: str, name: str, allowance_: int) -> LoginNetwork:
    """Register a test site's network (or change the name and allowance of one)."""
    network = parse_network(cidr)
    if not 1 <= allowance_ <= MAX_ALLOWANCE:
        raise DomainError(
            f"allowance: {allowance_} is not between 1 and {MAX_ALLOWANCE}", Kind.INVALID
        )
    row = session.scalar(select(LoginNetwork).where(LoginNetwork.cidr == network))
    if row is None:
        row = LoginNetwork(cidr=network, name=name.strip(), allowance=allowance_)
        session.add(row)
    else:
        row.name, row.allowance = name.strip() or row.name, allowance_
    session.flush()
    return row


def remove_network(session: Session, cidr: str) -> None:
    network = parse_network(cidr)
    gone = session.execute(delete(LoginNetwork).where(LoginNetwork.cidr == network))
    if gone.rowcount == 0:
        raise DomainError(f"no registered network {network}", Kind.NOT_FOUND)


def networks(session: Session) -> list[LoginNetwork]:
    return list(session.scalars(select(LoginNetwork).order_by(LoginNetwork.cidr)))
