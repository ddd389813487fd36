"""The applicant's pages: before the start, the item screen, the result.

The item screen is server-rendered; htmx posts each answer and swaps in the next item only
after the server has stored the answer ("Tersimpan"). A small script (static/exam.js) runs
the countdown from the server's remaining time, the keyboard (A–E / 1–5, Enter), retries
a failed save, and reports proctoring events.
"""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass
from typing import Annotated

import segno
from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, Parameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from msgspec import Meta
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam import i18n
from exam.adapters.models import Attempt, Enrollment, Exam, Publication
from exam.adapters.runtime import ExamRuntime
from exam.adapters.security import CurrentUser, applicant_only
from exam.cat.pilots import pilot_count
from exam.documents import table_rows
from exam.errors import Kind
from exam.usecases import delivery, navigation
from exam.usecases.receipts import receipt, verification_code
from exam.usecases.score_check import checked_rows
from exam.web.api_attempts import NO_STORE
from exam.web.deps import (
    STEP_MAX,
    DbSession,
    PathLogIndex,
    PathStep,
    answer_from,
    enrolled,
    exam_runtime,
)


@dataclass
class AnswerForm:
    step: Annotated[int, Meta(ge=0, le=STEP_MAX)]
    item_id: str
    choice: str = ""


@dataclass
class MarkForm:
    marked: bool = False


def _standing(latest: Publication | None, pseudonym: str) -> dict | None:
    """The applicant's row in the latest published results (rank, passed, proceeds)."""
    if latest is None:
        return None
    row = next((r for r in table_rows(latest.table_csv) if r["person_id"] == pseudonym), None)
    return None if row is None else {**row, "version": latest.version}


def _sections(rt: ExamRuntime) -> list[dict]:
    """What the pre-exam page announces per section: the items an applicant gets,
    counting the unscored pilot items they are given too (``pilot_count``). An adaptive
    section that stops early may stop before a pilot's place: its least stays its
    ``min_items``."""
    return [
        {
            "name": s.name,
            "kind": s.kind,
            "count": s.max_items + pilot_count(s),
            "min_items": s.min_items,
            "passing_grade": s.passing_grade,
        }
        for s in rt.config.sections
    ]


def _chosen(v: delivery.AttemptView, grid: navigation.Grid | None) -> dict:
    """The applicant's own last choice and mark at the item shown (fixed sections)."""
    cell = next((c for c in grid.cells if c.step == v.step), None) if grid else None
    return {"chosen": cell and cell.choice, "marked": bool(cell and cell.marked)}


async def _grid(request: Request, code: str) -> navigation.Grid | None:
    user: CurrentUser = request.user

    def run(session: Session):
        exam, enrollment = enrolled(session, user, code)
        attempt = delivery.find_attempt(session, enrollment)
        if attempt is None or attempt.status != "active":
            return None
        return navigation.grid(session, exam_runtime(request, exam), attempt)

    return await request.app.state.db.run(run)


class ApplicantPages(Controller):
    path = "/exam"
    guards = [applicant_only]  # noqa: RUF012 (Litestar's controller attribute)
    include_in_schema = False
    # Back and Forward must never show an item that can still be answered: the browser
    # asks the server again, which shows the current one.
    cache_control = NO_STORE

    @get("/", name="exam-home")
    async def home(self, request: Request, db_session: DbSession) -> Response:
        user: CurrentUser = request.user
        rows = (
            await db_session.execute(
                select(Exam.code, Exam.title, Exam.status)
                .join(Enrollment, Enrollment.exam_id == Exam.id)
                .where(Enrollment.user_id == user.id)
                .order_by(Exam.code)
            )
        ).all()
        if len(rows) == 1:
            return Redirect(f"/exam/{rows[0].code}", status_code=303)
        return Template("exam/home.html", context={"exams": rows})

    @get("/{code:str}", name="exam-before")
    async def before(self, request: Request, code: FromPath[str]) -> Response:
        user: CurrentUser = request.user

        def run(session: Session):
            exam, enrollment = enrolled(session, user, code)
            attempt = delivery.find_attempt(session, enrollment)
            rt = exam_runtime(request, exam) if exam.snapshot_sha256 else None
            return exam, enrollment, attempt, rt

        exam, enrollment, attempt, rt = await request.app.state.db.run(run)
        if attempt is not None:
            target = "attempt" if attempt.status == "active" else "finished"
            return Redirect(f"/exam/{code}/{target}", status_code=303)
        minutes = (exam.definition["duration_s"] + enrollment.extra_time_s) // 60
        return Template(
            "exam/before.html",
            context={
                "exam": exam,
                "enrollment": enrollment,
                "minutes": minutes,
                "sections": _sections(rt) if rt else [],
                "open": exam.status == "open",
            },
        )

    @post("/{code:str}/start", name="exam-start", status_code=303)
    async def start(self, request: Request, code: FromPath[str]) -> Redirect:
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session) -> None:
            exam, enrollment = enrolled(session, user, code, lock=True)
            delivery.check_open(exam)
            rt = exam_runtime(request, exam)
            delivery.start_attempt(session, rt, exam, enrollment, now)

        try:
            await request.app.state.db.write(run)
        except delivery.DeliveryError:
            return Redirect(f"/exam/{code}", status_code=303)
        # One-shot flag: the first view after "start" is no resumption.
        request.set_session({**request.session, "fresh_start": code})
        return Redirect(f"/exam/{code}/attempt", status_code=303)

    @get("/{code:str}/attempt", name="exam-attempt")
    async def attempt_page(
        self,
        request: Request,
        code: FromPath[str],
        step: Annotated[int | None, Parameter(ge=0, le=STEP_MAX)] = None,
    ) -> Response:
        """The item screen. Opening it again (reload, crash, new device) resumes: the same
        item, the server's remaining time, and a note. In a fixed section ``step`` shows
        that item of the section (the grid's links)."""
        user: CurrentUser = request.user
        now = request.app.state.clock()
        fresh = request.session.get("fresh_start") == code

        def run(session: Session):
            exam, enrollment = enrolled(session, user, code, lock=True)
            attempt = delivery.find_attempt(session, enrollment, lock=True)
            if attempt is None or exam.snapshot_sha256 is None:
                return None, None, None
            rt = exam_runtime(request, exam)
            if fresh or (step is not None and attempt.status == "active"):
                # The first view after "start", or a move within the section: no resumption.
                v = delivery.view(rt, attempt, now, step=step)
            else:
                v = delivery.start_attempt(session, rt, exam, enrollment, now)
            grid = navigation.grid(session, rt, attempt) if v.status == "active" else None
            return v, rt, grid

        v, _rt, grid = await request.app.state.db.write(run)
        if fresh:
            request.set_session({k: x for k, x in request.session.items() if k != "fresh_start"})
        if v is None:
            return Redirect(f"/exam/{code}", status_code=303)
        if v.status != "active":
            return Redirect(f"/exam/{code}/finished", status_code=303)
        context = {
            "code": code,
            "v": v,
            "resumed": not fresh and step is None,
            "grid": grid,
            "heartbeat_s": request.app.state.settings.heartbeat_s,
        }
        return Template("exam/attempt.html", context={**context, **_chosen(v, grid)})

    @post("/{code:str}/answer", name="exam-answer")
    async def answer(
        self,
        request: HTMXRequest,
        code: FromPath[str],
        data: Annotated[AnswerForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response:
        """Store the answer, then send the next item (or send the browser to the result)."""
        done = await answer_from(
            request, data.step, data.item_id, data.choice, exam_code=code, keep_open=True
        )
        reply, error, v = done.reply, done.refusal, done.view
        if v.status != "active":
            return Response(b"", status_code=200, headers={"HX-Redirect": f"/exam/{code}/finished"})
        grid = await _grid(request, code) if v.navigable else None
        message = error.reason if error else None
        if error is not None and error.kind == Kind.CONFLICT and data.step != v.step:
            # A stale page (Back, a second tab): explain in the applicant's language and
            # show the item to answer now.
            message = i18n.translate(i18n.lang_of(request), "exam.stale_answer")
        context = {
            "code": code,
            "v": v,
            "saved": reply is not None,
            "error": message,
            "log_index": reply.log_index if reply else None,
            "grid": grid,
            "oob": True,
            **_chosen(v, grid),
        }
        return Template(
            "exam/_item.html",
            context=context,
            status_code=200 if error is None or error.kind == Kind.CONFLICT else 422,
        )

    @post("/{code:str}/mark/{step:int}", name="exam-mark", status_code=303)
    async def mark(
        self,
        request: Request,
        code: FromPath[str],
        step: PathStep,
        data: Annotated[MarkForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """Mark the item ragu-ragu (or take the mark off), then show it again."""
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session) -> None:
            exam, enrollment = enrolled(session, user, code)
            attempt = delivery.find_attempt(session, enrollment, lock=True)
            if attempt is not None:
                rt = exam_runtime(request, exam)
                navigation.mark(session, rt, attempt, enrollment, step, data.marked, now)

        # The section may have ended meanwhile: the page then shows where the attempt is.
        with contextlib.suppress(delivery.DeliveryError):
            await request.app.state.db.write(run)
        return Redirect(f"/exam/{code}/attempt?step={step}", status_code=303)

    @post("/{code:str}/finish-section", name="exam-finish-section", status_code=303)
    async def finish_section(self, request: Request, code: FromPath[str]) -> Redirect:
        """End the running fixed section (the page asked first, listing what is open)."""
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session) -> None:
            exam, enrollment = enrolled(session, user, code)
            attempt = delivery.find_attempt(session, enrollment, lock=True)
            if attempt is not None:
                rt = exam_runtime(request, exam)
                navigation.finish_section(session, rt, attempt, enrollment, now)

        # Already over (or adaptive): the page shows where the attempt is.
        with contextlib.suppress(delivery.DeliveryError):
            await request.app.state.db.write(run)
        return Redirect(f"/exam/{code}/attempt?step=0", status_code=303)

    @post("/{code:str}/finish", name="exam-finish", status_code=303)
    async def finish(self, request: Request, code: FromPath[str]) -> Redirect:
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session) -> None:
            exam, enrollment = enrolled(session, user, code)
            attempt = delivery.find_attempt(session, enrollment, lock=True)
            if attempt is not None and attempt.status == "active":
                rt = exam_runtime(request, exam)
                delivery.finish_attempt(session, rt, attempt, enrollment, now)

        await request.app.state.db.write(run)
        return Redirect(f"/exam/{code}/finished", status_code=303)

    @get("/{code:str}/finished", name="exam-finished")
    async def finished(self, request: Request, code: FromPath[str]) -> Response:
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session):
            exam, enrollment = enrolled(session, user, code)
            rt = exam_runtime(request, exam)
            attempt: Attempt | None = delivery.find_attempt(session, enrollment, lock=True)
            if attempt is not None and attempt.status == "active" and now >= attempt.deadline_at:
                delivery.finish_on_deadline(session, rt, attempt, enrollment, now)
            bundle, mismatch = None, False
            if attempt is not None and attempt.status == "finished":
                bundle = receipt(session, attempt, feed.signer, feed.origin)
                mismatch = bool(checked_rows(session, exam, [enrollment.pseudonym]).mismatches)
            latest = session.scalar(
                select(Publication)
                .where(Publication.exam_id == exam.id)
                .order_by(Publication.version.desc())
                .limit(1)
            )
            return exam, enrollment, attempt, rt, (bundle, latest, mismatch)

        feed = request.app.state.log_feed
        exam, enrollment, attempt, rt, extra = await request.app.state.db.write(run)
        bundle, latest, mismatch = extra
        if attempt is None or attempt.status != "finished":
            return Redirect(f"/exam/{code}", status_code=303)
        rows = []
        for s in [] if mismatch else rt.config.sections:
            r = (attempt.results or {}).get(s.name, {"points": 0, "items": 0})
            passed = None if s.passing_grade is None else r["points"] >= s.passing_grade
            rows.append(
                {
                    "name": s.name,
                    "points": r["points"],
                    "items": r["items"],
                    "passing_grade": s.passing_grade,
                    "passed": passed,
                }
            )
        total = sum(r["points"] for r in rows)
        all_passed = all(r["passed"] is not False for r in rows)
        base = str(request.base_url).rstrip("/")
        check_url = f"{base}/exams/{code}/receipt/{enrollment.pseudonym}"
        return Template(
            "exam/finished.html",
            context={
                "exam": exam,
                "enrollment": enrollment,
                "attempt": attempt,
                "rows": rows,
                "total": total,
                "all_passed": all_passed,
                "receipt": bundle,
                "published": latest is not None,
                "standing": _standing(latest, enrollment.pseudonym),
                "mismatch": mismatch,
                "code_short": verification_code(bundle),
                "key": str(feed.signer.verifier),
                "check_url": check_url,
                "check_qr": segno.make(check_url, error="m").svg_data_uri(scale=4, border=2),
                "proofs": json.dumps(
                    [base64.b64encode(line.proof.encode()).decode() for line in bundle.lines]
                ),
            },
        )

    @get("/{code:str}/receipts/{index:int}", name="exam-receipt", media_type="text/plain")
    async def receipt_file(
        self, request: Request, code: FromPath[str], index: PathLogIndex
    ) -> Response:
        """One answer's receipt as a .tlog-proof file, to keep and check offline."""
        user: CurrentUser = request.user
        feed = request.app.state.log_feed

        def run(session: Session):
            _exam, enrollment = enrolled(session, user, code)
            attempt = delivery.find_attempt(session, enrollment)
            if attempt is None or attempt.status != "finished":
                raise NotFoundException("the attempt has not finished")
            lines = receipt(session, attempt, feed.signer, feed.origin).lines
            line = next((x for x in lines if x.log_index == index), None)
            if line is None:
                raise NotFoundException(f"log entry {index} is not one of your answers")
            return line.proof

        proof = await request.app.state.db.write(run)
        return Response(
            proof,
            media_type="text/plain",
            headers={
                "content-disposition": f'attachment; filename="seleksi-{code}-{index}.tlog-proof"'
            },
        )
