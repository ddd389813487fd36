"""Settings from ``SELEKSI_`` environment variables (pydantic-settings)."""

from __future__ import annotations

import secrets
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
    points_correct: int = Field(
        5,
        ge=1,
        le=100,
        description="Points for a correct TWK/TIU answer in a new exam (each exam keeps "
        "its own in its definition)",
    )
    sqlite_busy_timeout_ms: int = 10_000
    secret_key: str | None = Field(
        None, description="Secret for CSRF tokens; default: generated once in the data folder"
    )
    argon2_time_cost: int = Field(3, description="argon2id passes (tests use 1)")
    argon2_memory_kib: int = Field(65536, description="argon2id memory in KiB (tests use 8)")
    login_attempts_per_minute: int = Field(10, description="Login attempts per client per minute")
    session_max_age_s: int = Field(12 * 3600, description="Web session lifetime")
    secure_cookies: bool = Field(False, description="Send cookies only over HTTPS")
    downtime_credit: bool = Field(
        True,
        description="Beat a heartbeat and credit downtime to running attempts at startup "
        "(off only for in-process tests that run on a fake clock)",
    )
    read_only: bool = Field(
        False,
        description="Serve observers and the public from a read replica: no migrations, "
        "heartbeat or checkpoint signing, and every request that would write gets 503",
    )
    gc_tuning: bool = Field(
        False,
        description="Freeze the heap built at startup and collect garbage less often "
        "(`seleksi serve` turns it on)",
    )
    heartbeat_s: float = Field(
        10.0, gt=0, le=300, description="How often an exam page tells the server it is connected"
    )
    contact_flush_s: float = Field(
        2.0,
        gt=0,
        description="How often each process writes the exam pages' contacts and looks for "
        "site outages",
    )
    outage_gap_s: float = Field(30.0, gt=0, description="A page silent this long has lost contact")
    outage_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="The share of a room's (or site's) active applicants that must lose "
        "contact together for the time to be credited automatically",
    )
    outage_min_applicants: int = Field(
        3,
        ge=2,
        description="At least this many must lose contact together (one alone is never "
        "credited automatically)",
    )
    outage_max_credit_s: int = Field(
        1800, ge=0, description="The most time one outage credits to one applicant"
    )
    outage_settle_s: float = Field(
        60.0,
        ge=0,
        description="How long after a page comes back the detection waits for the rest of "
        "its room before it decides",
    )
    language: str = Field("id", description="Default language: id or en")
    timezone: str = Field(
        "Asia/Jakarta", description="Time zone of the exam windows the committee enters (IANA)"
    )
    log_origin: str = Field(
        "seleksi.local/log",
        description="The audit log's name: the origin line of its checkpoints and its key name",
    )
    log_key_file: Path | None = Field(
        None, description="The log signing key; default log-signing.key in the data folder"
    )
    checkpoint_interval_s: float = Field(
        10.0, description="How often a growing log gets a new signed checkpoint"
    )
    rankings_max_age_s: float = Field(
        0.5,
        description="How old a live board (observers' page, public ranking) may be when "
        "served; each process builds at most one per exam in this time (0: always fresh)",
    )
    debug: bool = Field(False, description="Show error details (never in production)")

    def outage_rules(self):
        """The site-outage thresholds (``proctoring.outages``)."""
        from proctoring.outages import OutageRules  # noqa: PLC0415

        return OutageRules(
            share_permille=round(self.outage_share * 1000),
            min_applicants=self.outage_min_applicants,
            gap_ms=round(self.outage_gap_s * 1000),
            max_credit_ms=self.outage_max_credit_s * 1000,
        )

    def resolved_secret(self) -> str:
        """The configured secret, or one generated at first use and kept in the data
        folder (readable by the owner only)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def resolved_log_key_file(self) -> Path:
        return self.log_key_file or self.data_dir / "log-signing.key"

    def log_signer(self):
        """The log's signer, created at first use (proctoring.keys)."""
        from proctoring.keys import load_or_create  # noqa: PLC0415

        return load_or_create(self.resolved_log_key_file, self.log_origin)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'seleksi.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
