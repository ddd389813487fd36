"""Appeal pages: an applicant files one from the result page; the committee answers,
upheld or rejected, and may re-key an item (which re-scores the attempts that answered it)."""

from __future__ import annotations

import re
from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.adapters.models import Appeal, Exam
from exam.adapters.security import CurrentUser, applicant_only, committee_only
from exam.errors import Kind
from exam.usecases import appeals, delivery
from exam.web.deps import DbSession, PathId, enrolled, exam_runtime, written

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _references(raw: str) -> list[int]:
    """The log indices named in ``raw`` (at most 20). A number of more than 19 digits is
    beyond every log index (< 2^63) and is refused before ``int``, which parses at most
    4,300 digits."""
    found = re.findall(r"\d+", raw)[:20]
    for number in found:
        if len(number) > 19:
            raise delivery.DeliveryError(
                f"references: {number[:19]}… is no log index", Kind.INVALID
            )
    return [int(x) for x in found]


class ApplicantAppeals(Controller):
    path = "/exam/{code:str}/appeals"
    guards = [applicant_only]  # noqa: RUF012 (Litestar's controller attribute)
    include_in_schema = False

    @get("/", name="appeal-form")
    async def form(self, request: Request, db_session: DbSession, code: FromPath[str]) -> Template:
        return await _applicant_page(db_session, request.user, code)

    @post("/", name="appeal-file")
    async def file(
        self, request: Request, db_session: DbSession, code: FromPath[str], data: FormData
    ) -> Response:
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session) -> None:
            exam, enrollment = enrolled(session, user, code)
            appeals.file_appeal(
                session,
                exam,
                enrollment,
                data.get("text", ""),
                _references(data.get("references", "")),
                now,
            )

        try:
            await written(db_session, run)
        except delivery.DeliveryError as exc:
            await db_session.rollback()
            return await _applicant_page(db_session, user, code, exc.reason, 409)
        await db_session.commit()
        return Redirect(f"/exam/{code}/appeals/", status_code=303)


async def _applicant_page(
    db_session, user, code: str, error: str | None = None, status: int = 200
) -> Template:
    def run(session: Session):
        exam, enrollment = enrolled(session, user, code)
        mine = session.scalars(
            select(Appeal).where(Appeal.enrollment_id == enrollment.id).order_by(Appeal.id)
        ).all()
        return exam, appeals.window(session, exam), mine

    exam, window, mine = await db_session.run_sync(run)
    return Template(
        "exam/appeals.html",
        status_code=status,
        context={"exam": exam, "window": window, "appeals": mine, "error": error},
    )


class CommitteeAppeals(Controller):
    path = "/committee/exams/{code:str}/appeals"
    guards = [committee_only]  # noqa: RUF012 (Litestar's controller attribute)
    include_in_schema = False

    @get("/", name="appeals-list")
    async def list_appeals(self, db_session: DbSession, code: FromPath[str]) -> Template:
        return await _committee_page(db_session, code)

    @post("/{appeal_id:int}", name="appeal-answer")
    async def answer(
        self,
        request: Request,
        db_session: DbSession,
        code: FromPath[str],
        appeal_id: PathId,
        data: FormData,
    ) -> Response:
        """Answer an appeal; an upheld one may re-key an item (item id and correct option)."""
        user: CurrentUser = request.user
        now = request.app.state.clock()
        item, key = data.get("rekey_item", "").strip(), data.get("rekey_key", "").strip().upper()

        def run(session: Session) -> list[str]:
            exam = session.scalar(select(Exam).where(Exam.code == code).with_for_update())
            appeal = session.get(Appeal, appeal_id)
            if exam is None or appeal is None or appeal.exam_id != exam.id:
                raise NotFoundException(f"no appeal {appeal_id} in {code}")
            rt = exam_runtime(request, exam)
            return appeals.answer_appeal(
                session,
                rt,
                exam,
                appeal,
                data.get("decision", ""),
                data.get("answer", ""),
                user.id,
                now,
                (item, key) if item else None,
            )

        try:
            await written(db_session, run)
        except delivery.DeliveryError as exc:
            await db_session.rollback()
            return await _committee_page(db_session, code, exc.reason, 409)
        await db_session.commit()
        return Redirect(f"/committee/exams/{code}/appeals/", status_code=303)


async def _committee_page(db_session, code: str, error: str | None = None, status: int = 200):
    def run(session: Session):
        exam = session.scalar(select(Exam).where(Exam.code == code))
        if exam is None:
            raise NotFoundException(f"no exam {code}")
        return exam, appeals.appeals_of(session, exam), appeals.window(session, exam)

    exam, rows, window = await db_session.run_sync(run)
    return Template(
        "committee/appeals.html",
        status_code=status,
        context={"exam": exam, "rows": rows, "window": window, "error": error},
    )
