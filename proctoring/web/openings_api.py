"""The openings of sealed log entries, by who may read them (``proctoring.openings``).

- ``GET /api/v1/exams/{code}/openings``: no login; only once the exam's items are retired.
- ``GET /observer/exams/{code}/openings``: observers once the exam has closed; the
  committee always.
- ``GET /api/v1/attempts/{id}/openings``: an applicant, the openings of their own attempt.

Each is an openings file (``proctoring.seal.bundle``) that ``seleksi log verify --openings``
reads.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from exam.adapters.models import Attempt, Enrollment, Exam
from exam.adapters.security import CurrentUser, applicant_only, observer_or_committee
from exam.usecases.closing import openings_released
from exam.web.api_attempts import Conflict
from exam.web.deps import DbSession, PathId
from proctoring import openings
from proctoring.seal import bundle

SEALED = (
    "the openings of exam {code} are sealed: observers receive them when the exam closes, "
    "everyone when the committee retires its items"
)


def _file(code: str, text: str) -> Response:
    return Response(
        text,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="openings-{code}.json"',
            "Cache-Control": "no-store",
        },
    )


async def _exam_openings(
    request: Request, db_session: DbSession, code: str, role: str | None
) -> Response:
    runtimes = request.app.state.runtimes

    def run(session: Session) -> str:
        exam = session.scalar(
            select(Exam)
            .where(Exam.code == code)
            .options(defer(Exam.definition), defer(Exam.bank_snapshot))
        )
        if exam is None or exam.snapshot_sha256 is None:
            raise NotFoundException(f"no exam {code}")
        # The role alone may suffice; only otherwise is the retirement looked up.
        if not openings.may_read_all(role, exam.status, False) and not openings_released(
            session, runtimes.get(exam)
        ):
            raise Conflict(detail=SEALED.format(code=code))
        return bundle(code, openings.of_exam(session, code))

    return _file(code, await db_session.run_sync(run))


class PublicOpenings(Controller):
    path = "/api/v1/exams"
    tags = ["audit log"]  # noqa: RUF012 (Litestar's controller attribute)

    @get("/{exam_code:str}/openings", raises=[Conflict, NotFoundException])
    async def exam_openings(
        self, request: Request, db_session: DbSession, exam_code: FromPath[str]
    ) -> Response:
        """Every opening of the exam's sealed entries, once its items are retired (403
        before). No login needed."""
        return await _exam_openings(request, db_session, exam_code, None)


class ObserverOpenings(Controller):
    path = "/observer/exams"
    guards = [observer_or_committee]  # noqa: RUF012 (Litestar's controller attribute)
    include_in_schema = False

    @get("/{code:str}/openings", name="observer-openings")
    async def exam_openings(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Response:
        """Every opening of the exam's sealed entries: observers once it has closed."""
        user: CurrentUser = request.user
        return await _exam_openings(request, db_session, code, user.role)


class ApplicantOpenings(Controller):
    path = "/api/v1/attempts"
    guards = [applicant_only]  # noqa: RUF012 (Litestar's controller attribute)
    tags = ["attempts"]  # noqa: RUF012 (Litestar's controller attribute)

    @get("/{attempt_id:int}/openings")
    async def own_openings(
        self, request: Request, db_session: DbSession, attempt_id: PathId
    ) -> Response:
        """The openings of the applicant's own sealed entries (their answers and the items
        served to them): what their receipt's commitments hide."""
        user: CurrentUser = request.user

        def run(session: Session) -> tuple[str, str]:
            row = session.execute(
                select(Exam.code, Enrollment.pseudonym)
                .join(Attempt, Attempt.exam_id == Exam.id)
                .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
                .where(Attempt.id == attempt_id, Enrollment.user_id == user.id)
            ).first()
            if row is None:
                raise NotFoundException(f"no attempt {attempt_id} of yours")
            code, pseudonym = row
            return code, bundle(code, openings.of_exam(session, code, pseudonym))

        code, text = await db_session.run_sync(run)
        return _file(code, text)
