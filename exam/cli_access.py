"""``seleksi account …`` and ``seleksi network …``: unlock accounts that failed logins
locked, and register test sites' networks; and how ``seleksi serve`` runs uvicorn."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from exam.adapters import database, migrate
from exam.adapters.settings import Settings, get_settings
from exam.cli_log import BadInput
from exam.errors import DomainError, Kind
from exam.usecases import login_access
from exam.web.logs import log_config


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for every server this command line starts. Its proxy-headers
    middleware is off: it would believe X-Forwarded-For from 127.0.0.1 by default, and
    the application derives the client's address itself from the proxies that
    ``SELEKSI_TRUSTED_PROXIES`` names (``exam.web.client_address``)."""
    return {"proxy_headers": False, "log_config": log_config(settings.log_format)}


def _write(use_case):
    """``use_case(session)`` in one write transaction on the configured database; a
    refusal exits with its reason (2 for bad input, 1 otherwise)."""
    engine = database.sync_engine(get_settings())
    migrate.upgrade(engine)
    try:
        with database.session_factory(engine)() as session, session.begin():
            database.begin_write(session)
            return use_case(session)
    except DomainError as exc:
        if exc.kind == Kind.INVALID:
            raise BadInput(exc.reason) from None
        raise click.ClickException(exc.reason) from None
    finally:
        engine.dispose()


@click.group()
def account() -> None:
    """Accounts that failed logins locked."""


@account.command("locked")
def account_locked() -> None:
    """List the locked accounts."""
    rows = _write(
        lambda s: [(u.username, u.role, u.locked_at) for u in login_access.locked_accounts(s)]
    )
    for username, role, at in rows:
        click.echo(f"{username}\t{role}\tlocked {at:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"{len(rows)} locked account(s)", err=True)


@account.command("unlock")
@click.argument("username")
def account_unlock(username: str) -> None:
    """Lift the lock of USERNAME and forget its failed logins (logged in the audit log)."""
    now = datetime.now(UTC)
    _write(lambda s: login_access.unlock(s, username, now, by="cli"))
    click.echo(f"account {username} unlocked")


@click.group()
def network() -> None:
    """Test sites' networks, whose addresses may fail more logins per window."""


@network.command("add")
@click.argument("cidr")
@click.option(
    "--allowance",
    required=True,
    type=click.IntRange(1, login_access.MAX_ALLOWANCE),
    help="Failed logins each address of the network may have per window.",
)
@click.option("--name", default="", help="The test site's name.")
def network_add(cidr: str, allowance: int, name: str) -> None:
    """Register CIDR (or change its allowance and name)."""
    row = _write(lambda s: login_access.add_network(s, cidr, name, allowance).cidr)
    click.echo(f"network {row} registered: {allowance} failed logins per address and window")


@network.command("remove")
@click.argument("cidr")
def network_remove(cidr: str) -> None:
    """Forget a registered network."""
    _write(lambda s: login_access.remove_network(s, cidr))
    click.echo(f"network {cidr} removed")


@network.command("list")
def network_list() -> None:
    """The registered networks: CIDR, allowance, name."""
    rows = _write(lambda s: [(n.cidr, n.allowance, n.name) for n in login_access.networks(s)])
    for cidr, allowance, name in rows:
        click.echo(f"{cidr}\t{allowance}\t{name}")
