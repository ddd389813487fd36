"""Settings from ``SELEKSI_`` environment variables (pydantic-settings)."""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class WitnessSetting(BaseModel):
    """A witness the log sends its checkpoints to (c2sp.org/tlog-witness)."""

    url: str = Field(description="The witness's submission prefix, e.g. http://witness:8100")
    key: str = Field(description="Its verifier key, name+hexid+base64(0x04 ‖ public key)")


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
    exposure_tolerance: float = Field(
        0.0,
        ge=0.0,
        le=0.5,
        description="How far above a section's r_max an item's exposure rate may be when "
        "Sympson-Hetter parameters are derived (0: at most r_max)",
    )
    sqlite_busy_timeout_ms: int = 10_000
    secret_key: str | None = Field(
        None, description="Secret for CSRF tokens; default: generated once in the data folder"
    )
    # OWASP's argon2id minimum (m = 19 MiB, t = 2, p = 1); docs/operations.md has the
    # measurement (benchmarks/passwords.py) behind it.
    argon2_time_cost: int = Field(2, ge=1, description="argon2id passes (tests use 1)")
    argon2_memory_kib: int = Field(19456, ge=8, description="argon2id memory in KiB (tests use 8)")
    login_free_failures: int = Field(
        3, ge=0, description="Failed logins of an account before each next try must wait"
    )
    login_first_delay_s: float = Field(
        2.0, gt=0, description="The first wait after the free failures; it doubles per failure"
    )
    login_max_delay_s: float = Field(300.0, gt=0, description="The longest wait between tries")
    login_lock_failures: int = Field(
        10,
        ge=1,
        description="Failed logins (since the last success) that lock the account until an "
        "operator unlocks it",
    )
    login_address_failures: int = Field(
        30,
        ge=1,
        description="Failed logins one address may have in a window before its tries wait "
        "(a registered test-site network has its own allowance)",
    )
    login_window_s: float = Field(
        900.0, gt=0, description="The window that failed logins of an address count in"
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of the reverse proxies whose "
        "X-Forwarded-For is believed, comma-separated; default none",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="Server log lines: text, or json (one JSON object per line)"
    )
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
    witnesses: list[WitnessSetting] = Field(
        default_factory=list,
        description='The known witnesses, as JSON: [{"url": "http://…", "key": "name+id+…"}]; '
        "each new checkpoint is sent to them for a cosignature",
    )
    min_witnesses: int = Field(
        0,
        ge=0,
        description="Cosignatures of known witnesses the results' checkpoint needs before "
        "results are published (an exam may set its own)",
    )
    rankings_max_age_s: float = Field(
        0.5,
        description="How old a live board (observers' page, public ranking) may be when "
        "served; each process builds at most one per exam in this time (0: always fresh)",
    )
    debug: bool = Field(False, description="Show error details (never in production)")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network (CIDR): {entry!r}") from None
        return value

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

    def witness_list(self):
        """The known witnesses: URL and verifier key (proctoring.cosignatures.Witness)."""
        from proctoring.cosign import parse_keys  # noqa: PLC0415
        from proctoring.cosignatures import Witness  # noqa: PLC0415

        keys = parse_keys(w.key for w in self.witnesses)
        return [Witness(w.url, key) for w, key in zip(self.witnesses, keys, strict=True)]

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'seleksi.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
