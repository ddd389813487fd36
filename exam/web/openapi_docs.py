"""The refusals every operation can answer with, in the OpenAPI schema.

Litestar documents a handler's responses from its return type and its ``raises``. The
refusals that come from the app's layers rather than the handler — 401 and 403 from the
guards, 403 from the CSRF check on every unsafe method, 404 for a path naming nothing,
429 from the login rate limit — are added here, once for every route, so the schema at
``/schema`` lists every status a client can receive (checked by schemathesis in
``tests/web/test_schema_fuzz.py``).
"""

from __future__ import annotations

from litestar import Litestar
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
)
from litestar.routes import HTTPRoute

from exam.web.api_attempts import Conflict

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def document_refusals(app: Litestar, rate_limited: set[str], conflicts: set[str]) -> None:
    """Add the layers' refusals to every handler's ``raises``; ``rate_limited`` and
    ``conflicts`` name the paths that also answer 429 and 409."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            extra: list[type[HTTPException]] = []
            if handler.resolve_guards() or UNSAFE & set(handler.http_methods):
                extra += [NotAuthorizedException, PermissionDeniedException]
            if "{" in route.path:
                extra.append(NotFoundException)
            if route.path in rate_limited:
                extra.append(TooManyRequestsException)
            if route.path in conflicts:
                extra.append(Conflict)
            have = list(handler.raises or [])
            handler.raises = have + [e for e in extra if e not in have]
