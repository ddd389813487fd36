"""Database models of accounts and web sessions (exams and attempts join them later)."""

from __future__ import annotations

from datetime import datetime

from advanced_alchemy.extensions.litestar.store import StoreModelMixin
from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from itembank.models import Base, utcnow

ROLES = ("applicant", "observer", "committee")


class User(Base):
    """An account. Applicants log in with their registration number as ``username``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), index=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(StoreModelMixin):
    """Server-side web sessions (advanced-alchemy's store model): in the database, so a
    restart logs nobody out and every worker sees every session."""

    __tablename__ = "web_sessions"
