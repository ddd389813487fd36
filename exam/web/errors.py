"""The one map from errors to replies, registered once on the app (``exam.app``).

A domain error (``exam.errors.DomainError``) becomes the HTTP status of its kind; Litestar's
own HTTP exceptions keep theirs. The JSON API (``/api/...``) and every client that does not
ask for HTML get JSON as Litestar writes it (``status_code``, ``detail``); a browser gets an
error page in its language. An unexpected exception is logged with its traceback under the
request's id, and the 500 reply shows that id, so a report can be matched to the log.
"""

from __future__ import annotations

import logging
import re
import uuid
from html import escape

from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.enums import MediaType, ScopeType
from litestar.exceptions import HTTPException
from litestar.exceptions.responses import create_exception_response
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from exam import i18n
from exam.errors import DomainError, Kind
from proctoring.signer_guard import SignerRefusedError

logger = logging.getLogger("exam.web")

STATUS: dict[Kind, int] = {
    Kind.CONFLICT: 409,
    Kind.INVALID: 422,
    Kind.NOT_FOUND: 404,
    Kind.FORBIDDEN: 403,
    Kind.BROKEN: 500,
}
#: Statuses with a page of their own; any other shows the page of its class (4xx or 5xx).
PAGES = frozenset({400, 403, 404, 405, 409, 413, 422, 429, 500, 503})
REQUEST_ID_HEADER = "x-request-id"
#: An id a proxy in front of the app may pass on (nginx's $request_id): only plain ones,
#: since it is written to the log.
_GIVEN_ID = re.compile(r"[A-Za-z0-9_.-]{8,64}")


def status_of(exc: DomainError) -> int:
    """The HTTP status of a domain error."""
    return STATUS[exc.kind]


def request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "-")


class RequestIdMiddleware:
    """Gives each request an id (the proxy's ``X-Request-ID`` when plain, else a new one),
    kept in the request's state and sent back in the ``X-Request-ID`` header.

    A plain ASGI callable rather than Litestar's ``ASGIMiddleware``: it runs on every
    request, and the base class's per-call checks cost more than the work itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                given = value.decode("latin-1")
                rid = given if _GIVEN_ID.fullmatch(given) else None
                break
        rid = rid or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        header = (_HEADER, rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


_HEADER = REQUEST_ID_HEADER.encode()


def outermost(app_config: AppConfig) -> AppConfig:
    """``on_app_init``: the request id's middleware in front of every other."""
    app_config.middleware.insert(0, RequestIdMiddleware)
    return app_config


def wants_page(request: Request) -> bool:
    """Whether the reply is a page: anything outside the JSON API, unless the client asks
    for JSON and not for HTML (a script, or htmx). A browser, ``curl`` (``*/*``) and a
    visitor who typed a wrong address all get a page in their language."""
    if request.url.path.startswith("/api/"):
        return False
    accept = request.headers.get("accept", "")
    if "text/html" in accept:
        return True
    # htmx's own requests read the JSON reply (the item page shows its reason in place).
    return "json" not in accept and not request.headers.get("hx-request")


def error_page(request: Request, status: int, detail: str = "", headers=None) -> Response:
    """The error page of ``status`` in the request's language, with ``detail`` and, for a
    server error, the request's id."""
    lang = i18n.lang_of(request)
    page = status if status in PAGES else (500 if status >= 500 else 400)
    context = {
        "request": request,
        "lang": lang,
        "status": status,
        "title": i18n.translate(lang, f"error.{page}.title"),
        "explanation": i18n.translate(lang, f"error.{page}.text"),
        "detail": detail,
        "request_id": request_id(request) if status >= 500 else None,
    }
    try:
        body = request.app.template_engine.get_template("error.html").render(**context)
    except Exception:  # the error page must not fail in turn: a plain one then
        logger.exception("request %s: the error page could not be rendered", request_id(request))
        body = f"<!doctype html><title>{status}</title><h1>{status}</h1><p>{escape(detail)}</p>"
    return Response(body, status_code=status, media_type=MediaType.HTML, headers=headers)


def _json(status: int, detail: str, headers=None) -> Response:
    return Response({"status_code": status, "detail": detail}, status_code=status, headers=headers)


def domain_error(request: Request, exc: DomainError) -> Response:
    status = status_of(exc)
    if status >= 500:
        rid = request_id(request)
        logger.error("request %s: %s", rid, exc.reason, exc_info=exc, extra={"request_id": rid})
    if wants_page(request):
        return error_page(request, status, exc.reason)
    return _json(status, exc.reason)


def http_error(request: Request, exc: HTTPException) -> Response:
    """Litestar's HTTP exceptions (404, 403, 405, 429, validation): JSON as Litestar writes
    it (with ``extra`` and headers such as Retry-After), or the page."""
    if wants_page(request):
        detail = "" if exc.status_code >= 500 else exc.detail + _fields(exc)
        return error_page(request, exc.status_code, detail, exc.headers)
    return create_exception_response(request, exc)


def _fields(exc: HTTPException) -> str:
    """The fields a validation error names (``extra[].key`` in the JSON reply), for the
    page: `` (step: Expected `int` <= 100000)``."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    named = [
        f"{e['key']}: {e.get('message', '')}".rstrip(": ")
        for e in extra
        if isinstance(e, dict) and e.get("key")
    ]
    return f" ({'; '.join(named)})" if named else ""


def signer_refused(request: Request, exc: SignerRefusedError) -> Response:
    """A request that needed a new checkpoint while the log signer refuses to sign: 503
    with the reason (its transaction is rolled back, nothing changed), never a traceback."""
    message = i18n.translate(i18n.lang_of(request), "err.signer_refused")
    detail = f"{message} ({exc.reason})"
    if request.url.path.startswith("/api/"):
        return _json(503, detail)
    return error_page(request, 503, detail)


def server_error(request: Request, exc: Exception) -> Response:
    """Anything unexpected: logged with its traceback and the request's id, which the reply
    shows; the reply says nothing else of it."""
    rid = request_id(request)
    logger.error(
        "request %s failed: %s %s",
        rid,
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"request_id": rid},
    )
    if wants_page(request):
        return error_page(request, 500)
    return _json(500, f"internal error; request id {rid}")


#: For ``Litestar(exception_handlers=...)``; Litestar picks the most specific class.
HANDLERS = {
    DomainError: domain_error,
    SignerRefusedError: signer_refused,
    HTTPException: http_error,
    Exception: server_error,
}
