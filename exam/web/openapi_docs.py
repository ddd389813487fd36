"""Who may call each operation and what it can refuse with, in the OpenAPI schema.

Litestar documents a handler's responses from its return type and its ``raises`` (the
handlers name their own 409 and 422). The refusals that come from the app's layers rather
than the handler — 401 from the session middleware and the guards, 403 from the guards and
from the CSRF check on every unsafe method, 404 for a path naming nothing, 429 from the
login rate limit — are added here, once for every route, so the schema at ``/schema``
lists every status a client can receive (checked by schemathesis in
``tests/web/test_schema_fuzz.py``).

``SessionAuth`` puts its cookie into the schema as a requirement of every operation, the
public ones too. Here it is declared on each operation outside the middleware's exclusions
instead, so the audit log, the rankings and the published results need no login in the
schema either.
"""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
)
from litestar.openapi.spec import SecurityRequirement
from litestar.routes import HTTPRoute

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def security_per_operation(app_config: AppConfig) -> AppConfig:
    """An ``on_app_init`` hook after ``SessionAuth``'s: drops the requirement it adds to
    the whole schema (``document_refusals`` declares it per operation)."""
    if app_config.openapi_config is not None:
        app_config.openapi_config.security = None
    return app_config


def document_refusals(
    app: Litestar,
    rate_limited: set[str],
    public: list[str],
    security: SecurityRequirement,
) -> None:
    """Add the layers' refusals to every handler's ``raises``, and ``security`` to every
    handler whose path matches none of the ``public`` patterns (the session middleware's
    exclusions); ``rate_limited`` names the paths that also answer 429."""
    open_paths = [re.compile(p) for p in public]
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        logged_in = not any(p.search(route.path) for p in open_paths)
        for handler in route.route_handlers:
            extra: list[type[HTTPException]] = []
            if logged_in or handler.resolve_guards() or UNSAFE & set(handler.http_methods):
                extra.append(NotAuthorizedException)
            if handler.resolve_guards() or UNSAFE & set(handler.http_methods):
                extra.append(PermissionDeniedException)
            if "{" in route.path:
                extra.append(NotFoundException)
            if route.path in rate_limited:
                extra.append(TooManyRequestsException)
            have = list(handler.raises or [])
            handler.raises = have + [e for e in extra if e not in have]
            if logged_in:
                handler.security = [*(handler.security or []), security]
