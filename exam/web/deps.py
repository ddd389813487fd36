"""Typed dependencies and parameters shared by the handlers."""

from typing import Annotated, TypeAlias

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import ParameterKwarg, PathParameter, QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from exam.adapters.database import begin_write
from exam.adapters.models import Enrollment, Exam
from exam.adapters.runtime import ExamRuntime
from exam.adapters.security import CurrentUser
from exam.usecases import answering
from exam.web import client_change

#: The request's database session (advanced-alchemy's ``db_session``).
DbSession: TypeAlias = NamedDependency[AsyncSession]

#: The largest numbers the columns hold: row ids, steps and version numbers are INTEGER
#: (32 bits on PostgreSQL), log indices BIGINT (64 bits, signed). A client's number beyond
#: them is refused with 400 naming the parameter, before a query where the database driver
#: would fail on it (a 500).
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
#: A step is a position in one attempt: every exam is far shorter (the builder allows
#: 8 sections of at most 500 items).
STEP_MAX = 100_000


def bounded(kind: type[ParameterKwarg], low: int, high: int, **kw) -> ParameterKwarg:
    """A parameter of ``kind`` (``PathParameter``, ``QueryParameter`` ...) refused outside
    ``low``..``high``. ``schema_extra`` repeats the bounds for the OpenAPI schema, where
    Litestar would write them as floats (2^63 - 1 becomes 2^63) or drop a 0 on an
    optional parameter."""
    return kind(ge=low, le=high, schema_extra={"minimum": low, "maximum": high}, **kw)


#: A row id or a version number in the path (they count from 1).
PathId: TypeAlias = Annotated[int, bounded(PathParameter, 1, INT32_MAX)]
#: A step of an attempt in the path.
PathStep: TypeAlias = Annotated[int, bounded(PathParameter, 0, STEP_MAX)]
#: An index of the audit log in the path.
PathLogIndex: TypeAlias = Annotated[int, bounded(PathParameter, 0, INT64_MAX)]
#: A version number in the query, if any.
QueryVersion: TypeAlias = Annotated[int | None, bounded(QueryParameter, 1, INT32_MAX)]


def enrolled(session: Session, user: CurrentUser, code: str, lock: bool = False):
    """The exam ``code`` and the user's enrollment in it, or 404. ``lock`` holds the
    enrollment row, so starting twice at once resumes instead of inserting two attempts."""
    exam = session.scalar(select(Exam).where(Exam.code == code))
    enrollment = None
    if exam is not None:
        query = select(Enrollment).where(
            Enrollment.exam_id == exam.id, Enrollment.user_id == user.id
        )
        enrollment = session.scalar(query.with_for_update() if lock else query)
    if exam is None or enrollment is None:
        raise NotFoundException(f"you are not enrolled in exam {code}")
    return exam, enrollment


def answer_runtime(request: Request):
    """How the answer use case finds its compiled exam: from the application's registry
    by the key alone (``answering.ExamKey``), reading the exam's row only to compile."""
    runtimes = request.app.state.runtimes

    def find(session, key) -> ExamRuntime:
        return runtimes.get(key, load=lambda: session.get(Exam, key.id))

    return find


def exam_runtime(request: Request, exam: Exam) -> ExamRuntime:
    """The compiled exam from the application's registry (scored by its definition)."""
    return request.app.state.runtimes.get(exam)


async def answer_from(request: Request, step: int, item_id: str, choice: str, **where):
    """The answer use case for either door (``attempt_id=`` for the API, ``exam_code=``
    for the item page), in its own transaction; 404 when the attempt is not the user's."""
    user = request.user
    now = request.app.state.clock()
    change = client_change.detect(request)

    def run(session) -> answering.Answered:
        before = client_change.logger(change, now)
        finder = answer_runtime(request)
        return answering.answer(
            session,
            finder,
            user.id,
            step,
            item_id,
            choice,
            now,
            before=before,
            paused=request.app.state.contacts.is_paused,
            **where,
        )

    try:
        done = await request.app.state.db.write(run)
    except answering.AttemptNotFoundError as exc:
        raise NotFoundException(str(exc)) from None
    if change:
        client_change.remember(request)
    request.app.state.contacts.touch(done.view.attempt_id, now)
    return done


async def written(db_session: AsyncSession, use_case):
    """``use_case(session)`` on the request's own session, begun as a writer
    (``database.begin_write``); the handler commits."""

    def begin_then(session: Session):
        begin_write(session)
        return use_case(session)

    return await db_session.run_sync(begin_then)
