"""The committee's DIF pages: run Mantel–Haenszel on uploaded data, review flagged items.

A class C item (large DIF) cannot go into a live exam until the committee records a
decision with its reason: keep it (after review) or retire it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy import select

from exam.adapters.security import committee_only
from exam.web.deps import DbSession, PathId, written
from itembank import repository
from itembank.models import DifFinding
from scoring import limits
from scoring.dif import mantel_haenszel
from scoring.files import InputError, read_groups_csv, read_response_matrix


@dataclass
class DifForm:
    responses: UploadFile
    groups: UploadFile
    focal: str
    attribute: str = ""


@dataclass
class DecisionForm:
    decision: str
    note: str


async def _page(db_session, **extra) -> Template:
    def load(session):
        return repository.unresolved_dif(session), list(
            session.scalars(
                select(DifFinding)
                .order_by(DifFinding.computed_at.desc(), DifFinding.id.desc())
                .limit(200)
            )
        )

    unresolved, recent = await db_session.run_sync(load)
    context = {"unresolved": unresolved, "recent": recent, "error": None, "summary": None}
    context.update(extra)
    return Template(
        "committee/dif.html", context=context, status_code=422 if context["error"] else 200
    )


class CommitteeDif(Controller):
    path = "/committee/bank/dif"
    include_in_schema = False
    guards = [committee_only]  # noqa: RUF012 (Litestar's controller attribute)

    @get("/", name="dif-page")
    async def page(self, db_session: DbSession) -> Template:
        return await _page(db_session)

    @post("/", name="dif-run")
    async def run(
        self,
        db_session: DbSession,
        data: Annotated[DifForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Template:
        """Analyse uploaded responses by a group attribute and record the findings."""
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for folder, upload in (("responses", data.responses), ("groups", data.groups)):
                # one folder per upload: the two files may well have the same name
                path = Path(tmp, folder, limits.upload_name(upload.filename, f"{folder}.csv"))
                path.parent.mkdir()
                path.write_bytes(await upload.read())
                paths.append(path)
            try:
                persons, items, matrix = read_response_matrix(paths[0])
                attribute, groups = read_groups_csv(paths[1], persons, data.attribute or None)
            except InputError as exc:
                exc.path = Path(exc.path).name
                return await _page(db_session, error=str(exc))
        values = np.array([g or "" for g in groups], dtype=object)
        focal = values == data.focal
        reference = (values != data.focal) & (values != "")
        if not focal.any() or not reference.any():
            return await _page(
                db_session,
                error=f"{attribute}: need persons with {data.focal!r} and with another value",
            )
        results = mantel_haenszel(matrix, items, focal, reference)
        source = f"upload:{paths[0].name}"

        def store(session):
            return repository.record_dif(session, results, attribute, data.focal, source)

        stored = await written(db_session, store)
        await db_session.commit()
        flagged = sum(f.ets_class in repository.DIF_FLAGGED for f in stored)
        return await _page(
            db_session,
            summary=f"{len(stored)} items analysed "
            f"({attribute}: {data.focal} vs the rest); {flagged} in class C",
        )

    @post("/{finding_id:int}/decision", name="dif-decide", status_code=303)
    async def decide(
        self,
        request: Request,
        db_session: DbSession,
        finding_id: PathId,
        data: Annotated[DecisionForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect | Template:
        user = request.scope["user"]

        def apply(session):
            repository.decide_dif(session, finding_id, data.decision, data.note, user.username)

        try:
            await written(db_session, apply)
        except (ValueError, LookupError) as exc:
            await db_session.rollback()
            return await _page(db_session, error=str(exc))
        await db_session.commit()
        return Redirect("/committee/bank/dif/", status_code=303)
