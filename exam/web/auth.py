"""Login, logout, the language switch and the home redirect."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from litestar.params import Body, FromPath, JSONBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_429_TOO_MANY_REQUESTS

from exam.adapters.models import User
from exam.adapters.security import SESSION_ENDED, CurrentUser
from exam.i18n import LANG_COOKIE, LANGUAGES
from exam.usecases import delivery, login_access
from exam.usecases.login_access import Account, Refusal
from exam.web import client_change
from exam.web.client_address import client_address
from exam.web.sessions import drop_session, rotate_session

HOME_BY_ROLE = {
    "committee": "/committee/exams",
    "observer": "/observer",
    "applicant": "/exam",
    "proctor": "/proctor/",
}

logger = logging.getLogger("exam.auth")


@dataclass
class LoginForm:
    username: str
    password: str


async def _log_in(request: Request, username: str, password: str) -> CurrentUser | Refusal | None:
    """Check a try and, when it succeeds, start the session: the user, a refusal before
    the password was checked, or None for a wrong username or password.

    One short read, then the password hashes with no database connection held, then one
    write: a failure is counted, a success clears the account's failures (and, for an
    applicant, takes over its earlier session)."""
    state = request.app.state
    policy: login_access.Policy = state.login_policy
    address = client_address(request)
    name = username.strip()
    account, failures, networks = await state.db.read(
        lambda c: login_access.read_for_login(c, name, address)
    )
    allowance = login_access.allowance(policy, address, networks)
    refused = login_access.refusal(policy, account, failures, allowance, state.clock())
    if refused is not None:
        logger.info("login of %r from %s refused: %s", name, address, refused.reason)
        return refused
    if not await state.passwords.verify(account.password_hash if account else None, password):
        now = state.clock()
        account_id = account.id if account is not None else None
        locked = await state.db.write(
            lambda s: login_access.record_failure(s, policy, account_id, address, now)
        )
        if locked:
            logger.warning(
                "account %r locked after %d failed logins (the last from %s)",
                name,
                policy.lock_failures,
                address,
            )
        return None
    return await _start_session(request, account)


async def _start_session(request: Request, account: Account) -> CurrentUser | Refusal:
    """A new session for ``account``. An applicant has one session at a time: a second
    login takes over (the earlier page returns to the login) and the takeover is logged.
    Observers and committee members may use several screens at once."""
    user = CurrentUser(
        account.id,
        account.username,
        account.role,
        account.display_name,
        account.credentials_version,
    )
    applicant = user.role == "applicant"
    session_id = await rotate_session(request)
    if applicant or account.failed_logins:
        now = request.app.state.clock()

        def write(session) -> tuple[bool, str | None]:
            if not login_access.record_success(session, account):
                return False, None
            if not applicant:
                return True, None
            row = session.get(User, user.id)
            previous, row.current_session = row.current_session, session_id
            kind = "session_takeover" if previous else "login"
            delivery.log_applicant_access(session, user.id, kind, now)
            return True, previous

        admitted, previous = await request.app.state.db.write(write)
        if not admitted:  # a concurrent try locked the account meanwhile
            return Refusal("locked")
        if previous and previous != session_id:
            await drop_session(request, previous)
    request.set_session(
        {"user": asdict(user), client_change.KEY: client_change.fingerprint(request)}
    )
    return user


async def _end_session(request: Request) -> None:
    user = request.scope.get("user")
    request.clear_session()
    if isinstance(user, CurrentUser) and user.role == "applicant":
        now = request.app.state.clock()

        def write(session) -> None:
            session.get(User, user.id).current_session = None
            delivery.log_applicant_access(session, user.id, "logout", now)

        await request.app.state.db.write(write)


def _ended(request: Request) -> bool:
    """Whether the client's session is one that new credentials ended."""
    return bool(request.session.get(SESSION_ENDED)) if request.session else False


def _retry_after(refused: Refusal) -> dict[str, str]:
    return {"Retry-After": str(refused.retry_after_s)} if refused.retry_after_s else {}


@get("/login", name="login", sync_to_thread=False, include_in_schema=False)
def login_page(request: Request) -> Template:
    context = {"failed": False, "ended": _ended(request)}
    context["exam_ended"] = request.query_params.get("from") == "exam" and not context["ended"]
    return Template("login.html", context=context)


@post("/login", name="login-submit", status_code=HTTP_200_OK, include_in_schema=False)
async def login_submit(
    request: Request,
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """The login form; a refused try gets the login page again (429) saying why and for
    how long, in the visitor's language."""
    outcome = await _log_in(request, data.username, data.password)
    if isinstance(outcome, CurrentUser):
        return Redirect(HOME_BY_ROLE.get(outcome.role, "/"), status_code=303)
    context = {"failed": outcome is None, "username": data.username, "ended": _ended(request)}
    if outcome is None:
        return Template("login.html", context=context, status_code=401)
    return Template(
        "login.html",
        context={**context, "refused": outcome},
        status_code=HTTP_429_TOO_MANY_REQUESTS,
        headers=_retry_after(outcome),
    )


@dataclass
class LoginRequest:
    username: str
    password: str


@dataclass
class LoginReply:
    username: str
    role: str


@post("/api/v1/auth/login", name="api-login", status_code=HTTP_200_OK)
async def api_login(request: Request, data: JSONBody[LoginRequest]) -> LoginReply:
    """Log in; the reply sets the session cookie (and the CSRF cookie for later calls).
    Failed tries make the next ones wait, and many lock the account: 429, with
    Retry-After when waiting helps."""
    outcome = await _log_in(request, data.username, data.password)
    if outcome is None:
        raise NotAuthorizedException("wrong username or password")
    if isinstance(outcome, Refusal):
        detail = (
            "account locked after too many failed logins: ask an operator to unlock it"
            if outcome.reason == "locked"
            else f"too many failed logins: try again in {outcome.retry_after_s} s"
        )
        raise TooManyRequestsException(detail, headers=_retry_after(outcome))
    return LoginReply(outcome.username, outcome.role)


@post("/logout", name="logout", status_code=303, include_in_schema=False)
async def logout(request: Request) -> Redirect:
    await _end_session(request)
    return Redirect("/login", status_code=303)


@post("/api/v1/auth/logout", name="api-logout", status_code=204)
async def api_logout(request: Request) -> None:
    await _end_session(request)


@get("/lang/{code:str}", name="language", sync_to_thread=False, include_in_schema=False)
def set_language(request: Request, code: FromPath[str]) -> Redirect:
    target = request.headers.get("referer") or "/"
    if code not in LANGUAGES:
        return Redirect(target)
    return Redirect(
        target,
        cookies=[
            Cookie(key=LANG_COOKIE, value=code, max_age=365 * 86400, samesite="lax", httponly=True)
        ],
    )


@get("/healthz", name="health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


ROUTES = [login_page, login_submit, api_login, logout, api_logout, set_language, health]
