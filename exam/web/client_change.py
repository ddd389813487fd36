"""Noticing when an applicant's requests come from another address or browser mid-exam.

At login the session keeps a fingerprint of the client: SHA-256 of the IP address and of
the User-Agent (the session row never holds the address itself). An applicant request
that carries a different fingerprint appends a ``client_changed`` entry — which of the two
changed, never the values, since an address is personal data — and the session keeps the
new fingerprint, so a change is logged once. Like every proctoring flag it is for human
review: a site's network can change addresses innocently.
"""

from __future__ import annotations

import hashlib

from litestar import Request

from exam.usecases.delivery import log_client_change
from exam.web.client_address import client_address

KEY = "client"


def fingerprint(request: Request) -> dict[str, str]:
    ip = client_address(request)
    ua = request.headers.get("user-agent", "")
    return {
        "ip": hashlib.sha256(b"ip|" + ip.encode()).hexdigest()[:16],
        "ua": hashlib.sha256(b"ua|" + ua.encode()).hexdigest()[:16],
    }


def detect(request: Request) -> dict[str, bool] | None:
    """Which parts changed since the session's last request, or None."""
    stored = request.session.get(KEY) if request.session else None
    if not stored:
        return None
    now = fingerprint(request)
    changed = {f"{k}_changed": stored.get(k) != v for k, v in now.items()}
    return changed if any(changed.values()) else None


def remember(request: Request) -> None:
    request.set_session({**request.session, KEY: fingerprint(request)})


def logger(change: dict[str, bool] | None, now):
    """``delivery.log_client_change`` as a use case's ``before`` hook, or None when
    nothing changed."""
    if not change:
        return None
    return lambda session, exam, pseudonym, step: log_client_change(
        session, change, exam, pseudonym, step, now
    )
