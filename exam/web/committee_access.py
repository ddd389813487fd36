"""The committee's login page: locked accounts (with the unlock button) and the test
sites' registered networks, whose addresses may fail more logins per window."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from exam.adapters.security import committee_only
from exam.errors import DomainError, Kind
from exam.usecases import login_access
from exam.web.deps import DbSession, written
from exam.web.errors import status_of

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
PAGE = "/committee/access/"


async def _page(request: Request, db_session, error: str | None = None, status: int = 200):
    def run(session: Session):
        return login_access.locked_accounts(session), login_access.networks(session)

    locked, networks = await db_session.run_sync(run)
    settings = request.app.state.settings
    return Template(
        "committee/access.html",
        status_code=status,
        context={
            "locked": locked,
            "networks": networks,
            "error": error,
            "default_allowance": settings.login_address_failures,
            "window_min": round(settings.login_window_s / 60),
        },
    )


async def _change(request: Request, db_session, use_case) -> Response:
    """``use_case`` in a write transaction, then back to the page; a refusal shows the
    page with its reason."""
    try:
        await written(db_session, use_case)
    except DomainError as exc:
        await db_session.rollback()
        return await _page(request, db_session, exc.reason, status_of(exc))
    await db_session.commit()
    return Redirect(PAGE, status_code=303)


class CommitteeAccess(Controller):
    path = "/committee/access"
    guards = [committee_only]  # noqa: RUF012 (Litestar's controller attribute)
    include_in_schema = False

    @get("/", name="access")
    async def page(self, request: Request, db_session: DbSession) -> Template:
        return await _page(request, db_session)

    @post("/unlock", name="access-unlock")
    async def unlock(self, request: Request, db_session: DbSession, data: FormData) -> Response:
        """Lift an account's lock (logged in the audit log)."""
        now = request.app.state.clock()
        username = data.get("username", "")
        return await _change(
            request,
            db_session,
            lambda s: login_access.unlock(s, username, now, by="committee"),
        )

    @post("/networks", name="access-network-add")
    async def add_network(
        self, request: Request, db_session: DbSession, data: FormData
    ) -> Response:
        """Register a test site's network with its allowance of failed logins."""
        text = data.get("allowance", "").strip()
        if not text.isdigit():
            error = DomainError(f"allowance: {text!r} is not a whole number", Kind.INVALID)
            return await _page(request, db_session, error.reason, status_of(error))
        cidr, name = data.get("cidr", ""), data.get("name", "")
        return await _change(
            request,
            db_session,
            lambda s: login_access.add_network(s, cidr, name, int(text)),
        )

    @post("/networks/remove", name="access-network-remove")
    async def remove_network(
        self, request: Request, db_session: DbSession, data: FormData
    ) -> Response:
        cidr = data.get("cidr", "")
        return await _change(request, db_session, lambda s: login_access.remove_network(s, cidr))
