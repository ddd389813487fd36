"""The item bank in the database: import (all or nothing), export, and the engine's view.

Import is idempotent by content hash: an unchanged item is left alone, a changed one gets
a new version (the old one stays, for replay and audit), a new one is created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from itembank.assets import Asset
from itembank.content import BankInputError, ItemContent, Problem, check_item
from itembank.models import DifFinding, Item, ItemAsset, ItemEnemy, ItemVersion, utcnow
from itembank.table import BankTable
from scoring.params import ItemParams

Located = tuple[ItemContent, str, str | None]


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)
    status_changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    enemy_pairs_added: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.created)} new, {len(self.new_versions)} new versions, "
            f"{len(self.status_changed)} status changes, {len(self.unchanged)} unchanged, "
            f"{self.enemy_pairs_added} enemy pairs added"
        )


def known_item_ids(session: Session) -> set[str]:
    return set(session.scalars(select(Item.id)))


def import_items(
    session: Session, located: Sequence[Located], assets: Mapping[str, Asset] | None = None
) -> ImportReport:
    """Apply validated items and the pictures they show (``assets``, by SHA-256) in the
    caller's transaction; raises BankInputError (and the caller rolls back) if an item
    conflicts with the bank, e.g. a changed domain, or shows a picture the bank lacks."""
    report = ImportReport()
    assets = assets or {}
    ids = [item.item_id for item, _, _ in located]
    existing = {
        i.id: i
        for i in session.scalars(
            select(Item).where(Item.id.in_(ids)).options(selectinload(Item.versions))
        )
    }
    problems = [
        Problem(
            source,
            where,
            "domain",
            f"item {item.item_id} is {existing[item.item_id].domain} in the bank; a domain "
            "cannot change (use a new id)",
        )
        for item, source, where in located
        if item.item_id in existing and existing[item.item_id].domain != item.domain
    ]
    known = set(ids) | set(session.scalars(select(Item.id)))
    problems += [
        Problem(source, where, "enemies", f"unknown item {enemy}")
        for item, source, where in located
        for enemy in item.enemies
        if enemy not in known
    ]
    wanted = {h for item, _, _ in located for h in item.asset_refs()}
    stored = set(session.scalars(select(ItemAsset.sha256).where(ItemAsset.sha256.in_(wanted))))
    problems += [
        Problem(source, where, None, f"picture asset:{h} is neither in the file nor in the bank")
        for item, source, where in located
        for h in item.asset_refs()
        if h not in stored and h not in assets
    ]
    if problems:
        raise BankInputError(problems)
    for digest in sorted(wanted - stored):
        a = assets[digest]
        session.add(
            ItemAsset(sha256=digest, media_type=a.media_type, size=len(a.data), data=a.data)
        )
    for item, _, _ in located:
        row = existing.get(item.item_id)
        digest = item.content_hash()
        if row is None:
            row = Item(id=item.item_id, domain=item.domain, status=item.status, current_version=1)
            row.versions.append(ItemVersion.from_content(item, 1))
            session.add(row)
            report.created.append(item.item_id)
            continue
        current = row.versions[-1]
        if current.content_hash != digest:
            version = current.version + 1
            row.versions.append(ItemVersion.from_content(item, version))
            row.current_version = version
            report.new_versions.append(item.item_id)
        elif row.status == item.status:
            report.unchanged.append(item.item_id)
        if row.status != item.status:
            row.status = item.status
            report.status_changed.append(item.item_id)
    session.flush()
    have = {(e.item_a, e.item_b) for e in session.scalars(select(ItemEnemy))}
    for item, _, _ in located:
        for enemy in item.enemies:
            pair = tuple(sorted((item.item_id, enemy)))
            if pair not in have:
                session.add(ItemEnemy(item_a=pair[0], item_b=pair[1]))
                have.add(pair)
                report.enemy_pairs_added += 1
    session.flush()
    return report


def assets_of(session: Session, items: Iterable[ItemContent]) -> dict[str, Asset]:
    """The stored pictures the items show, by SHA-256."""
    wanted = {h for item in items for h in item.asset_refs()}
    rows = session.scalars(select(ItemAsset).where(ItemAsset.sha256.in_(wanted)))
    return {r.sha256: Asset(r.sha256, r.media_type, r.data) for r in rows}


def enemies_by_item(session: Session) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in session.scalars(select(ItemEnemy)):
        out.setdefault(e.item_a, set()).add(e.item_b)
        out.setdefault(e.item_b, set()).add(e.item_a)
    return out


def current_items(
    session: Session,
    domains: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
) -> list[ItemContent]:
    """The current version of every item (optionally filtered), in id order."""
    query = select(ItemVersion).join(Item).where(ItemVersion.version == Item.current_version)
    if domains is not None:
        query = query.where(Item.domain.in_(list(domains)))
    if statuses is not None:
        query = query.where(Item.status.in_(list(statuses)))
    query = query.options(selectinload(ItemVersion.item)).order_by(Item.id)
    enemies = enemies_by_item(session)
    return [
        v.content(v.item.status, tuple(sorted(enemies.get(v.item_id, ()))))
        for v in session.scalars(query)
    ]


def bank_table(items: Sequence[ItemContent], points_correct: float) -> BankTable:
    """The engine's view of items that have IRT parameters; a correct answer to a keyed
    item earns ``points_correct`` (the exam's ``ExamConfig.points_correct``)."""
    usable = [i for i in items if i.has_params]
    params = ItemParams.from_specs([i.spec() for i in usable])
    width = params.max_categories if usable else 2
    points = np.full((len(usable), width), np.nan)
    for row, item in enumerate(usable):
        cats = item.category_points(points_correct)
        points[row, : len(cats)] = cats
    ids = {i.item_id for i in usable}
    pairs = {tuple(sorted((i.item_id, e))) for i in usable for e in i.enemies if e in ids}
    return BankTable(
        params,
        tuple(i.domain for i in usable),
        tuple(i.topic for i in usable),
        points,
        tuple(frozenset(p) for p in sorted(pairs)),
    )


DIF_FLAGGED = ("C", "CC")
DIF_DECISIONS = ("keep", "retire")


def record_dif(
    session: Session, results: Sequence, attribute: str, focal: str, source: str
) -> list[DifFinding]:
    """Store Mantel–Haenszel results for the current versions of the bank's items (items
    not in the bank are skipped)."""
    ids = [r.item_id for r in results]
    versions = dict(
        session.execute(select(Item.id, Item.current_version).where(Item.id.in_(ids))).all()
    )

    def num(x: float) -> float | None:
        return None if x is None or np.isnan(x) else float(x)

    rows = [
        DifFinding(
            item_id=r.item_id,
            item_version=versions[r.item_id],
            attribute=attribute,
            focal=focal,
            source=source,
            mh_odds_ratio=num(r.mh_odds_ratio),
            mh_d_dif=num(r.mh_d_dif),
            p_value=num(r.p_value),
            ets_class=r.ets_class,
        )
        for r in results
        if r.item_id in versions
    ]
    session.add_all(rows)
    session.flush()
    return rows


def decide_dif(
    session: Session, finding_id: int, decision: str, note: str, decided_by: str
) -> DifFinding:
    """Record the committee's decision on a finding; ``retire`` also retires the item."""
    if decision not in DIF_DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DIF_DECISIONS)}")
    if not note.strip():
        raise ValueError("a decision needs a note giving the reason")
    finding = session.get(DifFinding, finding_id)
    if finding is None:
        raise LookupError(f"no DIF finding {finding_id}")
    finding.decision, finding.decision_note = decision, note.strip()
    finding.decided_by, finding.decided_at = decided_by, utcnow()
    if decision == "retire":
        session.get(Item, finding.item_id).status = "retired"
    session.flush()
    return finding


def unresolved_dif(session: Session, item_ids: Iterable[str] | None = None) -> list[DifFinding]:
    """Class C findings on items' current versions that have no committee decision: such an
    item may not go into a live exam."""
    query = (
        select(DifFinding)
        .join(Item, Item.id == DifFinding.item_id)
        .where(
            DifFinding.ets_class.in_(DIF_FLAGGED),
            DifFinding.decision.is_(None),
            DifFinding.item_version == Item.current_version,
        )
        .order_by(DifFinding.item_id, DifFinding.id)
    )
    if item_ids is not None:
        query = query.where(DifFinding.item_id.in_(list(item_ids)))
    return list(session.scalars(query))


def apply_parameters(session: Session, params: ItemParams, source: str) -> ImportReport:
    """New versions of bank items with calibrated parameters (e.g. pilots after
    fixed-parameter calibration); raises BankInputError for unknown or unfit items."""
    current = {i.item_id: i for i in current_items(session)}
    unknown = [i for i in params.ids if i not in current]
    if unknown:
        raise BankInputError(
            [Problem(source, None, "item_id", f"not in the bank: {', '.join(unknown)}")]
        )
    located = [
        (current[params.ids[k]].with_params(params.spec(k)), source, params.ids[k])
        for k in range(len(params))
    ]
    problems = [p for item, src, where in located for p in check_item(item, src, where)]
    if problems:
        raise BankInputError(problems)
    return import_items(session, located)
