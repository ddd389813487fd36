"""The public pages of each exam, for anyone, with no login: the live board, the audit
trail, how to verify the log, and an applicant's answers in the log (the target of the
link and QR code on the applicant's result page).

They show what the public log and the public ranking show: pseudonyms, section points
against the passing grades, statuses, sealed entries. Never an item, a key, a name or a
registration number. Drafts are not public. The board and the trail follow the log's
stream (``static/observer.js``); every page checks the latest checkpoint in the visitor's
browser.
"""

from __future__ import annotations

import base64
import json

from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam import i18n
from exam.adapters.models import Attempt, Enrollment, Exam, Publication, Response
from exam.web.deps import DbSession
from proctoring import checkpoints, log, signer_guard
from proctoring.models import LogEntry
from proctoring.note import format_proof
from proctoring.web.observer import cached_board

#: Entry types a visitor may filter the trail by (the trail shows every type).
TRAIL_TYPES = (
    "exam_committed",
    "applicants_enrolled",
    "login",
    "logout",
    "attempt_started",
    "attempt_resumed",
    "item_served",
    "answer",
    "section_finished",
    "attempt_finished",
    "proctoring",
    "session_takeover",
    "incident_note",
    "extra_time_set",
    "exam_closed",
    "exam_revealed",
    "results_published",
)
#: Entries shown when the trail opens; older ones are in the log API.
TRAIL_BACKLOG = 300


def missing(request: Request, key: str, **values: str) -> NotFoundException:
    """A 404 whose detail is in the visitor's language (its page shows it)."""
    return NotFoundException(i18n.translate(i18n.lang_of(request), key).format(**values))


def public_exam(request: Request, session: Session, code: str) -> Exam:
    """Exam ``code`` if it is public (opened at least once), else a 404."""
    exam = session.scalar(select(Exam).where(Exam.code == code))
    if exam is None or exam.status == "draft":
        raise missing(request, "pub.no_exam", code=code)
    return exam


def is_published(session: Session, exam: Exam) -> bool:
    """Whether the exam's results are out (the pages link to them only then)."""
    found = select(Publication.id).where(Publication.exam_id == exam.id).limit(1)
    return session.scalar(found) is not None


def _signed_checkpoint(request: Request, session: Session) -> str | None:
    """The checkpoint to show: the last good one while the signer refuses to sign."""
    alarm = signer_guard.current_alarm(request.app.state.log_feed.signer)
    if alarm and alarm.get("remembered_checkpoint"):
        return alarm["remembered_checkpoint"]
    latest = checkpoints.latest(session)
    return latest.note if latest else None


def _answers_of(session: Session, code: str, pseudonym: str) -> list[LogEntry]:
    """The log entries of one applicant's stored answers (the last answer to each item),
    found through the applicant's enrollment by indexed reads: an anonymous request never
    makes the database search the log."""
    indices = session.scalars(
        select(Response.log_index)
        .join(Attempt, Attempt.id == Response.attempt_id)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .join(Exam, Exam.id == Enrollment.exam_id)
        .where(Exam.code == code, Enrollment.pseudonym == pseudonym)
    ).all()
    if not indices:
        return []
    return list(
        session.scalars(
            select(LogEntry).where(LogEntry.index.in_(indices)).order_by(LogEntry.index)
        )
    )


class PublicExamPages(Controller):
    path = "/exams"
    include_in_schema = False

    @get("/{code:str}", name="public-board")
    async def board_page(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Template:
        """The live board: pseudonyms, section points against the passing grades, status;
        refreshed within a second of an answer."""
        published = await db_session.run_sync(
            lambda s: is_published(s, public_exam(request, s, code))
        )
        b = await cached_board(request, db_session, code)
        return Template(
            "public/board.html",
            context={"b": b, "exam": b.exam, "tab": "board", "published": published},
        )

    @get("/{code:str}/board", name="public-board-rows")
    async def board_rows(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Template:
        """The board's table alone (htmx refreshes it when the log grows)."""
        await db_session.run_sync(lambda s: public_exam(request, s, code))
        b = await cached_board(request, db_session, code)
        return Template("public/_board.html", context={"b": b})

    @get("/{code:str}/trail", name="public-trail")
    async def trail(self, request: Request, db_session: DbSession, code: FromPath[str]) -> Template:
        """The exam's audit trail, newest first, streaming, with filters."""

        def run(session: Session):
            exam = public_exam(request, session, code)
            return exam, log.size(session), is_published(session, exam)

        exam, size, published = await db_session.run_sync(run)
        return Template(
            "public/trail.html",
            context={
                "exam": exam,
                "size": size,
                "since": max(size - TRAIL_BACKLOG, 0),
                "types": TRAIL_TYPES,
                "tab": "trail",
                "published": published,
            },
        )

    @get("/{code:str}/verify", name="public-verify")
    async def verify(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Template:
        """The verifier key, the latest checkpoint (checked in the browser) and how to
        check the whole log on one's own computer."""

        def run(session: Session):
            exam = public_exam(request, session, code)
            return exam, _signed_checkpoint(request, session), is_published(session, exam)

        exam, note, published = await db_session.run_sync(run)
        return Template(
            "public/verify.html",
            context={
                "exam": exam,
                "key": str(request.app.state.log_feed.signer.verifier),
                "note": note,
                "alarm": signer_guard.current_alarm(request.app.state.log_feed.signer),
                "base": str(request.base_url).rstrip("/"),
                "tab": "verify",
                "published": published,
            },
        )

    @get("/{code:str}/receipt/{pseudonym:str}", name="public-receipt")
    async def receipt(
        self, request: Request, db_session: DbSession, code: FromPath[str], pseudonym: FromPath[str]
    ) -> Template:
        """One applicant's answers as the public log holds them (sealed), each with an
        inclusion proof that the visitor's browser checks against the signed checkpoint."""

        def run(session: Session):
            exam = public_exam(request, session, code)
            rows = _answers_of(session, code, pseudonym)
            if not rows:
                raise missing(request, "pub.no_answers", pseudonym=pseudonym, code=code)
            cp = checkpoints.at_least(session, rows[-1].index + 1)
            if cp is None:  # the periodic checkpoint has not come yet
                return exam, rows, None
            proofs = [
                format_proof(
                    r.index,
                    log.inclusion_proof(session, r.index, cp.size),
                    cp.note,
                    r.entry.encode(),
                )
                for r in rows
            ]
            return exam, rows, proofs

        exam, rows, proofs = await db_session.run_sync(run)
        entries = [json.loads(r.entry) for r in rows]
        return Template(
            "public/receipt.html",
            context={
                "exam": exam,
                "pseudonym": pseudonym,
                "answers": [(r.index, e) for r, e in zip(rows, entries, strict=True)],
                "proofs": json.dumps([base64.b64encode(p.encode()).decode() for p in proofs or []]),
                "waiting": proofs is None,
            },
        )
