"""An exam's recorded answers as analysis data: the response matrix by pseudonym and item,
and the group attributes fairness analyses use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, Enrollment, Exam, Response
from itembank.models import Item, ItemVersion
from itembank.stats import ItemStats, item_statistics


@dataclass(frozen=True)
class ExamData:
    persons: list[str]
    items: list[str]
    matrix: np.ndarray  # persons × items, category, −1 = not given
    attributes: list[dict]
    pilots: set[str]


def exam_data(session: Session, code: str) -> ExamData:
    """Every answer of every attempt of exam ``code`` (operational and pilot items)."""
    exam = session.scalar(select(Exam).where(Exam.code == code))
    if exam is None:
        raise LookupError(f"no exam {code}")
    rows = session.execute(
        select(
            Enrollment.pseudonym,
            Enrollment.attributes,
            Response.item_id,
            Response.category,
            Response.pilot,
        )
        .join(Attempt, Attempt.enrollment_id == Enrollment.id)
        .join(Response, Response.attempt_id == Attempt.id)
        .where(Attempt.exam_id == exam.id)
        .order_by(Enrollment.pseudonym, Response.step)
    ).all()
    persons = sorted({r.pseudonym for r in rows})
    items = sorted({r.item_id for r in rows})
    p_index = {p: i for i, p in enumerate(persons)}
    i_index = {item: j for j, item in enumerate(items)}
    matrix = np.full((len(persons), len(items)), -1, dtype=np.int64)
    attributes: dict[str, dict] = {}
    for r in rows:
        matrix[p_index[r.pseudonym], i_index[r.item_id]] = r.category
        attributes[r.pseudonym] = r.attributes or {}
    return ExamData(
        persons,
        items,
        matrix,
        [attributes[p] for p in persons],
        {r.item_id for r in rows if r.pilot},
    )


def item_usage_statistics(session: Session, item_id: str) -> ItemStats | None:
    """Exposure, p-value and point-biserial of an item over every attempt that answered it
    (as an operational item). The rest score is the attempt's total over the other
    operational items of the same section; exposure is the share of the attempts in the
    exams that used the item."""
    hits = session.execute(
        select(Response.attempt_id, Response.section).where(
            Response.item_id == item_id, Response.pilot.is_(False)
        )
    ).all()
    if not hits:
        return None
    attempts = {a for a, _ in hits}
    section = {a: s for a, s in hits}
    rows = session.execute(
        select(Response.attempt_id, Response.section, Response.item_id, Response.category).where(
            Response.attempt_id.in_(attempts), Response.pilot.is_(False)
        )
    ).all()
    order = sorted(attempts)
    index = {a: k for k, a in enumerate(order)}
    scores = np.full((len(order), 2), -1, dtype=np.int64)  # the item, the rest
    scores[:, 1] = 0
    for r in rows:
        if r.section != section[r.attempt_id]:
            continue
        k = index[r.attempt_id]
        if r.item_id == item_id:
            scores[k, 0] = r.category
        else:
            scores[k, 1] += r.category
    exams = session.scalars(select(Attempt.exam_id).where(Attempt.id.in_(attempts))).all()
    population = session.scalar(
        select(func.count()).select_from(Attempt).where(Attempt.exam_id.in_(set(exams)))
    )
    version = session.scalar(
        select(ItemVersion)
        .join(Item, Item.id == ItemVersion.item_id)
        .where(Item.id == item_id, ItemVersion.version == Item.current_version)
    )
    top = len({p for p in (version.points or {}).values()}) - 1 if version.points else 1
    [stats] = item_statistics(scores[:, :1], [item_id], np.array([float(top)]))
    rest = scores[:, 1].astype(float)
    item = scores[:, 0].astype(float)
    r = float(np.corrcoef(item, rest)[0, 1]) if item.std() > 0 and rest.std() > 0 else float("nan")
    return ItemStats(item_id, stats.n, stats.n / max(population or 1, 1), stats.p_value, r)
