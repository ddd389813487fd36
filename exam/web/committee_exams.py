"""The committee's exam pages: the builder, the check before opening, opening, the
witness quorum for publication, enrollment by CSV with printable login sheets, new
credentials, and extra time.

Every change goes through ``exam.usecases.committee`` or ``exam.usecases.delivery`` and is
logged in the same transaction. Slow work (argon2 for new accounts, the simulation) runs
outside any write transaction, so applicants answering at the same time are not held up.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, Enrollment, Exam
from exam.adapters.security import CurrentUser, committee_only
from exam.cat.blueprint import ExamConfig
from exam.errors import Kind
from exam.i18n import lang_of
from exam.plots import simulation_svg
from exam.usecases import closing, committee, delivery
from exam.usecases.builder import FormError, exam_form_fields, read_exam_form, section_count
from exam.usecases.demo import demo_exam
from exam.usecases.enrollment import new_password, read_enrollment_csv
from exam.usecases.precheck import precheck
from exam.web.deps import DbSession, exam_runtime, written
from exam.web.errors import status_of
from proctoring import checkpoints
from proctoring.checkpoints import SignerRefusedError
from scoring import limits

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
ENROLLMENT_PAGE = 200
NOTICES = ("created", "saved", "opened", "closed", "extra_time", "retired", "witnesses")


@dataclass
class EnrollForm:
    file: UploadFile


def _not_whole(field: str, raw: str, too_long: str, digits: int = 6) -> str | None:
    """Why ``raw`` is not a whole number of at most ``digits`` digits, naming the field."""
    if not (raw.isascii() and raw.isdigit()):
        return f"{field}: {raw[:20]!r} is not a whole number"
    if len(raw) > digits:  # before int(), which refuses more than 4,300 digits
        return f"{field}: {too_long}"
    return None


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


async def _exam(db_session, code: str) -> Exam:
    exam = await db_session.scalar(select(Exam).where(Exam.code == code))
    if exam is None:
        raise NotFoundException(f"no exam {code}")
    return exam


def _hash_all(request: Request, regs: list[str]) -> dict[str, tuple[str, str]]:
    """Fresh passwords and their argon2 hashes (the caller runs this in worker threads)."""
    hasher = request.app.state.hasher
    out = {}
    for reg in regs:
        password = new_password()
        out[reg] = (password, hasher.hash(password))
    return out


async def _prepare_passwords(request: Request, regs: list[str]) -> dict[str, tuple[str, str]]:
    # argon2-cffi releases the GIL, so two threads use both cores.
    halves = [regs[0::2], regs[1::2]]
    results: list[dict] = [{}, {}]

    async def run(k: int) -> None:
        results[k] = await anyio.to_thread.run_sync(_hash_all, request, halves[k])

    async with anyio.create_task_group() as tg:
        for k in range(2):
            tg.start_soon(run, k)
    return results[0] | results[1]


class CommitteeExams(Controller):
    path = "/committee/exams"
    guards = [committee_only]  # noqa: RUF012 (Litestar's controller attribute)
    include_in_schema = False

    @get("/", name="exams-list")
    async def list_exams(self, db_session: DbSession) -> Template:
        enrolled = (
            select(Enrollment.exam_id, func.count().label("n"))
            .group_by(Enrollment.exam_id)
            .subquery()
        )
        attempts = (
            select(
                Attempt.exam_id,
                func.count().label("started"),
                func.count().filter(Attempt.status != "active").label("finished"),
            )
            .group_by(Attempt.exam_id)
            .subquery()
        )
        rows = (
            await db_session.execute(
                select(Exam, enrolled.c.n, attempts.c.started, attempts.c.finished)
                .outerjoin(enrolled, enrolled.c.exam_id == Exam.id)
                .outerjoin(attempts, attempts.c.exam_id == Exam.id)
                .order_by(Exam.created_at.desc())
            )
        ).all()
        return Template("committee/exams.html", context={"rows": rows})

    # -- the builder -----------------------------------------------------------------------

    async def _builder(
        self,
        request: Request,
        db_session: DbSession,
        fields: dict[str, str],
        errors: dict[str, str],
        exam: Exam | None,
        status_code: int = 200,
    ) -> Template:
        domains = await db_session.run_sync(committee.bank_domains)
        return Template(
            "committee/exam_form.html",
            status_code=status_code,
            context={
                "f": fields,
                "errors": errors,
                "exam": exam,
                "domains": domains,
                "n_sections": section_count(fields),
                "timezone": request.app.state.settings.timezone,
            },
        )

    @get("/new", name="exams-new")
    async def new_form(
        self, request: Request, db_session: DbSession, template: FromQuery[str] = ""
    ) -> Template:
        """An empty builder, or one filled with the SKD template (TWK, TIU, TKP)."""
        points = request.app.state.settings.points_correct
        if template == "skd":
            config = demo_exam(points)
            fields = exam_form_fields(
                ExamConfig("", "", config.sections, config.duration_s, points_correct=points),
                None,
                None,
                _tz(request),
            )
        else:
            fields = {
                "sections": "1",
                "duration_minutes": "100",
                "points_correct": str(points),
                "s1_kind": "adaptive",
            }
        return await self._builder(request, db_session, fields, {}, None)

    @post("/new", name="exams-create")
    async def create(self, request: Request, db_session: DbSession, data: FormData) -> Response:
        if data.get("action") == "add_section":
            data = {**data, "sections": str(section_count(data) + 1)}
            return await self._builder(request, db_session, data, {}, None)
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session) -> str:
            form = read_exam_form(
                data,
                set(committee.bank_domains(session)),
                _tz(request),
                points_default=request.app.state.settings.points_correct,
            )
            return committee.create_exam(session, form, user.id, now).code

        try:
            code = await written(db_session, run)
        except FormError as exc:
            await db_session.rollback()
            return await self._builder(request, db_session, data, exc.errors, None, 422)
        except delivery.DeliveryError as exc:
            await db_session.rollback()
            return await self._builder(request, db_session, data, {"code": exc.reason}, None, 422)
        await db_session.commit()
        return Redirect(f"/committee/exams/{code}?notice=created", status_code=303)

    @get("/{code:str}/edit", name="exams-edit")
    async def edit_form(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Response:
        exam = await _exam(db_session, code)
        if exam.status != "draft":
            return Redirect(f"/committee/exams/{code}", status_code=303)
        config = ExamConfig.from_dict(exam.definition)
        fields = exam_form_fields(config, exam.opens_at, exam.closes_at, _tz(request))
        return await self._builder(request, db_session, fields, {}, exam)

    @post("/{code:str}/edit", name="exams-update")
    async def update(
        self, request: Request, db_session: DbSession, code: FromPath[str], data: FormData
    ) -> Response:
        exam = await _exam(db_session, code)
        await db_session.commit()  # the write below starts its own (immediate) transaction
        data = {**data, "code": code}
        if data.get("action") == "add_section":
            data["sections"] = str(section_count(data) + 1)
            return await self._builder(request, db_session, data, {}, exam)
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session) -> None:
            row = session.scalar(select(Exam).where(Exam.code == code).with_for_update())
            previous = ExamConfig.from_dict(row.definition)
            form = read_exam_form(
                data,
                set(committee.bank_domains(session)),
                _tz(request),
                previous,
                points_default=request.app.state.settings.points_correct,
            )
            committee.update_exam(session, row, form, user.id, now)

        try:
            await written(db_session, run)
        except FormError as exc:
            await db_session.rollback()
            exam = await _exam(db_session, code)
            return await self._builder(request, db_session, data, exc.errors, exam, 422)
        except delivery.DeliveryError as exc:
            await db_session.rollback()
            exam = await _exam(db_session, code)
            return await self._builder(request, db_session, data, {"code": exc.reason}, exam, 409)
        await db_session.commit()
        return Redirect(f"/committee/exams/{code}?notice=saved", status_code=303)

    # -- one exam --------------------------------------------------------------------------

    @get("/{code:str}", name="exams-detail")
    async def detail(
        self,
        request: Request,
        db_session: DbSession,
        code: FromPath[str],
        notice: FromQuery[str] = "",
        q: FromQuery[str] = "",
    ) -> Template:
        return await self._detail(request, db_session, code, notice=notice, q=q)

    async def _detail(
        self,
        request: Request,
        db_session: DbSession,
        code: str,
        status_code: int = 200,
        **context,
    ) -> Template:
        exam = await _exam(db_session, code)
        query = (
            select(Enrollment, Attempt)
            .outerjoin(Attempt, Attempt.enrollment_id == Enrollment.id)
            .where(Enrollment.exam_id == exam.id)
        )
        q = context.pop("q", "").strip()
        if q:
            like = f"%{q}%"
            query = query.where(
                Enrollment.registration_number.ilike(like) | Enrollment.name.ilike(like)
            )
        rows = (
            await db_session.execute(
                query.order_by(Enrollment.registration_number).limit(ENROLLMENT_PAGE)
            )
        ).all()
        total = await db_session.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.exam_id == exam.id)
        )
        notice = context.pop("notice", "")
        retired = (
            exam.status == "closed"
            and exam.snapshot_sha256 is not None
            and await db_session.run_sync(
                lambda s: closing.openings_released(s, exam_runtime(request, exam))
            )
        )
        return Template(
            "committee/exam.html",
            status_code=status_code,
            context={
                "exam": exam,
                "retired": retired,
                "config": ExamConfig.from_dict(exam.definition),
                "rows": rows,
                "total": total,
                "q": q,
                "notice": notice if notice in NOTICES else "",
                "tz": _tz(request),
                "problems": [],
                "error": None,
                "known_witnesses": len(request.app.state.log_feed.witnesses),
                "default_witnesses": request.app.state.log_feed.min_witnesses,
                **context,
            },
        )

    @post("/{code:str}/check", name="exams-check")
    async def check(self, request: Request, db_session: DbSession, code: FromPath[str]) -> Template:
        """Feasibility and a quick simulation, with a plot per section (nothing is saved)."""
        exam = await _exam(db_session, code)
        config = ExamConfig.from_dict(exam.definition)
        bank = await db_session.run_sync(lambda s: committee.draft_bank(s, config))
        await db_session.commit()  # ends the read transaction before the simulation

        lang = lang_of(request)
        tolerance = request.app.state.settings.exposure_tolerance

        def run():
            result = precheck(config, bank, exposure_tolerance=tolerance)
            plots = {
                s.name: base64.b64encode(simulation_svg(s.result, s.name, lang)).decode()
                for s in result.sections
            }
            return result, plots

        result, plots = await anyio.to_thread.run_sync(run)
        return Template(
            "committee/_exam_check.html", context={"check": result, "plots": plots, "exam": exam}
        )

    @post("/{code:str}/open", name="exams-open")
    async def open(self, request: Request, db_session: DbSession, code: FromPath[str]) -> Response:
        """Commit the exam to the log and open it; every problem is listed if it cannot."""
        now = request.app.state.clock()
        feed = request.app.state.log_feed
        tolerance = request.app.state.settings.exposure_tolerance

        def run(session: Session) -> None:
            exam = session.scalar(select(Exam).where(Exam.code == code).with_for_update())
            if exam is None:
                raise NotFoundException(f"no exam {code}")
            delivery.open_exam(session, exam, now, exposure_tolerance=tolerance)
            checkpoints.sign(session, feed.signer, feed.origin, "exam_open")

        try:
            await written(db_session, run)
        except delivery.DeliveryError as exc:
            await db_session.rollback()
            return await self._detail(
                request, db_session, code, 422, problems=exc.reason.split("; ")
            )
        except SignerRefusedError as exc:  # nothing opened: the log could not be signed
            await db_session.rollback()
            return await self._detail(request, db_session, code, 503, problems=[exc.reason])
        await db_session.commit()
        return Redirect(f"/committee/exams/{code}?notice=opened", status_code=303)

    @post("/{code:str}/close", name="exams-close")
    async def close(self, request: Request, db_session: DbSession, code: FromPath[str]) -> Response:
        """Close the exam and reveal its seed and definition in the log (observers then get
        the openings and can replay every attempt); a signed checkpoint follows."""

        def close(session: Session, exam: Exam, rt, user: CurrentUser, now) -> None:
            closing.close_exam(session, exam, rt, user.id, now)

        return await self._exam_action(request, db_session, code, close, "exam_close", "closed")

    @post("/{code:str}/retire", name="exams-retire")
    async def retire(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Response:
        """Retire every item the closed exam could serve: its openings become public."""

        def retire(session: Session, exam: Exam, rt, user: CurrentUser, now) -> None:
            if rt is None:
                raise delivery.DeliveryError(f"exam {code} was never opened")
            closing.retire_items(session, exam, rt, user.id, now)

        return await self._exam_action(
            request, db_session, code, retire, "items_retired", "retired"
        )

    async def _exam_action(
        self, request: Request, db_session: DbSession, code: str, action, reason: str, notice: str
    ) -> Response:
        """Run ``action(session, exam, compiled exam or None, user, now)`` on the locked
        exam and sign a checkpoint; a refusal shows on the exam's page, and nothing is kept
        when the log cannot be signed."""
        now = request.app.state.clock()
        feed = request.app.state.log_feed
        user: CurrentUser = request.user

        def run(session: Session) -> None:
            exam = session.scalar(select(Exam).where(Exam.code == code).with_for_update())
            if exam is None:
                raise NotFoundException(f"no exam {code}")
            rt = exam_runtime(request, exam) if exam.snapshot_sha256 else None
            action(session, exam, rt, user, now)
            checkpoints.sign(session, feed.signer, feed.origin, reason)

        try:
            await written(db_session, run)
        except delivery.DeliveryError as exc:
            await db_session.rollback()
            return await self._detail(request, db_session, code, 409, error=exc.reason)
        except SignerRefusedError as exc:
            await db_session.rollback()
            return await self._detail(request, db_session, code, 503, error=exc.reason)
        await db_session.commit()
        return Redirect(f"/committee/exams/{code}?notice={notice}", status_code=303)

    @post("/{code:str}/witnesses", name="exams-witnesses")
    async def witnesses(
        self, request: Request, db_session: DbSession, code: FromPath[str], data: FormData
    ) -> Response:
        """How many witness cosignatures the results need before they are published (empty:
        the server's default); logged."""
        raw = data.get("min_witnesses", "").strip()
        known = len(request.app.state.log_feed.witnesses)
        error = raw and _not_whole("min_witnesses", raw, f"at most {known} witnesses", 4)
        if error:
            return await self._detail(request, db_session, code, 422, error=error)
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session) -> None:
            exam = session.scalar(select(Exam).where(Exam.code == code).with_for_update())
            if exam is None:
                raise NotFoundException(f"no exam {code}")
            value = int(raw) if raw else None
            committee.set_min_witnesses(session, exam, value, known, user.id, now)

        return await self._change(request, db_session, code, run, "witnesses#witnesses")

    async def _change(
        self, request: Request, db_session: DbSession, code: str, run, notice: str
    ) -> Response:
        """Run the write ``run(session)``; a refusal shows on the exam's page with its
        reason, success goes back to it with ``notice``."""
        try:
            await written(db_session, run)
        except delivery.DeliveryError as exc:
            await db_session.rollback()
            return await self._detail(request, db_session, code, status_of(exc), error=exc.reason)
        await db_session.commit()
        return Redirect(f"/committee/exams/{code}?notice={notice}", status_code=303)

    # -- enrollment ------------------------------------------------------------------------

    @post("/{code:str}/enroll", name="exams-enroll")
    async def enroll(
        self,
        request: Request,
        db_session: DbSession,
        code: FromPath[str],
        data: Annotated[EnrollForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Template:
        """Enroll the applicants of an uploaded CSV and show their login sheet; every
        problem is listed with its line and nobody is enrolled while there is one."""
        exam = await _exam(db_session, code)
        source = limits.upload_name(data.file.filename, "upload.csv")
        rows, problems = read_enrollment_csv(await data.file.read(), source)
        problems += await db_session.run_sync(
            lambda s: committee.enrollment_conflicts(s, exam, rows, source)
        )
        problems.sort(key=lambda p: int(p.where or 0))
        if problems:
            return await self._detail(
                request, db_session, code, 422, problems=problems, filename=source
            )
        regs = [r.registration_number for r in rows]
        existing = await db_session.run_sync(lambda s: committee.existing_applicants(s, regs))
        await db_session.commit()  # ends the read transaction; argon2 takes a while
        accounts = await _prepare_passwords(request, [r for r in regs if r not in existing])
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session):
            row = session.scalar(select(Exam).where(Exam.code == code))
            return committee.enroll_applicants(session, row, rows, accounts, user.id, now, source)

        try:
            credentials = await written(db_session, run)
        except delivery.DeliveryError as exc:  # enrolled by someone else meanwhile
            await db_session.rollback()
            return await self._detail(request, db_session, code, 422, error=exc.reason)
        await db_session.commit()
        return Template(
            "committee/login_sheet.html", context={"exam": exam, "credentials": credentials}
        )

    @post("/{code:str}/credentials", name="exams-credentials")
    async def credentials(
        self, request: Request, db_session: DbSession, code: FromPath[str], data: FormData
    ) -> Template:
        """New passwords and a new login sheet: for one applicant, or for every applicant
        who has not started yet."""
        exam = await _exam(db_session, code)
        reg = data.get("registration_number", "").strip()
        query = select(Enrollment.registration_number).where(Enrollment.exam_id == exam.id)
        if reg:
            query = query.where(Enrollment.registration_number == reg)
        else:
            started = select(Attempt.enrollment_id).where(Attempt.exam_id == exam.id)
            query = query.where(Enrollment.id.not_in(started))
        regs = list(await db_session.scalars(query.order_by(Enrollment.registration_number)))
        await db_session.commit()  # ends the read transaction; argon2 takes a while
        if not regs:
            error = f"{reg} is not enrolled" if reg else "every applicant has started"
            return await self._detail(request, db_session, code, 422, error=error)
        hashes = await _prepare_passwords(request, regs)
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session):
            row = session.scalar(select(Exam).where(Exam.code == code))
            return committee.reset_credentials(session, row, hashes, user.id, now)

        credentials = await written(db_session, run)
        await db_session.commit()
        return Template(
            "committee/login_sheet.html", context={"exam": exam, "credentials": credentials}
        )

    @post("/{code:str}/extra-time", name="exams-extra-time")
    async def extra_time(
        self, request: Request, db_session: DbSession, code: FromPath[str], data: FormData
    ) -> Response:
        """An accommodation: extra minutes for one applicant, logged."""
        reg = data.get("registration_number", "").strip()
        raw = data.get("minutes", "").strip()
        user: CurrentUser = request.user
        now = request.app.state.clock()
        error = _not_whole("minutes", raw, "extra time must be 0–600 minutes")
        if error:
            return await self._detail(request, db_session, code, 422, error=error)

        def run(session: Session) -> None:
            exam = session.scalar(select(Exam).where(Exam.code == code))
            enrollment = exam and session.scalar(
                select(Enrollment).where(
                    Enrollment.exam_id == exam.id, Enrollment.registration_number == reg
                )
            )
            if enrollment is None:
                raise delivery.DeliveryError(f"{reg} is not enrolled in {code}", Kind.INVALID)
            committee.set_extra_time(session, exam, enrollment, int(raw), user.id, now)

        return await self._change(request, db_session, code, run, f"extra_time&q={reg}")
