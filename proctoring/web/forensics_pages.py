"""The review queue of forensic flags and the fairness report, for observers and the
committee.

Observers and committee members run the screening (live, with the answers so far, or after
close), read each flag's evidence and its commitment in the log, and add notes; only the
committee sets the screening's level and compromised items, and decides on a flag ("no
further action" or "referred for examination", always with a reason). Every one of these
steps is an entry of the audit log. The fairness report is a page with its figures and a
single HTML file to publish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import (
    NotFoundException,
    ValidationException,
)
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.adapters.models import Exam, ForensicFlag
from exam.adapters.security import CurrentUser, committee_only, observer_or_committee
from exam.web.api_attempts import Conflict
from exam.web.deps import DbSession, PathId
from proctoring import fairness_report, forensics
from proctoring.screening import KINDS, screen


@dataclass
class ReviewForm:
    text: str
    decision: str = ""


@dataclass
class SettingsForm:
    level: str
    compromised: list[str] = field(default_factory=list)


def _flag(session: Session, code: str, flag_id: int) -> tuple[Exam, ForensicFlag]:
    """Exam ``code`` and its flag ``flag_id``, or 404."""
    exam = _exam(session, code)
    flag = session.get(ForensicFlag, flag_id)
    if flag is None or flag.exam_id != exam.id:
        raise NotFoundException(f"no flag {flag_id} in exam {code}")
    return exam, flag


#: Per-item evidence of a flag (its answers and matching answers, with items, choices and
#: whether each was right) would narrow the keys of items still in use.
SEALED_EVIDENCE = "the per-item evidence is sealed until the exam closes"


def _sealed(exam: Exam, user: CurrentUser) -> bool:
    """Whether ``user`` may not see per-item evidence of ``exam`` yet."""
    return exam.status == "open" and user.role != "committee"


def _shown(document: dict, sealed: bool) -> dict:
    """A flag's document as the reader may see it: without per-item evidence if sealed."""
    if not sealed:
        return document
    evidence = {
        k: v for k, v in document.get("evidence", {}).items() if k not in ("answers", "matching")
    }
    return {**document, "evidence": evidence}


def _exam(session: Session, code: str) -> Exam:
    exam = session.scalar(select(Exam).where(Exam.code == code))
    if exam is None:
        raise NotFoundException(f"no exam {code}")
    return exam


class ForensicsPages(Controller):
    path = "/observer/exams/{code:str}"
    guards = [observer_or_committee]  # noqa: RUF012 (Litestar's controller attribute)
    include_in_schema = False

    @get("/review", name="forensics-review")
    async def review_page(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Template:
        """The review queue: every flag with its evidence, notes and decision."""

        def run(session: Session):
            exam = _exam(session, code)
            return (
                exam,
                forensics.settings_of(session, exam),
                forensics.flags_of(session, exam),
                forensics.served_items(session, exam),
            )

        exam, settings, flags, served = await db_session.run_sync(run)
        sealed = _sealed(exam, request.user)
        counts = {k: sum(1 for f, _ in flags if f.kind == k) for k in KINDS}
        return Template(
            "observer/review.html",
            context={
                "exam": exam,
                "settings": settings,
                "flags": [
                    (f, reviews, _shown(forensics.evidence(f), sealed)) for f, reviews in flags
                ],
                "sealed": sealed,
                "counts": counts,
                "open": sum(1 for f, _ in flags if f.status == "open"),
                "served": served,
                "user": request.user,
            },
        )

    @post("/screening", name="forensics-run")
    async def run_screening(self, request: Request, code: FromPath[str]) -> Response:
        """Screen every answer so far; new flags enter the queue and the log. The answers
        are read in one transaction, the statistics (seconds of CPU on a large exam) run in
        a worker thread, and the flags are stored in a second transaction."""
        user: CurrentUser = request.user
        now = request.app.state.clock()
        runtimes = request.app.state.runtimes
        db = request.app.state.db
        rules, sections = await db.run(
            lambda s: forensics.inputs(s, _exam(s, code), now, runtimes=runtimes)
        )
        result = await anyio.to_thread.run_sync(screen, sections, rules)

        def store(session: Session) -> None:
            forensics.record(session, _exam(session, code), rules, result, user.id, user.role, now)

        await db.write(store)
        return Redirect(f"/observer/exams/{code}/review", status_code=303)

    @post("/flags/{flag_id:int}/reviews", name="forensics-flag-review")
    async def add_review(
        self,
        request: Request,
        code: FromPath[str],
        flag_id: PathId,
        data: Annotated[ReviewForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response:
        """A note on a flag, or (committee) the decision with its reason."""
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def use_case(session: Session) -> None:
            exam, flag = _flag(session, code, flag_id)
            forensics.review(session, flag, exam, data.text, data.decision, user.id, user.role, now)

        await request.app.state.db.write(use_case)  # a refusal: exam.web.errors answers it
        return Redirect(f"/observer/exams/{code}/review#flag-{flag_id}", status_code=303)

    @get("/flags/{flag_id:int}/evidence.json", name="forensics-flag-document")
    async def document(
        self, request: Request, db_session: DbSession, code: FromPath[str], flag_id: PathId
    ) -> Response:
        """The flag's canonical document: its SHA-256 is the commitment in the log. Its
        per-item evidence (items, choices, right or wrong) narrows keys, so observers get
        it once the exam has closed; the committee always."""

        exam, flag = await db_session.run_sync(lambda s: _flag(s, code, flag_id))
        if _sealed(exam, request.user):
            raise Conflict(detail=SEALED_EVIDENCE)
        return Response(flag.document.encode(), media_type="application/json")

    @post("/forensics", name="forensics-settings", guards=[committee_only])
    async def settings(
        self,
        request: Request,
        code: FromPath[str],
        data: Annotated[SettingsForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response:
        """The committee's level and the items marked as possibly compromised."""
        try:
            level = float(data.level)
        except ValueError:
            raise ValidationException("level: a number such as 0.05") from None
        compromised = [data.compromised] if isinstance(data.compromised, str) else data.compromised
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def use_case(session: Session) -> None:
            exam = _exam(session, code)
            forensics.set_settings(
                session,
                exam,
                level,
                list(compromised),
                user.id,
                user.role,
                now,
                request.app.state.runtimes,
            )

        await request.app.state.db.write(use_case)  # a refusal: exam.web.errors answers it
        return Redirect(f"/observer/exams/{code}/review", status_code=303)

    @get("/fairness", name="fairness-report")
    async def fairness(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Template:
        """DIF by group, precision by ability per group, exposure and information."""
        runtimes = request.app.state.runtimes
        result = await db_session.run_sync(
            lambda s: fairness_report.report(s, _exam(s, code), runtimes)
        )
        return Template("observer/fairness.html", context={"r": result, "export": False})

    @get("/fairness/{section:str}/{figure:str}", name="fairness-plot")
    async def fairness_plot(
        self,
        request: Request,
        db_session: DbSession,
        code: FromPath[str],
        section: FromPath[str],
        figure: FromPath[str],
    ) -> Response:
        """A figure of the report as SVG (``se.svg``, ``exposure.svg``, ``information.svg``)."""
        plot = figure.removesuffix(".svg")
        runtimes = request.app.state.runtimes
        result = await db_session.run_sync(
            lambda s: fairness_report.report(s, _exam(s, code), runtimes)
        )
        for s in result.sections:
            if s.section == section:
                rendered = s.plot(plot)
                if rendered is not None:
                    return Response(rendered.svg.encode(), media_type="image/svg+xml")
        raise NotFoundException(f"no figure {plot} for section {section}")

    @get("/fairness/report.html", name="fairness-export")
    async def fairness_export(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Template:
        """The whole report as one HTML file, figures inline, to publish as it is."""
        runtimes = request.app.state.runtimes
        result = await db_session.run_sync(
            lambda s: fairness_report.report(s, _exam(s, code), runtimes)
        )
        return Template(
            "observer/fairness_export.html",
            context={"r": result, "export": True},
            headers={"content-disposition": f'attachment; filename="fairness-{code}.html"'},
        )
