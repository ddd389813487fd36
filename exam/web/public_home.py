"""The public front door: the home page of the selection and the index of published
results, both without a login.

A logged-in visitor of ``/`` goes on to their own pages as before; anyone else sees the
selection's exams (drafts excepted) with their status and links to each exam's public
pages. ``/`` is outside the login check, so the user is read from the session here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from litestar import Request, Response, get
from litestar.response import Redirect, Template
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exam.adapters.models import Enrollment, Exam, Publication
from exam.adapters.security import SESSION_ENDED
from exam.web.auth import HOME_BY_ROLE
from exam.web.deps import DbSession


@dataclass(frozen=True)
class PublicExam:
    code: str
    title: str
    status: str
    opens_at: datetime | None
    closes_at: datetime | None
    enrolled: int
    published: int  # versions of the results published


def public_exams(session: Session) -> list[PublicExam]:
    """Every exam that has been opened, newest first, with its counts."""
    enrolled = (
        select(Enrollment.exam_id, func.count().label("n")).group_by(Enrollment.exam_id).subquery()
    )
    published = (
        select(Publication.exam_id, func.count().label("n"))
        .group_by(Publication.exam_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Exam.code,
            Exam.title,
            Exam.status,
            Exam.opens_at,
            Exam.closes_at,
            func.coalesce(enrolled.c.n, 0),
            func.coalesce(published.c.n, 0),
        )
        .outerjoin(enrolled, enrolled.c.exam_id == Exam.id)
        .outerjoin(published, published.c.exam_id == Exam.id)
        .where(Exam.status != "draft")
        .order_by(Exam.created_at.desc(), Exam.code)
    ).all()
    return [PublicExam(*row) for row in rows]


def _role(request: Request) -> str:
    session = request.session if request.scope.get("session") else {}
    if session.get(SESSION_ENDED):
        return ""
    return (session.get("user") or {}).get("role", "")


@get("/", name="home", include_in_schema=False)
async def home(request: Request, db_session: DbSession) -> Response:
    """The selection's home page; logged-in users go on to their own pages."""
    role = _role(request)
    if role in HOME_BY_ROLE:
        return Redirect(HOME_BY_ROLE[role], status_code=303)
    exams = await db_session.run_sync(public_exams)
    return Template("public/home.html", context={"exams": exams})


@get("/results", name="results-index", include_in_schema=False)
async def results_index(db_session: DbSession) -> Template:
    """The exams whose results are published."""
    exams = await db_session.run_sync(public_exams)
    return Template("results/index.html", context={"exams": [e for e in exams if e.published]})


ROUTES = [home, results_index]
