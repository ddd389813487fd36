"""The ``seleksi`` command line (CONTRACTS.md): exit 0 on success, 1 when the checked
thing does not hold, 2 on bad input or usage, with a message naming file, line and field.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select

from exam.adapters import database, migrate
from exam.adapters.models import ROLES, User
from exam.adapters.security import password_hasher
from exam.adapters.settings import get_settings
from exam.cli_access import account, network, server_options
from exam.cli_irt import calibrate, dif, prior_hint, score, simulate
from exam.cli_log import BadInput
from exam.cli_log import log as log_commands
from exam.cli_results import results as results_commands
from exam.cli_rooms import proctor as proctor_commands
from exam.cli_witness import witness as witness_commands
from exam.usecases.credentials import replace_passwords
from itembank import repository
from itembank.content import STATUSES, BankInputError
from itembank.transfer import read_bank_file, write_bank
from scoring.files import InputError, read_params_file

log = logging.getLogger("seleksi")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seleksi")
def main() -> None:
    """Seleksi: online recruitment exams with adaptive testing and a public audit log."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)


for group in (log_commands, results_commands, account, network, witness_commands, proctor_commands):
    main.add_command(group)
for _command in (calibrate, dif, score, simulate):
    main.add_command(_command)


@main.group()
def db() -> None:
    """The database (SQLite in the data folder, or SELEKSI_DATABASE_URL)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (Alembic)."""
    engine = database.sync_engine(get_settings())
    migrate.upgrade(engine)
    click.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@main.group()
def bank() -> None:
    """The item bank: import and export (.csv, .json, .zip: QTI 2.1/3.0, .csv.zip, .json.zip)."""


@bank.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
def bank_import(path: str) -> None:
    """Import items; every problem is listed and nothing is imported if there is one."""
    engine = database.sync_engine(get_settings())
    migrate.upgrade(engine)
    with database.session_factory(engine)() as session, session.begin():
        try:
            located = read_bank_file(path, repository.known_item_ids(session))
            report = repository.import_items(session, located, located.assets)
        except BankInputError as exc:
            raise BadInput(
                f"{exc}\nnothing was imported ({len(exc.problems)} problem(s))"
            ) from None
    click.echo(f"{path}: {report.summary()}")


@bank.command("params")
@click.argument("path", type=click.Path(dir_okay=False))
def bank_params(path: str) -> None:
    """Give bank items the parameters in a parameters CSV (e.g. from seleksi calibrate):
    each changed item gets a new version; nothing changes if any item is unknown."""
    try:
        params, scale = read_params_file(path)
    except InputError as exc:
        raise BadInput(str(exc)) from None
    engine = database.sync_engine(get_settings())
    migrate.upgrade(engine)
    with database.session_factory(engine)() as session, session.begin():
        try:
            report = repository.apply_parameters(session, params, path)
        except BankInputError as exc:
            raise BadInput(f"{exc}\nnothing was changed") from None
    click.echo(f"{path}: {report.summary()}")
    if scale is not None:
        # The scale belongs to an exam's sections (their committed prior), not to items.
        click.echo(
            f"{path}: these parameters are on the ability scale N({scale.mean:g}, "
            f"{scale.sd:g}²); {prior_hint(scale)}",
            err=True,
        )


@bank.command("export")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--domain", "domains", multiple=True, help="Only these domains (repeatable).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES),
    help="Only items with these statuses (repeatable).",
)
@click.option(
    "--qti-version",
    type=click.Choice(["2.1", "3.0"]),
    default="3.0",
    show_default=True,
    help="QTI version of a .zip export.",
)
def bank_export(
    path: str, domains: tuple[str, ...], statuses: tuple[str, ...], qti_version: str
) -> None:
    """Export the current version of every item."""
    if Path(path).suffix.lower() not in (".csv", ".json", ".zip"):
        raise click.UsageError("PATH must end in .csv, .json or .zip")
    engine = database.sync_engine(get_settings())
    migrate.upgrade(engine)
    with database.session_factory(engine)() as session:
        items = repository.current_items(session, domains or None, statuses or None)
        assets = repository.assets_of(session, items)
    write_bank(items, path, qti_version, assets)
    click.echo(f"{path}: {len(items)} items")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log every request (usually the reverse proxy does).",
)
def serve(host: str, port: int, workers: int, access_log: bool) -> None:
    """Run the web application on the configured database."""
    import uvicorn  # noqa: PLC0415 (the server loads only when serving)

    # The workers read their settings from the environment (see Settings.gc_tuning). With
    # one worker the app runs in this process and reuses its cached settings, so the
    # default goes in before they are first read.
    os.environ.setdefault("SELEKSI_GC_TUNING", "true")
    get_settings.cache_clear()
    click.echo(f"audit log verifier key: {get_settings().log_signer().verifier}")
    uvicorn.run(
        "exam.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
        # Longer than a client's idle gap between two answers: a connection the server
        # closes just as the client reuses it is an error the applicant would see.
        timeout_keep_alive=75,
        **server_options(get_settings()),
    )


@main.group()
def user() -> None:
    """Accounts: committee members, observers and applicants."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", "display_name", default="", help="The name shown on pages.")
@click.password_option(help="Asked for when not given.")
def user_add(username: str, role: str, display_name: str, password: str) -> None:
    """Create an account (or set the password and role of an existing one: its live
    sessions end, logged in the audit log)."""
    settings = get_settings()
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    hashed = password_hasher(settings).hash(password)
    with database.session_factory(engine)() as session, session.begin():
        account = session.scalar(select(User).where(User.username == username))
        if account is None:
            session.add(
                User(username=username, password_hash=hashed, role=role, display_name=display_name)
            )
            click.echo(f"account {username} ({role}) created")
        else:
            account.role = role
            account.display_name = display_name or account.display_name
            [ended] = replace_passwords(session, [(account, hashed)], "cli", datetime.now(UTC))
            click.echo(f"account {username} ({role}) updated; {ended} live session(s) ended")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default="seleksi-data",
    show_default=True,
    help="Where the SQLite database and keys live.",
)
@click.option("--applicants", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--no-serve", is_flag=True, help="Prepare the demo and exit.")
def demo(host: str, port: int, data_dir: str, applicants: int, no_serve: bool) -> None:
    """A complete demo: bank, exam DEMO, accounts; prints the logins, then serves."""
    import uvicorn  # noqa: PLC0415 (the server loads only when serving)

    from exam.usecases.demo import DEMO_SITE, prepare_demo  # noqa: PLC0415

    os.environ["SELEKSI_DATA_DIR"] = data_dir
    os.environ.pop("SELEKSI_DATABASE_URL", None)
    get_settings.cache_clear()
    settings = get_settings()
    click.echo(f"preparing the demo in {Path(data_dir).resolve()} …")
    from proctoring.checkpoints import SignerRefusedError  # noqa: PLC0415

    try:
        info = prepare_demo(settings, applicants)
    except SignerRefusedError as exc:
        click.echo(f"the log signer refuses to sign: {exc.reason}", err=True)
        sys.exit(1)
    url = f"http://{host}:{port}"
    click.echo(f"""
Seleksi demo: {url}
  exam code   {info.exam_code}
  committee   {info.committee} / {info.password}
  observer    {info.observer} / {info.password}
  proctor     {info.proctor} / {info.password} (site {DEMO_SITE}, Ruang 1)
  applicants  {info.applicants[0]} … {info.applicants[-1]} / {info.password}
  log key     {info.log_key}
""")
    if not no_serve:
        uvicorn.run(
            "exam.app:create_app", factory=True, host=host, port=port, **server_options(settings)
        )
