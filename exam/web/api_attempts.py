"""The applicant's JSON API (CONTRACTS.md): start, read, answer, report events, result.

Every handler runs the delivery use case in the request's transaction and commits before
replying, so an acknowledged answer is stored. An applicant reaches only their own attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from litestar import Controller, Request, get, post, put
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK
from msgspec import Meta, Struct
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from exam.adapters.models import Attempt, Enrollment, Exam
from exam.adapters.security import CurrentUser, applicant_only
from exam.usecases import delivery, navigation
from exam.usecases.receipts import receipt
from exam.usecases.score_check import SCORE_MISMATCH, checked_rows
from exam.web.contacts import AttemptFacts, ContactBook
from exam.web.deps import STEP_MAX, PathId, PathStep, answer_from, enrolled, exam_runtime
from exam.web.item_assets import item_html
from proctoring import log


@dataclass
class StartReply:
    attempt_id: int
    deadline: str
    remaining_seconds: int
    resumed: bool


@dataclass
class OptionOut:
    key: str
    text: str


@dataclass
class ItemOut:
    item_id: str
    #: HTML when ``markup`` (sanitised; pictures at /assets/<sha256>), else plain text.
    stem: str
    options: list[OptionOut]
    markup: bool = False


@dataclass
class AttemptOut:
    attempt_id: int
    status: str
    section: str | None
    step: int
    remaining_seconds: int
    deadline: str
    item: ItemOut | None
    #: The item's number in its section, and how many items a fixed section has (null
    #: in an adaptive section).
    number: int = 0
    count: int | None = None


class AnswerIn(Struct):
    """An answer; a msgspec struct, so the bound of ``step`` is both checked and in the
    schema (a dataclass field's ``Meta`` is checked but not documented)."""

    step: Annotated[int, Meta(ge=0, le=STEP_MAX)]
    item_id: str
    choice: str


@dataclass
class AnswerOut:
    accepted: bool
    log_index: int
    next_step: int | None
    #: The item served at ``next_step``, so a client needs no second request.
    item: ItemOut | None = None


class EventIn(Struct):
    type: str
    #: The browser's clock in milliseconds (``Date.now()``, at most JavaScript's largest
    #: exact integer).
    at: Annotated[int, Meta(ge=0, le=2**53 - 1)]


@dataclass
class EventOut:
    log_index: int


@dataclass
class HeartbeatOut:
    status: str
    remaining_ms: int
    #: A proctor has paused the applicant's room: the page waits, the time is credited.
    paused: bool


class ItemAnswerIn(Struct):
    """An answer, or a changed answer, to one item of the running fixed section."""

    item_id: str
    choice: str


class MarkIn(Struct):
    """Mark an item ragu-ragu (``true``) or take the mark off (``false``)."""

    marked: bool


@dataclass
class CellOut:
    number: int
    step: int
    status: str
    answered: bool
    marked: bool
    choice: str | None


@dataclass
class SectionProgressOut:
    name: str
    answered: int
    count: int | None
    current: bool
    done: bool


@dataclass
class GridOut:
    section: str
    navigable: bool
    items: list[CellOut]
    sections: list[SectionProgressOut]


@dataclass
class SectionFinishedOut:
    log_index: int
    attempt: AttemptOut


PROCTORING_EVENTS = (
    "hidden",
    "visible",
    "blur",
    "focus",
    "fullscreen_exit",
    "copy",
    "paste",
    "contextmenu",
    "offline",
    "online",
)


class Conflict(HTTPException):
    """409: the request contradicts the exam's state (an answered step, a passed deadline)."""

    status_code = 409


class Unprocessable(HTTPException):
    """422: the request names what the exam does not have (an option, an event type)."""

    status_code = 422


def _now(request: Request) -> datetime:
    return request.app.state.clock()


def _owned(session: Session, user: CurrentUser, attempt_id: int, lock: bool = False):
    """The attempt, its enrollment and its exam, only if they belong to ``user`` (else 404,
    so attempt ids reveal nothing). The exam's definition and snapshot are not read here:
    ``exam_runtime`` finds the compiled exam without them."""
    query = (
        select(Attempt, Enrollment, Exam)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .join(Exam, Exam.id == Attempt.exam_id)
        .where(Attempt.id == attempt_id, Enrollment.user_id == user.id)
        .options(defer(Exam.definition))
    )
    if lock:
        query = query.with_for_update(of=Attempt)
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFoundException(f"no attempt {attempt_id}")
    return tuple(row)


def _receipt_json(r) -> dict:
    return {
        "checkpoint": r.checkpoint,
        "log_size": r.size,
        "answers": [
            {
                "step": line.step,
                "section": line.section,
                "item_id": line.item_id,
                "log_index": line.log_index,
                "proof": line.proof,
                "opening": line.opening,
            }
            for line in r.lines
        ],
    }


def _item_out(item: delivery.ItemView) -> ItemOut:
    def text(value: str) -> str:
        return str(item_html(value, True)) if item.markup else value

    options = [OptionOut(k, text(v)) for k, v in item.options]
    return ItemOut(item.item_id, text(item.stem), options, item.markup)


def _attempt_out(v: delivery.AttemptView) -> AttemptOut:
    item = v.item and _item_out(v.item)
    return AttemptOut(
        v.attempt_id,
        v.status,
        v.section,
        v.step,
        v.remaining_seconds,
        v.deadline.isoformat(),
        item,
        v.number,
        v.count,
    )


#: An exam reply is about one moment of one attempt: never kept by a browser or a proxy.
NO_STORE = CacheControlHeader(no_store=True)


def _grid_out(g: navigation.Grid) -> GridOut:
    cells = [CellOut(c.number, c.step, c.status, c.answered, c.marked, c.choice) for c in g.cells]
    sections = [
        SectionProgressOut(p.name, p.answered, p.count, p.current, p.done) for p in g.progress
    ]
    return GridOut(g.section, g.navigable, cells, sections)


async def _heartbeat_facts(
    request: Request, attempt_id: int, user_id: int
) -> tuple[AttemptFacts | None, str]:
    """The facts of the user's attempt (None unless it runs) and its status; 404 when the
    attempt is not the user's."""

    def read(connection):
        return connection.execute(
            select(
                Attempt.status,
                Attempt.deadline_at,
                Exam.id,
                Enrollment.site,
                Enrollment.room,
            )
            .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
            .join(Exam, Exam.id == Attempt.exam_id)
            .where(Attempt.id == attempt_id, Enrollment.user_id == user_id)
        ).one_or_none()

    row = await request.app.state.db.read(read)
    if row is None:
        raise NotFoundException(f"no attempt {attempt_id}")
    status, deadline, exam_id, site, room = row
    if status != "active":
        return None, status
    return AttemptFacts(user_id, exam_id, site, room, deadline), status


class AttemptApi(Controller):
    path = "/api/v1"
    guards = [applicant_only]  # noqa: RUF012 (Litestar's controller attribute)
    tags = ["applicant"]  # noqa: RUF012
    cache_control = NO_STORE

    @post("/exams/{exam_code:str}/attempts", status_code=HTTP_200_OK, raises=[Conflict])
    async def start(self, request: Request, exam_code: FromPath[str]) -> StartReply:
        """Start the attempt, or resume it (starting twice returns the same attempt)."""
        user: CurrentUser = request.user
        now = _now(request)

        def run(session: Session) -> delivery.AttemptView:
            exam, enrollment = enrolled(session, user, exam_code, lock=True)
            delivery.check_open(exam)
            rt = exam_runtime(request, exam)
            return delivery.start_attempt(session, rt, exam, enrollment, now)

        v = await request.app.state.db.write(run)  # a refusal: exam.web.errors answers it
        return StartReply(v.attempt_id, v.deadline.isoformat(), v.remaining_seconds, v.resumed)

    @get("/attempts/{attempt_id:int}")
    async def read(self, request: Request, attempt_id: PathId) -> AttemptOut:
        """The attempt's state and the item to answer now (never a key or option points)."""
        user: CurrentUser = request.user
        now = _now(request)

        def read(session: Session) -> delivery.AttemptView | None:
            attempt, _enrollment, exam = _owned(session, user, attempt_id)
            if attempt.status == "active" and now >= attempt.deadline_at:
                return None  # the deadline passed: finish it first, in a write
            return delivery.view(exam_runtime(request, exam), attempt, now)

        def finish(session: Session) -> delivery.AttemptView:
            attempt, enrollment, exam = _owned(session, user, attempt_id, lock=True)
            rt = exam_runtime(request, exam)
            if attempt.status == "active" and now >= attempt.deadline_at:
                delivery.finish_on_deadline(session, rt, attempt, enrollment, now)
            return delivery.view(rt, attempt, now)

        # A read needs no write transaction (SQLite: readers never wait for writers).
        v = await request.app.state.db.run(read)
        if v is None:
            v = await request.app.state.db.write(finish)
        return _attempt_out(v)

    @post(
        "/attempts/{attempt_id:int}/answers",
        status_code=HTTP_200_OK,
        raises=[Conflict, Unprocessable],
    )
    async def answer(
        self,
        request: Request,
        attempt_id: PathId,
        data: JSONBody[AnswerIn],
    ) -> AnswerOut:
        """Store one answer; the same answer again gets the same reply, a different answer
        to an answered step or an answer after the deadline gets 409 with the reason."""
        done = await answer_from(
            request, data.step, data.item_id, data.choice, attempt_id=attempt_id
        )
        if done.refusal is not None:
            raise done.refusal  # exam.web.errors answers it (409 or 422)
        reply, following = done.reply, done.following and _item_out(done.following)
        return AnswerOut(reply.accepted, reply.log_index, reply.next_step, following)

    @post("/attempts/{attempt_id:int}/events", status_code=HTTP_200_OK, raises=[Unprocessable])
    async def event(
        self,
        request: Request,
        attempt_id: PathId,
        data: JSONBody[EventIn],
    ) -> EventOut:
        """A browser proctoring event, logged for observers' review (never a sanction)."""
        user: CurrentUser = request.user
        if data.type not in PROCTORING_EVENTS:
            raise Unprocessable(detail=f"type must be one of {', '.join(PROCTORING_EVENTS)}")
        now = _now(request)

        def run(session: Session) -> log.Recorded:
            attempt, enrollment, exam = _owned(session, user, attempt_id)
            return delivery.log_proctoring_event(
                session, exam.code, enrollment.pseudonym, attempt.step, data.type, data.at, now
            )

        return EventOut((await request.app.state.db.write(run)).index)

    @post("/attempts/{attempt_id:int}/heartbeat", status_code=HTTP_200_OK)
    async def heartbeat(self, request: Request, attempt_id: PathId) -> HeartbeatOut:
        """The exam page is connected: recorded for the site-outage detection (written in
        batches, ``exam.web.contacts``); the reply is the server's remaining time (moved by
        any credit) and whether the room is paused. A running attempt's facts are read at
        its first heartbeat in this process, then kept fresh by the contacts' pass: every
        later heartbeat costs the session's read alone."""
        user: CurrentUser = request.user
        now = _now(request)
        book: ContactBook = request.app.state.contacts
        facts = book.facts.get(attempt_id)
        if facts is None or facts.user_id != user.id:
            facts, status = await _heartbeat_facts(request, attempt_id, user.id)
            if facts is None:
                return HeartbeatOut(status, 0, False)
            book.facts[attempt_id] = facts
        book.touch(attempt_id, now)
        remaining = max(0, int((facts.deadline - now).total_seconds() * 1000))
        paused = book.is_paused(facts.exam_id, facts.site, facts.room)
        return HeartbeatOut("active", remaining, paused)

    @get("/attempts/{attempt_id:int}/result", raises=[Conflict])
    async def result(self, request: Request, attempt_id: PathId) -> dict:
        """Points per section, the total and the receipt: for every answer its log index and
        a c2sp.org/tlog-proof against a signed checkpoint (one is signed now if needed).
        409 when the stored score differs from what the audit log states."""
        user: CurrentUser = request.user

        def run(session: Session) -> dict:
            attempt, enrollment, exam = _owned(session, user, attempt_id)
            if attempt.status != "finished":
                raise Conflict(detail="the attempt has not finished")
            checked = checked_rows(session, exam, [enrollment.pseudonym])
            if checked.mismatches:
                raise Conflict(detail=SCORE_MISMATCH)
            sections = checked.rows[0].results  # the row as checked, not an older read
            return {
                "attempt_id": attempt.id,
                "exam": exam.code,
                "finish_reason": attempt.finish_reason,
                "sections": {
                    name: {
                        "points": r["points"],
                        "theta": r["theta"],
                        "se": r["se"],
                        "items": r["items"],
                    }
                    for name, r in sections.items()
                },
                "total": sum(r["points"] for r in sections.values()),
                "receipt": _receipt_json(receipt(session, attempt, feed.signer, feed.origin)),
            }

        feed = request.app.state.log_feed
        out = await request.app.state.db.write(run)
        return out

    # -- fixed sections: the grid, any item, ragu-ragu marks, finishing the section -----

    @get("/attempts/{attempt_id:int}/grid", raises=[Conflict])
    async def grid(self, request: Request, attempt_id: PathId) -> GridOut:
        """The current section's numbered items (answered, unanswered or ragu-ragu, with
        the applicant's last choice) and every section's progress. An adaptive section
        runs forward only: ``navigable`` is false and ``items`` is empty."""
        user: CurrentUser = request.user

        def run(session: Session) -> navigation.Grid:
            attempt, _enrollment, exam = _owned(session, user, attempt_id)
            return navigation.grid(session, exam_runtime(request, exam), attempt)

        return _grid_out(await request.app.state.db.run(run))

    @get("/attempts/{attempt_id:int}/items/{step:int}")
    async def item(self, request: Request, attempt_id: PathId, step: PathStep) -> AttemptOut:
        """The attempt showing the item at ``step`` of the running fixed section (in an
        adaptive section, or for a step the section does not have: the current item)."""
        user: CurrentUser = request.user
        now = _now(request)

        def run(session: Session) -> delivery.AttemptView:
            attempt, _enrollment, exam = _owned(session, user, attempt_id)
            return delivery.view(exam_runtime(request, exam), attempt, now, step=step)

        return _attempt_out(await request.app.state.db.run(run))

    @put("/attempts/{attempt_id:int}/items/{step:int}", raises=[Conflict, Unprocessable])
    async def answer_item(
        self, request: Request, attempt_id: PathId, step: PathStep, data: JSONBody[ItemAnswerIn]
    ) -> AnswerOut:
        """Answer, or change the answer to, any item of the running fixed section (the
        last answer counts). The section stays open until it is finished or its time is
        up; ``next_step`` is the next item in order. The same answer again gets the same
        reply; in an adaptive section this is the forward-only answer of ``/answers``."""
        done = await answer_from(
            request, step, data.item_id, data.choice, attempt_id=attempt_id, keep_open=True
        )
        if done.refusal is not None:
            raise done.refusal
        reply, following = done.reply, done.following and _item_out(done.following)
        return AnswerOut(reply.accepted, reply.log_index, reply.next_step, following)

    @put("/attempts/{attempt_id:int}/items/{step:int}/mark", raises=[Conflict, Unprocessable])
    async def mark(
        self, request: Request, attempt_id: PathId, step: PathStep, data: JSONBody[MarkIn]
    ) -> EventOut:
        """Mark the item at ``step`` ragu-ragu (or take the mark off); the mark is a
        sealed log entry. 409 in an adaptive section."""
        user: CurrentUser = request.user
        now = _now(request)

        def run(session: Session) -> log.Recorded:
            attempt, enrollment, exam = _owned(session, user, attempt_id, lock=True)
            rt = exam_runtime(request, exam)
            return navigation.mark(session, rt, attempt, enrollment, step, data.marked, now)

        return EventOut((await request.app.state.db.write(run)).index)

    @post(
        "/attempts/{attempt_id:int}/sections/current/finish",
        status_code=HTTP_200_OK,
        raises=[Conflict],
    )
    async def finish_section(self, request: Request, attempt_id: PathId) -> SectionFinishedOut:
        """End the running fixed section now, scored with its last answers; the attempt
        goes on to the next section (or finishes). 409 in an adaptive section."""
        user: CurrentUser = request.user
        now = _now(request)

        def run(session: Session):
            attempt, enrollment, exam = _owned(session, user, attempt_id, lock=True)
            rt = exam_runtime(request, exam)
            try:
                index = navigation.finish_section(session, rt, attempt, enrollment, now)
            except delivery.DeliveryError as refusal:
                return refusal, None
            return index, delivery.view(rt, attempt, now)

        index, v = await request.app.state.db.write(run)
        if v is None:
            raise index  # committed first: a deadline that passed finished the attempt
        return SectionFinishedOut(index.index, _attempt_out(v))
