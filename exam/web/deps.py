"""Typed dependencies shared by the handlers."""

from typing import TypeAlias

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

#: The request's database session (advanced-alchemy's ``db_session``).
DbSession: TypeAlias = NamedDependency[AsyncSession]
