"""Results: the committee's preview and publication, the public results page with its
downloads, an applicant's certificate, and the page its QR code opens.

The public pages need no login. They show the published versions only (the first stays
visible after a new one), each with the checkpoint it was computed from and the SHA-256 of
its table; the certificate page checks in the browser that the publication entry is in the
signed log and that the applicant's row is in the table that entry commits to.
"""

from __future__ import annotations

import base64
import contextlib

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam import i18n
from exam.adapters.models import Exam
from exam.adapters.security import CurrentUser, applicant_only, committee_only
from exam.cat.blueprint import ExamConfig
from exam.documents import certificate_pdf, distribution_svg, results_pdf, table_rows
from exam.usecases import delivery, results
from exam.web.deps import DbSession, PathId, QueryVersion, enrolled, written
from proctoring import checkpoints, log
from proctoring.checkpoints import SignerRefusedError
from proctoring.note import format_proof


def _missing(lang: str, key: str, **values) -> NotFoundException:
    """A 404 in ``lang`` (English for the JSON API, the visitor's language for a page)."""
    return NotFoundException(i18n.translate(lang, key).format(**values))


def _exam(session: Session, code: str, lang: str = "en") -> Exam:
    exam = session.scalar(select(Exam).where(Exam.code == code))
    if exam is None:
        raise _missing(lang, "pub.no_exam", code=code)
    return exam


def _published(session: Session, code: str, version: int | None = None, lang: str = "en"):
    exam = _exam(session, code, lang)
    versions = results.publications(session, exam)
    if not versions:
        raise _missing(lang, "pub.not_published", code=code)
    chosen = (
        versions[-1]
        if version is None
        else next((p for p in versions if p.version == version), None)
    )
    if chosen is None:
        raise _missing(lang, "pub.no_version", code=code, version=version)
    return exam, versions, chosen


def _sections(exam: Exam) -> list[str]:
    return [s["name"] for s in exam.definition["sections"]]


def _grades(exam: Exam) -> dict[str, float | None]:
    return {s["name"]: s.get("passing_grade") for s in exam.definition["sections"]}


def _by_formation(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["formation"], []).append(r)
    return dict(sorted(out.items()))


async def _preview(db_session, code: str, error: str | None = None, status: int = 200) -> Template:
    def run(session: Session):
        exam = _exam(session, code)
        computed = results.compute(session, exam)
        return (
            exam,
            computed,
            results.publications(session, exam),
            results.count_absent(session, exam),
            ExamConfig.from_dict(exam.definition).ranking_rules(),
        )

    exam, computed, versions, absent, rules = await db_session.run_sync(run)
    return Template(
        "committee/results.html",
        status_code=status,
        context={
            "exam": exam,
            "formations": _by_formation(table_rows(computed.table)),
            "sections": computed.sections,
            "sha256": computed.sha256,
            "versions": versions,
            "absent": absent,
            "rules": rules,
            "error": error,
            "mismatches": computed.mismatches,
        },
    )


class CommitteeResults(Controller):
    path = "/committee/exams/{code:str}/results"
    guards = [committee_only]  # noqa: RUF012 (Litestar's controller attribute)
    include_in_schema = False

    @get("/", name="results-preview")
    async def preview(self, db_session: DbSession, code: FromPath[str]) -> Template:
        """The ranking as it would be published now, the rules above it, and the versions
        already published."""
        return await _preview(db_session, code)

    @post("/publish", name="results-publish")
    async def publish(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Response:
        user: CurrentUser = request.user
        now = request.app.state.clock()
        feed = request.app.state.log_feed
        signer = feed.signer
        keys = [w.key for w in feed.witnesses]
        if feed.witnesses:  # the witnesses see the log as it stands before it is judged
            with contextlib.suppress(SignerRefusedError):
                await feed.checkpoint_if_grown("results_witnessed")

        def run(session: Session) -> int:
            exam = session.scalar(select(Exam).where(Exam.code == code).with_for_update())
            if exam is None:
                raise NotFoundException(f"no exam {code}")
            return results.publish(
                session, exam, user.id, now, signer, keys, feed.min_witnesses
            ).version

        try:
            version = await written(db_session, run)
        except delivery.DeliveryError as exc:
            await db_session.rollback()
            return await _preview(db_session, code, exc.reason, 409)
        except SignerRefusedError as exc:  # nothing published: the log could not be signed
            await db_session.rollback()
            return await _preview(db_session, code, exc.reason, 503)
        await db_session.commit()
        return Redirect(f"/results/{code}?version={version}", status_code=303)


class PublicResults(Controller):
    path = "/results"
    include_in_schema = False

    @get("/{code:str}", name="results-public")
    async def page(
        self,
        request: Request,
        db_session: DbSession,
        code: FromPath[str],
        version: QueryVersion = None,
    ) -> Template:
        lang = i18n.lang_of(request)

        exam, versions, chosen = await db_session.run_sync(
            lambda s: _published(s, code, version, lang)
        )
        before = next((v for v in versions if v.version == chosen.version - 1), None)
        return Template(
            "results/public.html",
            context={
                "changes": results.changes(before.table_csv, chosen.table_csv) if before else [],
                "before": before,
                "exam": exam,
                "versions": versions,
                "p": chosen,
                "formations": _by_formation(table_rows(chosen.table_csv)),
                "sections": _sections(exam),
                "grades": _grades(exam),
                "latest": versions[-1],
            },
        )

    @get("/{code:str}/v/{version:int}/table.csv", name="results-csv", media_type="text/csv")
    async def table_csv(
        self, db_session: DbSession, code: FromPath[str], version: PathId
    ) -> Response:
        """The canonical table, byte for byte what its SHA-256 in the log covers."""
        _, _, p = await db_session.run_sync(lambda s: _published(s, code, version))
        return Response(
            p.table_csv,
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{code}-v{version}.csv"'},
        )

    @get("/{code:str}/v/{version:int}/table.pdf", name="results-pdf")
    async def table_pdf(
        self, db_session: DbSession, code: FromPath[str], version: PathId
    ) -> Response:
        exam, _, p = await db_session.run_sync(lambda s: _published(s, code, version))
        footer = (
            f"Versi {p.version}, dicatat di log audit indeks {p.log_index}; SHA-256 tabel "
            f"{p.table_sha256}; checkpoint ukuran {p.checkpoint_size}, akar {p.checkpoint_root}."
        )
        pdf = results_pdf(f"Hasil {exam.title}", p.table_csv, _sections(exam), footer)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"content-disposition": f'attachment; filename="{code}-v{version}.pdf"'},
        )

    @get("/{code:str}/v/{version:int}/distribution.svg", name="results-plot")
    async def distribution(
        self, db_session: DbSession, code: FromPath[str], version: PathId
    ) -> Response:
        exam, _, p = await db_session.run_sync(lambda s: _published(s, code, version))
        svg = distribution_svg(p.table_csv, _sections(exam), _grades(exam))
        return Response(svg, media_type="image/svg+xml")

    @get("/{code:str}/check/{pseudonym:str}", name="results-check")
    async def check(
        self, request: Request, db_session: DbSession, code: FromPath[str], pseudonym: FromPath[str]
    ) -> Template:
        """The certificate's QR target: the applicant's row in every published version,
        the publication's log entry and its inclusion proof against a signed checkpoint."""
        lang = i18n.lang_of(request)

        def run(session: Session):
            exam, versions, latest = _published(session, code, lang=lang)
            entry = log.entries(session, latest.log_index, latest.log_index + 1)[0].entry
            cp = checkpoints.at_least(session, latest.log_index + 1)
            proof = format_proof(
                latest.log_index,
                log.inclusion_proof(session, latest.log_index, cp.size),
                cp.note,
                extra=entry.encode(),
            )
            return exam, versions, latest, entry, proof

        exam, versions, latest, entry, proof = await db_session.run_sync(run)
        rows = [
            (
                p.version,
                next((r for r in table_rows(p.table_csv) if r["person_id"] == pseudonym), None),
            )
            for p in versions
        ]
        if all(r is None for _, r in rows):
            raise _missing(lang, "pub.not_in_results", pseudonym=pseudonym, code=code)
        return Template(
            "results/check.html",
            context={
                "exam": exam,
                "pseudonym": pseudonym,
                "rows": rows,
                "sections": _sections(exam),
                "latest": latest,
                "entry": entry,
                "proof": proof,
                "proof_b64": base64.b64encode(proof.encode()).decode(),
            },
        )


class ResultsApi(Controller):
    path = "/api/v1/exams"
    tags = ["results"]  # noqa: RUF012 (Litestar's controller attribute)

    @get("/{exam_code:str}/results")
    async def results_json(self, db_session: DbSession, exam_code: FromPath[str]) -> dict:
        """The published results (every version), each with the checkpoint it was computed
        from and the SHA-256 of its canonical table."""

        def run(session: Session):
            _, versions, _ = _published(session, exam_code)
            return versions

        versions = await db_session.run_sync(run)
        return {
            "exam": exam_code,
            "versions": [
                {
                    "version": p.version,
                    "log_index": p.log_index,
                    "table_sha256": p.table_sha256,
                    "checkpoint": {"size": p.checkpoint_size, "root": p.checkpoint_root},
                    "published_at": p.published_at.isoformat(),
                    "rows": table_rows(p.table_csv),
                }
                for p in versions
            ],
        }


class Certificate(Controller):
    path = "/exam"
    guards = [applicant_only]  # noqa: RUF012 (Litestar's controller attribute)
    include_in_schema = False

    @get("/{code:str}/certificate.pdf", name="exam-certificate")
    async def certificate(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Response:
        """The applicant's certificate of the latest published results, with a QR code of
        its verification page."""
        user: CurrentUser = request.user

        def run(session: Session):
            exam, enrollment = enrolled(session, user, code)
            _, _, latest = _published(session, code)
            return exam, enrollment, latest

        exam, enrollment, latest = await db_session.run_sync(run)
        row = next(
            (r for r in table_rows(latest.table_csv) if r["person_id"] == enrollment.pseudonym),
            None,
        )
        if row is None:
            raise NotFoundException("you are not in the published results")
        base = str(request.base_url).rstrip("/")
        url = f"{base}/results/{code}/check/{enrollment.pseudonym}"
        footer = (
            f"Hasil versi {latest.version}, log audit indeks {latest.log_index}, SHA-256 tabel "
            f"{latest.table_sha256}. Pindai kode QR atau buka alamat di atas untuk memeriksa; "
            "pemeriksaan luring: seleksi log verify."
        )
        pdf = certificate_pdf(
            f"Sertifikat hasil {exam.title}",
            enrollment.name,
            enrollment.pseudonym,
            row,
            _sections(exam),
            url,
            footer,
        )
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"content-disposition": f'attachment; filename="sertifikat-{code}.pdf"'},
        )
