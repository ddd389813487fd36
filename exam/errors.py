"""What a refused request did wrong, in the domain's words: a kind and a reason.

The use cases raise these; how each kind is shown (an HTTP status, a JSON body, an HTML
page) is decided once, in ``exam.web.errors``.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """Why a request is refused."""

    CONFLICT = "conflict"  # it contradicts the current state (an exam already closed)
    INVALID = "invalid"  # its input is not acceptable (an option the item does not have)
    NOT_FOUND = "not_found"  # it names something that does not exist
    FORBIDDEN = "forbidden"  # the user may not do it
    BROKEN = "broken"  # the system's own data is not as it must be (an operator's matter)


class DomainError(Exception):
    """A request the rules refuse: ``kind`` says why, ``reason`` says what, for the user."""

    def __init__(self, reason: str, kind: Kind = Kind.CONFLICT) -> None:
        super().__init__(reason)
        self.reason, self.kind = reason, Kind(kind)
