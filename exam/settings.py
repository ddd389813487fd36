"""Settings from ``SELEKSI_`` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting has a ``SELEKSI_`` environment variable, e.g. SELEKSI_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="SELEKSI_", env_file=None, extra="ignore")

    data_dir: Path = Field(Path("seleksi-data"), description="Data folder (SQLite, keys)")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default SQLite in the data folder. "
        "postgresql+asyncpg://… or postgresql+psycopg://… selects PostgreSQL.",
    )
    points_correct: int = Field(5, description="Points for a correct TWK/TIU answer")
    sqlite_busy_timeout_ms: int = 10_000

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'seleksi.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
