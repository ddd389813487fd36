"""``seleksi proctor rooms``: bind a proctor account to a test site or rooms of it."""

from __future__ import annotations

import click
from sqlalchemy import select

from exam.adapters import database, migrate
from exam.adapters.models import User
from exam.adapters.settings import get_settings
from exam.cli_log import BadInput
from exam.usecases import rooms


@click.group()
def proctor() -> None:
    """Proctors (pengawas) at test sites."""


def _place(text: str) -> tuple[str, str]:
    site, _, room = text.partition("/")
    if not site.strip():
        raise BadInput(f"--place {text!r}: expected SITE or SITE/ROOM")
    return site.strip(), room.strip()


@proctor.command("rooms")
@click.argument("username")
@click.option(
    "--place",
    "places",
    multiple=True,
    required=True,
    help="SITE (the whole site) or SITE/ROOM; repeat for several rooms.",
)
def rooms_command(username: str, places: tuple[str, ...]) -> None:
    """Bind the proctor USERNAME (made with `seleksi user add --role proctor`) to the
    given places, replacing its earlier ones."""
    parsed = [_place(p) for p in places]
    settings = get_settings()
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    with database.session_factory(engine)() as session, session.begin():
        user = session.scalar(select(User).where(User.username == username))
        if user is None or user.role != "proctor":
            raise BadInput(f"{username}: no proctor account of that name")
        rooms.bind_proctor(session, user, parsed)
    click.echo(f"{username} watches " + ", ".join("/".join(filter(None, p)) for p in parsed))
