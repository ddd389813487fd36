"""Typed dependencies shared by the handlers."""

from typing import TypeAlias

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from exam.models import Enrollment, Exam
from exam.runtime import ExamRuntime, runtime
from exam.security import CurrentUser

#: The request's database session (advanced-alchemy's ``db_session``).
DbSession: TypeAlias = NamedDependency[AsyncSession]


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


def exam_runtime(request: Request, exam: Exam) -> ExamRuntime:
    """The compiled exam, with the configured points for a correct answer."""
    return runtime(exam, request.app.state.settings.points_correct)
