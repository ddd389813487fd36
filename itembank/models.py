"""Database models of the item bank (SQLAlchemy 2, typed).

An item keeps its identity (id, domain, lifecycle status, enemies); everything that
affects what an applicant sees or how an answer is scored lives in an immutable version.
An edit — new wording, a new key, new parameters after calibration — adds a version; old
versions stay for replay and audit, and the engine records which version it served.
"""

from __future__ import annotations

from datetime import UTC, datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from itembank.content import ItemContent, Option

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the application's tables (items, exams, attempts, users)."""

    metadata = MetaData(naming_convention=NAMING)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    domain: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="draft")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=utcnow, onupdate=utcnow
    )

    versions: Mapped[list[ItemVersion]] = relationship(
        back_populates="item", order_by="ItemVersion.version", cascade="all, delete-orphan"
    )


class ItemVersion(Base):
    """One immutable version of an item's content and parameters."""

    __tablename__ = "item_versions"
    __table_args__ = (UniqueConstraint("item_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    topic: Mapped[str] = mapped_column(String(64), index=True)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list] = mapped_column(JSON)
    correct: Mapped[str | None] = mapped_column(String(8), nullable=True)
    points: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    model: Mapped[str | None] = mapped_column(String(8), nullable=True)
    a: Mapped[float | None] = mapped_column(Float, nullable=True)
    b: Mapped[float | None] = mapped_column(Float, nullable=True)
    c: Mapped[float | None] = mapped_column(Float, nullable=True)
    steps: Mapped[list] = mapped_column(JSON, default=list)
    administered: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Stem and options are sanitised markup (itembank.markup), not plain text.
    markup: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)

    item: Mapped[Item] = relationship(back_populates="versions")

    def content(self, status: str, enemies: tuple[str, ...] = ()) -> ItemContent:
        return ItemContent(
            item_id=self.item_id,
            domain=self.item.domain,
            topic=self.topic,
            stem=self.stem,
            options=tuple(Option(o["key"], o["text"]) for o in self.options),
            correct=self.correct,
            points=tuple((k, int(v)) for k, v in (self.points or {}).items()),
            model=self.model,
            a=self.a,
            b=self.b,
            c=self.c,
            steps=tuple(self.steps or ()),
            tags=tuple(self.tags or ()),
            status=status,
            enemies=enemies,
            markup=self.markup,
        )

    @classmethod
    def from_content(cls, item: ItemContent, version: int) -> ItemVersion:
        return cls(
            item_id=item.item_id,
            version=version,
            content_hash=item.content_hash(),
            topic=item.topic,
            tags=list(item.tags),
            stem=item.stem,
            options=[{"key": o.key, "text": o.text} for o in item.options],
            correct=item.correct,
            points=dict(item.points) if item.points else None,
            model=item.model,
            a=item.a,
            b=item.b,
            c=item.c,
            steps=list(item.steps),
            markup=item.markup,
        )


class ItemAsset(Base):
    """A picture items show, named by the SHA-256 of its (sanitised) bytes: immutable,
    stored once however many items or versions show it."""

    __tablename__ = "item_assets"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class ItemEnemy(Base):
    """Two items no applicant may see both of (stored once, ``item_a`` < ``item_b``)."""

    __tablename__ = "item_enemies"

    item_a: Mapped[str] = mapped_column(ForeignKey("items.id"), primary_key=True)
    item_b: Mapped[str] = mapped_column(ForeignKey("items.id"), primary_key=True)


class DifFinding(Base):
    """A Mantel–Haenszel DIF result for one item and one group comparison, with the
    committee's decision where the item is flagged (ETS class C)."""

    __tablename__ = "dif_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    item_version: Mapped[int] = mapped_column(Integer)
    attribute: Mapped[str] = mapped_column(String(64))
    focal: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    mh_odds_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    mh_d_dif: Mapped[float | None] = mapped_column(Float, nullable=True)
    p_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    ets_class: Mapped[str] = mapped_column(String(2))
    computed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
