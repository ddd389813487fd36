"""Login, logout, the language switch and the home redirect."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import Body, FromPath, JSONBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from exam.adapters.database import WRITE
from exam.adapters.models import User
from exam.adapters.security import SESSION_ENDED, CurrentUser, authenticate
from exam.i18n import LANG_COOKIE, LANGUAGES
from exam.usecases import delivery
from exam.web import client_change
from exam.web.deps import DbSession
from exam.web.sessions import drop_session, rotate_session

HOME_BY_ROLE = {"committee": "/committee/exams", "observer": "/observer", "applicant": "/exam"}


@dataclass
class LoginForm:
    username: str
    password: str


def _is_login_attempt(request: Request) -> bool:
    return request.method == "POST"


def login_rate_limit(per_minute: int) -> RateLimitConfig:
    """Login attempts per client and minute, counted in their own store."""
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        store="login-rate-limit",
        check_throttle_handler=_is_login_attempt,
    )


async def _start_session(request: Request, db_session, user: CurrentUser) -> None:
    """A new session for ``user``. An applicant has one session at a time: a second login
    takes over (the earlier page returns to the login) and the takeover is logged.
    Observers and committee members may use several screens at once.

    The session store has its own connection, so on SQLite its writes happen while this
    request holds no write transaction."""
    await db_session.commit()  # the read transaction of the login check
    session_id = await rotate_session(request)
    request.set_session(
        {"user": asdict(user), client_change.KEY: client_change.fingerprint(request)}
    )
    if user.role != "applicant":
        return
    await db_session.connection(execution_options={WRITE: True})
    now = request.app.state.clock()
    account = await db_session.get(User, user.id)
    previous, account.current_session = account.current_session, session_id
    await db_session.run_sync(
        lambda s: delivery.log_applicant_access(
            s, user.id, "session_takeover" if previous else "login", now
        )
    )
    await db_session.commit()
    if previous and previous != session_id:
        await drop_session(request, previous)


async def _end_session(request: Request, db_session) -> None:
    user = request.scope.get("user")
    request.clear_session()
    if isinstance(user, CurrentUser) and user.role == "applicant":
        await db_session.connection(execution_options={WRITE: True})
        now = request.app.state.clock()
        account = await db_session.get(User, user.id)
        account.current_session = None
        await db_session.run_sync(
            lambda s: delivery.log_applicant_access(s, user.id, "logout", now)
        )
        await db_session.commit()


def _ended(request: Request) -> bool:
    """Whether the client's session is one that new credentials ended."""
    return bool(request.session.get(SESSION_ENDED)) if request.session else False


@get("/login", name="login", sync_to_thread=False, include_in_schema=False)
def login_page(request: Request) -> Template:
    return Template("login.html", context={"failed": False, "ended": _ended(request)})


@post("/login", name="login-submit", status_code=HTTP_200_OK, include_in_schema=False)
async def login_submit(
    request: Request,
    db_session: DbSession,
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    user = await authenticate(db_session, request.app.state.hasher, data.username, data.password)
    if user is None:
        return Template(
            "login.html",
            context={"failed": True, "username": data.username, "ended": _ended(request)},
            status_code=401,
        )
    await _start_session(request, db_session, user)
    return Redirect(HOME_BY_ROLE.get(user.role, "/"), status_code=303)


@dataclass
class LoginRequest:
    username: str
    password: str


@dataclass
class LoginReply:
    username: str
    role: str


@post("/api/v1/auth/login", name="api-login", status_code=HTTP_200_OK)
async def api_login(
    request: Request, db_session: DbSession, data: JSONBody[LoginRequest]
) -> LoginReply:
    """Log in; the reply sets the session cookie (and the CSRF cookie for later calls)."""
    user = await authenticate(db_session, request.app.state.hasher, data.username, data.password)
    if user is None:
        raise NotAuthorizedException("wrong username or password")
    await _start_session(request, db_session, user)
    return LoginReply(user.username, user.role)


@post("/logout", name="logout", status_code=303, include_in_schema=False)
async def logout(request: Request, db_session: DbSession) -> Redirect:
    await _end_session(request, db_session)
    return Redirect("/login", status_code=303)


@post("/api/v1/auth/logout", name="api-logout", status_code=204)
async def api_logout(request: Request, db_session: DbSession) -> None:
    await _end_session(request, db_session)


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


ROUTES = [logout, api_logout, set_language, health]


def login_router(per_minute: int) -> Router:
    """The login routes, behind their own rate limit (which counts POSTs only)."""
    return Router(
        path="/",
        route_handlers=[login_page, login_submit, api_login],
        middleware=[login_rate_limit(per_minute).middleware],
    )
