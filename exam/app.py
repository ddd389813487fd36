"""The web application: ``create_app`` builds Litestar with everything it needs.

Sessions live in the database (a restart logs nobody out), every state-changing request
carries a CSRF token, failed logins make the next tries wait (per account and per
address, ``exam.usecases.login_access``), and every route names its guard.
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import anyio
from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import ResponseHeader, State
from litestar.exceptions import NotAuthorizedException, ServiceUnavailableException
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
)
from litestar.openapi.config import OpenAPIConfig
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.security.session_auth import SessionAuth
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from exam import i18n
from exam.adapters import database, migrate, paths
from exam.adapters.models import WebSession
from exam.adapters.runtime import RuntimeRegistry
from exam.adapters.security import (
    CurrentUser,
    PasswordChecker,
    password_hasher,
    user_from_session,
)
from exam.adapters.settings import Settings, get_settings
from exam.usecases import login_access
from exam.web import (
    api_attempts,
    appeals,
    applicant,
    auth,
    committee_access,
    committee_bank,
    committee_dif,
    committee_exams,
    errors,
    item_assets,
    proctor,
    public_home,
    results_pages,
)
from exam.web.contacts import ContactBook
from exam.web.heartbeat import Heartbeat
from exam.web.openapi_docs import document_refusals, security_per_operation
from exam.web.sessions import SESSION_COOKIE, SESSION_STORE, SessionConfig, SessionStore
from exam.web.threaded import ThreadedDb
from proctoring.web import forensics_pages, log_api, observer, openings_api, public_pages
from proctoring.web.log_feed import LogFeed

#: Paths open without a login (regular expressions, anchored).
PUBLIC_PATHS = [
    "^/$",
    "^/login$",
    "^/static/",
    "^/schema",
    "^/lang/",
    "^/api/v1/auth/login$",
    "^/healthz$",
    "^/api/v1/log/",
    "^/api/v1/exams/[^/]+/rankings$",
    "^/api/v1/exams/[^/]+/openings$",
    "^/api/v1/exams/[^/]+/results$",
    "^/results/",
    "^/results$",
    "^/exams/",
]


#: Scripts and styles from this site only (the pages have no inline script or style);
#: data: images for the inline SVG plots; no framing by other sites.
SECURITY_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value=(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
            "frame-ancestors 'none'"
        ),
    ),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
]


def _not_authorized(request: Request, exc: NotAuthorizedException) -> Response:
    """Pages send an anonymous browser to the login page (htmx by ``HX-Redirect``, which
    it follows whatever the status); the JSON API answers 401. The login page says why
    when new credentials ended the session."""
    page = not request.url.path.startswith("/api/")
    if page and request.headers.get("hx-request") and request.url.path.startswith("/exam/"):
        # The item page stays, says the session ended and keeps the chosen answer
        # (static/exam.js); a redirect would lose both.
        return Response({"status_code": 401, "detail": exc.detail}, status_code=401)
    if page and request.headers.get("hx-request"):
        return Response(
            {"status_code": 401, "detail": exc.detail},
            status_code=401,
            headers={"HX-Redirect": "/login"},
        )
    if page and "text/html" in request.headers.get("accept", ""):
        # From an exam page the login page says why it is shown (the session ended).
        exam = request.url.path.startswith("/exam/")
        return Redirect("/login?from=exam" if exam else "/login", status_code=303)
    return Response({"status_code": 401, "detail": exc.detail}, status_code=401)


def login_policy(settings: Settings) -> login_access.Policy:
    """The login settings as the use case takes them."""
    return login_access.Policy(
        free_failures=settings.login_free_failures,
        first_delay_s=settings.login_first_delay_s,
        max_delay_s=settings.login_max_delay_s,
        lock_failures=settings.login_lock_failures,
        address_failures=settings.login_address_failures,
        window_s=settings.login_window_s,
    )


def _template_globals(engine: JinjaTemplateEngine) -> None:
    i18n.install(engine.engine)
    engine.engine.filters["item_html"] = item_assets.item_html


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _refuse_writes(request: Request) -> None:
    """On a read-only server (``SELEKSI_READ_ONLY``) every request that would write is
    refused before it reaches the database: the load balancer sends those to the primary."""
    if request.method in UNSAFE_METHODS:
        raise ServiceUnavailableException(
            "this server reads from a replica: send changes to the primary servers"
        )


def create_app(settings: Settings | None = None, clock=None) -> Litestar:
    """The application; ``clock`` (a function returning an aware datetime) is for tests."""
    settings = settings or get_settings()
    engine = database.async_engine(settings)
    db = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        before_send_handler="autocommit",
        create_all=False,
    )
    session_auth = SessionAuth[CurrentUser, ServerSideSessionBackend](
        retrieve_user_handler=user_from_session,
        session_backend_config=SessionConfig(
            key=SESSION_COOKIE,
            max_age=settings.session_max_age_s,
            secure=settings.secure_cookies,
            httponly=True,
            samesite="lax",
        ),
        exclude=PUBLIC_PATHS,
    )

    async def tune_gc() -> None:
        # CPython's cyclic collector pauses the process while it walks every tracked object;
        # the long-lived ones built at startup (the app, compiled exams, SQLAlchemy's
        # caches) made each full collection long enough to be the answers' p99 under load
        # (benchmarks/load.py, SQLite, 500 applicants: p99 289-338 ms, 128 ms with this).
        # Freezing moves them out of the collector's sight; a larger first threshold makes
        # collections rarer. Only for serving: tests start hundreds of apps in one process.
        if settings.gc_tuning:
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 20)

    async def upgrade_database() -> None:
        sync = database.sync_engine(settings)
        await anyio.to_thread.run_sync(migrate.upgrade, sync)
        sync.dispose()

    threaded = ThreadedDb(settings)
    hasher = password_hasher(settings)
    heartbeat = Heartbeat(threaded)
    clock = clock or (lambda: datetime.now(UTC))
    contacts = ContactBook(threaded, settings, clock)
    feed = LogFeed(
        engine,
        settings.log_signer(),
        settings.log_origin,
        settings.checkpoint_interval_s,
        db=threaded,
        signing=not settings.read_only,
        witnesses=settings.witness_list(),
        min_witnesses=settings.min_witnesses,
    )
    startup = [upgrade_database, heartbeat.start, feed.start, contacts.start, tune_gc]
    shutdown = [heartbeat.stop, contacts.stop, feed.stop, threaded.dispose]
    if not settings.downtime_credit:
        startup, shutdown = [upgrade_database, feed.start, tune_gc], shutdown[2:]
    if settings.read_only:
        # A replica: the primary's servers migrate, beat and sign; this one only reads.
        startup, shutdown = [feed.start, tune_gc], [feed.stop, threaded.dispose]

    app = Litestar(
        route_handlers=[
            *auth.ROUTES,
            committee_access.CommitteeAccess,
            *public_home.ROUTES,
            public_pages.PublicExamPages,
            committee_bank.CommitteeBank,
            committee_dif.CommitteeDif,
            committee_exams.CommitteeExams,
            api_attempts.AttemptApi,
            log_api.LogApi,
            observer.RankingsApi,
            observer.ObserverPages,
            openings_api.PublicOpenings,
            openings_api.ObserverOpenings,
            openings_api.ApplicantOpenings,
            forensics_pages.ForensicsPages,
            results_pages.CommitteeResults,
            results_pages.PublicResults,
            results_pages.ResultsApi,
            results_pages.Certificate,
            appeals.ApplicantAppeals,
            appeals.CommitteeAppeals,
            applicant.ApplicantPages,
            item_assets.item_asset,
            proctor.ProctorPages,
            create_static_files_router(path="/static", directories=[paths.STATIC]),
        ],
        plugins=[SQLAlchemyPlugin(config=db), HTMXPlugin()],
        # The request id's middleware goes in last, at the front: the outermost, so even
        # an error in the session middleware is logged under an id.
        on_app_init=[session_auth.on_app_init, security_per_operation, errors.outermost],
        on_startup=startup,
        on_shutdown=shutdown,
        before_request=_refuse_writes if settings.read_only else None,
        stores={
            # The session store reads on every request: one plain SELECT on the
            # synchronous engine (on SQLite on the event loop, see SessionStore).
            SESSION_STORE: SessionStore(threaded, model=WebSession, namespace="sessions"),
        },
        csrf_config=CSRFConfig(
            secret=settings.resolved_secret(),
            cookie_name="csrftoken",
            header_name="x-csrftoken",
            cookie_secure=settings.secure_cookies,
            cookie_samesite="lax",
        ),
        template_config=TemplateConfig(
            directory=paths.TEMPLATES,
            engine=JinjaTemplateEngine,
            engine_callback=_template_globals,
        ),
        # One map from errors to replies (exam.web.errors); anonymous page visits go
        # to the login page instead.
        exception_handlers={**errors.HANDLERS, NotAuthorizedException: _not_authorized},
        response_headers=SECURITY_HEADERS,
        debug=settings.debug,
        openapi_config=OpenAPIConfig(title="Seleksi", version="0.1.0", path="/schema"),
        state=State(
            {
                "settings": settings,
                "hasher": hasher,
                "passwords": PasswordChecker(hasher),
                "login_policy": login_policy(settings),
                "language": settings.language,
                "clock": clock,
                "contacts": contacts,
                "log_feed": feed,
                "db": threaded,
                "runtimes": RuntimeRegistry(),
                "boards": observer.BoardCache(settings.rankings_max_age_s),
            }
        ),
    )
    document_refusals(
        app,
        rate_limited={"/login", "/api/v1/auth/login"},
        public=PUBLIC_PATHS,
        security=session_auth.security_requirement,
    )
    return app
