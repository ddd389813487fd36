"""The committee's item-bank pages: browse and search, item detail, import by upload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from exam.adapters.database import WRITE
from exam.adapters.security import CurrentUser, committee_only
from exam.plots import information_curve_svg
from exam.usecases import committee
from exam.usecases.data import item_usage_statistics
from exam.web.deps import INT32_MAX, DbSession, PathId, bounded, written
from itembank import repository
from itembank.content import STATUSES, BankInputError
from itembank.models import DifFinding, Item, ItemEnemy, ItemVersion
from itembank.transfer import read_bank
from scoring import limits

PAGE_SIZE = 50


@dataclass
class ImportForm:
    file: UploadFile


@dataclass
class StatusForm:
    status: str


class CommitteeBank(Controller):
    path = "/committee/bank"
    include_in_schema = False
    guards = [committee_only]  # noqa: RUF012 (Litestar's controller attribute)

    @get("/", name="bank-list")
    async def list_items(
        self,
        request: HTMXRequest,
        db_session: DbSession,
        q: FromQuery[str] = "",
        domain: FromQuery[str] = "",
        status: FromQuery[str] = "",
        topic: FromQuery[str] = "",
        page: Annotated[int, bounded(QueryParameter, 1, INT32_MAX)] = 1,
    ) -> Template:
        """The bank as a searchable table (htmx swaps only the rows when filtering)."""
        query = select(Item, ItemVersion).join(
            ItemVersion,
            (ItemVersion.item_id == Item.id) & (ItemVersion.version == Item.current_version),
        )
        if q.strip():
            like = f"%{q.strip()}%"
            query = query.where(or_(Item.id.ilike(like), ItemVersion.stem.ilike(like)))
        if domain:
            query = query.where(Item.domain == domain)
        if status in STATUSES:
            query = query.where(Item.status == status)
        if topic:
            query = query.where(ItemVersion.topic == topic)
        total = await db_session.scalar(select(func.count()).select_from(query.subquery()))
        rows = (
            await db_session.execute(
                query.order_by(Item.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
            )
        ).all()
        ids = [item.id for item, _ in rows]
        dif = await _latest_dif(db_session, ids)
        domains = (
            await db_session.scalars(select(Item.domain).distinct().order_by(Item.domain))
        ).all()
        context = {
            "rows": rows,
            "dif": dif,
            "total": total,
            "page": page,
            "more": page * PAGE_SIZE < (total or 0),
            "filters": {"q": q, "domain": domain, "status": status, "topic": topic},
            "domains": domains,
            "statuses": STATUSES,
        }
        name = (
            "committee/_bank_rows.html"
            if request.htmx and not request.htmx.boosted
            else ("committee/bank.html")
        )
        return Template(name, context=context)

    @get("/items/{item_id:str}", name="bank-item")
    async def item_detail(self, db_session: DbSession, item_id: FromPath[str]) -> Template:
        item = await db_session.get(Item, item_id)
        if item is None:
            raise NotFoundException(f"no item {item_id}")
        versions = (
            await db_session.scalars(
                select(ItemVersion)
                .where(ItemVersion.item_id == item_id)
                .order_by(ItemVersion.version.desc())
            )
        ).all()
        enemies = (
            await db_session.scalars(
                select(ItemEnemy).where(
                    or_(ItemEnemy.item_a == item_id, ItemEnemy.item_b == item_id)
                )
            )
        ).all()
        findings = (
            await db_session.scalars(
                select(DifFinding)
                .where(DifFinding.item_id == item_id)
                .order_by(DifFinding.computed_at.desc())
            )
        ).all()
        current = versions[0]
        content = current.content(item.status)
        return Template(
            "committee/bank_item.html",
            context={
                "item": item,
                "content": content,
                "current": current,
                "versions": versions,
                "enemies": sorted(e.item_b if e.item_a == item_id else e.item_a for e in enemies),
                "findings": findings,
                "stats": await db_session.run_sync(lambda s: item_usage_statistics(s, item_id)),
            },
        )

    @get("/items/{item_id:str}/versions/{version:int}/information.svg", name="bank-item-curve")
    async def information_curve(
        self, db_session: DbSession, item_id: FromPath[str], version: PathId
    ) -> Response[bytes]:
        row = await db_session.scalar(
            select(ItemVersion).where(
                ItemVersion.item_id == item_id, ItemVersion.version == version
            )
        )
        if row is None or row.model is None:
            raise NotFoundException("no calibrated version")
        item = await db_session.get(Item, item_id)
        svg = information_curve_svg(row.content(item.status).spec())
        return Response(
            svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=86400"}
        )

    @post("/items/{item_id:str}/status", name="bank-item-status", status_code=303)
    async def set_status(
        self,
        request: Request,
        db_session: DbSession,
        item_id: FromPath[str],
        data: Annotated[StatusForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """Change an item's lifecycle status, e.g. promote a calibrated pilot to
        operational. An operational item must have IRT parameters."""
        await db_session.connection(execution_options={WRITE: True})
        item = await db_session.get(Item, item_id)
        if item is None:
            raise NotFoundException(f"no item {item_id}")
        if data.status not in STATUSES:
            raise ValidationException(f"status must be one of {', '.join(STATUSES)}")
        current = await db_session.scalar(
            select(ItemVersion).where(
                ItemVersion.item_id == item_id, ItemVersion.version == item.current_version
            )
        )
        if data.status == "operational" and current.model is None:
            raise ValidationException(
                "an operational item needs IRT parameters: calibrate it first"
            )
        item.status = data.status
        user: CurrentUser = request.user
        now = request.app.state.clock()
        await db_session.run_sync(
            lambda s: committee.log_item_status(s, item_id, data.status, user.id, now)
        )
        await db_session.commit()
        return Redirect(f"/committee/bank/items/{item_id}", status_code=303)

    @get("/import", name="bank-import-form")
    async def import_form(self) -> Template:
        return Template("committee/bank_import.html", context={"problems": [], "report": None})

    @post("/import", name="bank-import")
    async def import_upload(
        self,
        request: Request,
        db_session: DbSession,
        data: Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Template:
        """Import an uploaded bank file; every problem is shown and nothing is imported."""
        raw = await data.file.read()
        filename = limits.upload_name(data.file.filename, "upload")
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session) -> repository.ImportReport:
            located = read_bank(raw, filename, repository.known_item_ids(session))
            report = repository.import_items(session, located, located.assets)
            committee.log_bank_import(session, report, user.id, now)
            return report

        try:
            report = await written(db_session, run)
            # Commit before the response: the session store writes while it is sent,
            # and SQLite has one writer at a time.
            await db_session.commit()
        except BankInputError as exc:
            await db_session.rollback()
            return Template(
                "committee/bank_import.html",
                status_code=422,
                context={"problems": exc.problems, "report": None, "filename": filename},
            )
        return Template(
            "committee/bank_import.html",
            context={"problems": [], "report": report, "filename": filename},
        )


async def _latest_dif(session: AsyncSession, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(DifFinding.item_id, DifFinding.ets_class)
        .where(DifFinding.item_id.in_(ids))
        .order_by(DifFinding.computed_at)
    )
    return dict(rows.all())
