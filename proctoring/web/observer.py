"""The observers' pages and the public live ranking.

Observers (and committee members) see the live board per exam, the audit trail, the flags
with incident notes, and how to verify the log themselves. Everything they see comes from
the public log or is computed from pseudonymous rows, and every view states the log size it
reflects. Pages are server-rendered; ``static/observer.js`` follows the log's SSE stream,
refreshes the board within a second of an answer, and checks the latest checkpoint's
signature and its consistency with the last one it saw, in the browser, with WebCrypto.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from exam.adapters.models import Exam
from exam.adapters.security import CurrentUser, observer_or_committee
from exam.cat.blueprint import ExamConfig
from exam.usecases.score_check import checked_rows
from exam.web.deps import DbSession, written
from proctoring import checkpoints, cosignatures, incidents, log, signer_guard, zipapp
from proctoring.models import LogEntry
from proctoring.rankings import LiveRow, live_ranking
from proctoring.web.log_api import witness_summary

NOTE_MAX = 2000
#: Log entries that count as flags for human review.
FLAG_TYPES = ("proctoring", "client_changed")


@dataclass
class NoteForm:
    exam: str
    text: str
    pseudonym: str = ""


@dataclass(frozen=True)
class Board:
    exam: Exam
    sections: list[str]
    passing_grades: dict[str, float | None]
    rows: list[LiveRow]
    log_size: int


#: Site outages credited and proctors' pauses: shown with the flags, with their evidence.
ROOM_TYPES = ("site_outage", "room_paused", "room_resumed")


def _entries_of(session: Session, code: str, kind: str) -> list[dict]:
    """Entries of one type for one exam, parsed (a scan with LIKE: pages, not the hot path)."""
    rows = session.scalars(
        select(LogEntry.entry)
        .where(LogEntry.entry.like(f'%"type":"{kind}"%'))
        .where(LogEntry.entry.like(f'%"exam":"{code}"%'))
        .order_by(LogEntry.index)
    )
    return [e for e in map(json.loads, rows) if e["type"] == kind and e["exam"] == code]


#: Per exam (by its random seed): the log size counted up to, and the flags per pseudonym
#: up to there. The log is append-only, so each board reads only the entries added since
#: the last one (a smaller log, after a restore, is counted again).
_FLAG_COUNTS: dict[str, tuple[int, dict[str, int]]] = {}


def _flag_counts(session: Session, exam: Exam, size: int) -> dict[str, int]:
    code = exam.code
    counted, counts = _FLAG_COUNTS.get(exam.seed_hex, (0, {}))
    if size < counted:
        counted, counts = 0, {}
    if size > counted:
        counts = dict(counts)
        for kind in FLAG_TYPES:
            rows = session.scalars(
                select(LogEntry.entry)
                .where(LogEntry.index >= counted, LogEntry.index < size)
                .where(LogEntry.entry.like(f'%"type":"{kind}"%'))
                .where(LogEntry.entry.like(f'%"exam":"{code}"%'))
            )
            for e in map(json.loads, rows):
                if e["type"] == kind and e["exam"] == code:
                    counts[e["pseudonym"]] = counts.get(e["pseudonym"], 0) + 1
        _FLAG_COUNTS[exam.seed_hex] = (size, counts)
    return counts


def board(session: Session, code: str) -> Board:
    """The live ranking of exam ``code`` and the log size it reflects (one transaction)."""
    exam = session.scalar(select(Exam).where(Exam.code == code))
    if exam is None:
        raise NotFoundException(f"no exam {code}")
    config = ExamConfig.from_dict(exam.definition)
    grades = {s.name: s.passing_grade for s in config.sections}
    checked = checked_rows(session, exam)  # rows whose points differ from the log are withheld
    size = checked.logged.size
    flags = _flag_counts(session, exam, size)
    attempts = [
        (r.pseudonym, r.status, {name: v["points"] for name, v in r.results.items()})
        for r in checked.rows
    ]
    stored = {r.pseudonym for r in checked.rows}
    attempts += [(p, "finished", {}) for p in checked.mismatches if p not in stored]
    rows = live_ranking(attempts, grades, flags, mismatched=set(checked.mismatches))
    return Board(exam, list(grades), grades, rows, size)


class BoardCache:
    """The latest board of each exam, shared by every observer for ``max_age_s``.

    Each observer's page refreshes its board whenever the log grows, and the public
    ranking is polled: without this, a board's cost (every enrollment of the exam) is paid
    per observer and per answer. With it, a process builds at most one board per exam
    and ``max_age_s``, however many observers follow. A board states the log size it
    reflects, so a cached one is never passed off as newer than it is. One lock for all
    exams: a board is built rarely, and a lock per requested code would let anyone grow
    the table with made-up codes (the ranking is public). Litestar's response cache does
    not fit: it keeps whole responses (the pages carry the viewer's name), in whole
    seconds, and would build one board per route instead of one for all three.
    """

    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self.clock = clock
        self._boards: dict[str, tuple[float, Board]] = {}
        self._lock = asyncio.Lock()

    async def get(self, code: str, build: Callable[[], Awaitable[Board]]) -> Board:
        if self.max_age_s <= 0:
            return await build()
        async with self._lock:
            cached = self._boards.get(code)
            if cached is not None and self.clock() - cached[0] < self.max_age_s:
                return cached[1]
            built_at = self.clock()
            b = await build()  # an unknown exam raises: nothing is kept for it
            self._boards[code] = (built_at, b)
            return b


async def cached_board(request: Request, db_session: AsyncSession, code: str) -> Board:
    """The board of exam ``code``, at most ``rankings_max_age_s`` old."""
    return await request.app.state.boards.get(
        code, lambda: db_session.run_sync(lambda s: board(s, code))
    )


def board_json(b: Board) -> dict:
    return {
        "exam": b.exam.code,
        "log_size": b.log_size,
        "passing_grades": b.passing_grades,
        "rows": [
            {
                "rank": r.rank,
                "pseudonym": r.pseudonym,
                "status": r.status,
                "sections": None if r.mismatch else r.points,
                "total": None if r.mismatch else r.total,
                "passed": r.passed,
                "passed_all": r.passed_all,
                "flags": r.flags,
                "log_mismatch": r.mismatch,
            }
            for r in b.rows
        ],
    }


class RankingsApi(Controller):
    path = "/api/v1/exams"
    tags = ["audit log"]  # noqa: RUF012 (Litestar's controller attribute)

    @get("/{exam_code:str}/rankings")
    async def rankings(
        self, request: Request, db_session: DbSession, exam_code: FromPath[str]
    ) -> dict:
        """The live ranking (pseudonyms, section points, total, pass or fail against each
        passing grade, status, flags) and the log size it reflects (at most half a second old
        by default: ``SELEKSI_RANKINGS_MAX_AGE_S``). No login needed."""
        return board_json(await cached_board(request, db_session, exam_code))


class ObserverPages(Controller):
    path = "/observer"
    guards = [observer_or_committee]  # noqa: RUF012 (Litestar's controller attribute)
    include_in_schema = False

    @get("/", name="observer-home")
    async def home(self, db_session: DbSession) -> Template:
        exams = (
            await db_session.scalars(
                select(Exam).where(Exam.status != "draft").order_by(Exam.created_at.desc())
            )
        ).all()
        return Template("observer/home.html", context={"exams": exams})

    @get("/exams/{code:str}", name="observer-board")
    async def board_page(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Template:
        b = await cached_board(request, db_session, code)
        return Template("observer/board.html", context={"b": b})

    @get("/exams/{code:str}/board", name="observer-board-rows")
    async def board_rows(
        self, request: Request, db_session: DbSession, code: FromPath[str]
    ) -> Template:
        """The board's table alone (htmx refreshes it when the log grows)."""
        b = await cached_board(request, db_session, code)
        return Template("observer/_board.html", context={"b": b})

    @get("/trail", name="observer-trail")
    async def trail(self, db_session: DbSession, exam: FromQuery[str] = "") -> Template:
        size = await db_session.run_sync(log.size)
        return Template("observer/trail.html", context={"size": size, "exam": exam})

    @get("/flags", name="observer-flags")
    async def flags(self, db_session: DbSession, exam: FromQuery[str] = "") -> Template:
        """Proctoring events per applicant for human review, and the incident notes."""

        def run(session: Session):
            codes = list(session.scalars(select(Exam.code).where(Exam.status != "draft")))
            chosen = exam or (codes[0] if codes else "")
            events = (
                [e for k in FLAG_TYPES for e in _entries_of(session, chosen, k)] if chosen else []
            )
            notes = _entries_of(session, chosen, "incident_note") if chosen else []
            outages = [e for k in ROOM_TYPES for e in _entries_of(session, chosen, k)]
            outages.sort(key=lambda e: e["t"])
            return codes, chosen, events, (notes, outages), log.size(session)

        codes, chosen, events, (notes, outages), size = await db_session.run_sync(run)
        by_person: dict[str, list[dict]] = {}
        for e in events:
            by_person.setdefault(e["pseudonym"], []).append(e)
        return Template(
            "observer/flags.html",
            context={
                "codes": codes,
                "exam": chosen,
                "flags": sorted(by_person.items(), key=lambda kv: -len(kv[1])),
                "notes": notes,
                "outages": outages,
                "size": size,
            },
        )

    @post("/notes", name="observer-note")
    async def note(
        self,
        request: Request,
        db_session: DbSession,
        data: Annotated[NoteForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response:
        """An incident note: itself an entry of the audit log."""
        text = data.text.strip()
        if not text or len(text) > NOTE_MAX:
            raise ValidationException(f"text: write 1–{NOTE_MAX} characters")
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session) -> None:
            incidents.add_note(session, data.exam, user.id, user.role, text, data.pseudonym, now)

        await written(db_session, run)
        await db_session.commit()
        return Redirect(f"/observer/flags?exam={data.exam}", status_code=303)

    @get("/verify", name="observer-verify")
    async def verify(self, request: Request, db_session: DbSession) -> Template:
        latest = await db_session.run_sync(checkpoints.latest)
        alarm = signer_guard.current_alarm(request.app.state.log_feed.signer)
        note = latest.note if latest else None
        if alarm and alarm.get("remembered_checkpoint"):  # the last good one, not the db's
            note = alarm["remembered_checkpoint"]
        feed = request.app.state.log_feed
        if latest is not None and note == latest.note:  # served with its cosignatures
            note = await db_session.run_sync(
                lambda s: cosignatures.cosigned_note(s, latest.note, latest.size)
            )
        return Template(
            "observer/verify.html",
            context={
                "key": str(feed.signer.verifier),
                "note": note,
                "alarm": alarm,
                "base": str(request.base_url).rstrip("/"),
                "witnesses": await witness_summary(request, db_session),
                "witness_keys": [str(w.key) for w in feed.witnesses],
                "min_witnesses": feed.min_witnesses,
                "verifier_file": zipapp.FILENAME,
                "verifier_sha256": zipapp.sha256(),
                "requirements": _verifier_requirements(),
            },
        )


def _verifier_requirements() -> str:
    """The packages the single-file verifier needs, pinned to the versions this server runs
    (so the page's command installs versions known to give the server's verdict)."""
    from importlib.metadata import version  # noqa: PLC0415

    return " ".join(f"{name}=={version(name)}" for name in ("cryptography", "numpy"))
