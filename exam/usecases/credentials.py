"""New passwords end every live session of their accounts, and the log says so.

One use case for every way a password is replaced: a new login sheet for an exam's
applicants (the committee's page) and an account's password set from the command line
(``seleksi user add`` for an existing account). Whoever was logged in with the old password
(an impersonator, a forgotten screen) is logged out in every worker at their next request
(``exam.adapters.security.end_sessions``), and one ``credentials_reset`` entry per exam
counts the live sessions that ended, per pseudonym.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.adapters.models import Enrollment, Exam, User
from exam.adapters.security import end_sessions
from exam.usecases.events import event
from proctoring import log


def replace_passwords(
    session: Session,
    changes: Sequence[tuple[User, str]],
    by: int | str,
    now: datetime,
    exam: Exam | None = None,
) -> list[int]:
    """Give each account of ``changes`` (account, new password hash) its new hash, end
    its live sessions and log them; returns the sessions ended per account, in order.
    ``by`` is who did it: a committee member's account id, or ``"cli"``.

    With ``exam`` (a new login sheet of its applicants), one entry in that exam names the
    accounts by their pseudonyms there. Otherwise each account is named once per open
    exam it is enrolled in, by its pseudonym there, or else once by its role (never a
    name: staff accounts appear in the log by id only as ``by``)."""
    for user, hashed in changes:
        user.password_hash = hashed
        user.current_session = None
    users = [user for user, _ in changes]
    ended = end_sessions(session, users)
    count = {user.id: n for user, n in zip(users, ended, strict=True)}
    if exam is not None:
        pseudonyms = dict(
            session.execute(
                select(Enrollment.user_id, Enrollment.pseudonym).where(
                    Enrollment.exam_id == exam.id, Enrollment.user_id.in_(list(count))
                )
            ).all()
        )
        named = [u.id for u in users if u.id in pseudonyms]
        entries = [
            _entry(exam.code, now, by, [pseudonyms[i] for i in named], [count[i] for i in named])
        ]
    else:
        entries = []
        for user in users:
            rows = session.execute(
                select(Exam.code, Enrollment.pseudonym)
                .join(Enrollment, Enrollment.exam_id == Exam.id)
                .where(Enrollment.user_id == user.id, Exam.status == "open")
                .order_by(Exam.code)
            ).all()
            entries += [_entry(code, now, by, [p], [count[user.id]]) for code, p in rows]
            if not rows:
                entries.append(
                    event(
                        "credentials_reset",
                        "",
                        now,
                        by=by,
                        role=user.role,
                        sessions_ended=[count[user.id]],
                    )
                )
    log.record(session, entries)
    return ended


def _entry(code: str, now: datetime, by: int | str, pseudonyms: list, ended: list) -> dict:
    return event("credentials_reset", code, now, by=by, pseudonyms=pseudonyms, sessions_ended=ended)
