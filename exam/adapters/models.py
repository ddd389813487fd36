"""Database models of accounts, web sessions, exams, enrollments, attempts and answers."""

from __future__ import annotations

from datetime import datetime

from advanced_alchemy.extensions.litestar.store import StoreModelMixin
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from itembank.models import Base, utcnow

ROLES = ("applicant", "observer", "committee", "proctor")


class User(Base):
    """An account. Applicants log in with their registration number as ``username``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), index=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    #: The id of the account's live web session: a new login takes over from it.
    current_session: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Counts the account's password changes. A session remembers the count it logged in
    #: under and ends when the count moves on (``exam.adapters.security.end_sessions``).
    credentials_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Failed logins since the last successful one (or the last unlock), and when the
    #: latest was: they set the wait before the next try (``exam.usecases.login_access``).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failed_at: Mapped[datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), nullable=True
    )
    #: Set when failed logins locked the account; an operator clears it.
    locked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class WebSession(StoreModelMixin):
    """Server-side web sessions (advanced-alchemy's store model): in the database, so a
    restart logs nobody out and every worker sees every session."""

    __tablename__ = "web_sessions"

    #: The logged-in account and its ``credentials_version`` at login (none for an
    #: anonymous session): the store's read compares them with the account's.
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    credentials_version: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Exam(Base):
    """An exam: its definition (sections, rules), the bank snapshot it runs on, and its
    secrets — the seed of every random choice (published only after the exam closes)
    and the key of applicants' pseudonyms."""

    __tablename__ = "exams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    definition: Mapped[dict] = mapped_column(JSON)
    #: Every item of the exam as opened (hundreds of kilobytes of JSON). Loaded only when
    #: read, which is once per process, to compile the exam (``exam.adapters.runtime``): decoding it
    #: with every exam row made the public ranking and each start parse the whole bank.
    bank_snapshot: Mapped[dict | None] = mapped_column(JSON, nullable=True, deferred=True)
    #: The snapshot's hash (``bank_snapshot["hash"]``) in a column of its own: the answer
    #: path reads it to find the compiled exam, and extracting it from the JSON made
    #: PostgreSQL read the whole (TOASTed) snapshot on every answer.
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    seed_hex: Mapped[str] = mapped_column(String(64))
    pseudonym_key_hex: Mapped[str] = mapped_column(String(64))
    opens_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    closes_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    #: Witness cosignatures the results' checkpoint needs before they may be published;
    #: None: the server's default (``SELEKSI_MIN_WITNESSES``).
    min_witnesses: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Enrollment(Base):
    """An applicant registered for an exam, with what fairness analyses group by."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("exam_id", "user_id"),
        UniqueConstraint("exam_id", "registration_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    registration_number: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    formation: Mapped[str] = mapped_column(String(200), default="")
    track: Mapped[str] = mapped_column(String(64), default="")
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    extra_time_s: Mapped[int] = mapped_column(Integer, default=0)
    pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    #: The test site and the room where the applicant sits (empty when not given): site
    #: outages are detected per room and per site, and proctors see their rooms.
    site: Mapped[str] = mapped_column(String(64), default="", server_default="")
    room: Mapped[str] = mapped_column(String(64), default="", server_default="")


class Attempt(Base):
    """One applicant's sitting of an exam. ``state`` is the engine state of the current
    section; the deadline is kept on the server."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    deadline_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    section_index: Mapped[int] = mapped_column(Integer, default=0)
    section_started_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    step: Mapped[int] = mapped_column(Integer, default=0)
    #: The first step of the current section (a fixed section serves its whole form from
    #: here at once, see ``exam.cat.fixed``).
    section_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The steps of the current fixed section the applicant marked "ragu-ragu".
    marked: Mapped[list | None] = mapped_column(JSON, nullable=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    served_item: Mapped[str | None] = mapped_column(String(64), nullable=True)
    served_pilot: Mapped[bool] = mapped_column(Boolean, default=False)
    served_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    finish_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    results: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: The exam page's last heartbeat or answer that reached the server (``exam.usecases.rooms``).
    last_contact_at: Mapped[datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), nullable=True
    )


class Response(Base):
    """One answer: the step it answers, the item version served, the choice and its
    category, and the audit-log index that is the applicant's receipt."""

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("attempt_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    item_version: Mapped[int] = mapped_column(Integer)
    pilot: Mapped[bool] = mapped_column(Boolean, default=False)
    choice: Mapped[str] = mapped_column(String(8))
    category: Mapped[int] = mapped_column(Integer)
    served_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    answered_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    log_index: Mapped[int] = mapped_column(BigInteger)
    #: The reply's next step (None when this answer ended the attempt), so the same
    #: answer sent again gets the same reply, even after the attempt has finished.
    next_step: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Publication(Base):
    """One published version of an exam's results: the canonical table (CSV text), its
    SHA-256, the log entry that published it and the checkpoint it was computed from."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("exam_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    table_csv: Mapped[str] = mapped_column(Text)
    table_sha256: Mapped[str] = mapped_column(String(64))
    checkpoint_size: Mapped[int] = mapped_column(BigInteger)
    checkpoint_root: Mapped[str] = mapped_column(String(64))
    log_index: Mapped[int] = mapped_column(BigInteger)
    published_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class Appeal(Base):
    """An applicant's appeal ("sanggahan") against published results, and the committee's
    answer. The log carries both steps (the texts by SHA-256 only: they may name people)."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    references: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="filed")
    answer: Mapped[str] = mapped_column(Text, default="")
    filed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    log_index: Mapped[int] = mapped_column(BigInteger)
    answer_log_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ForensicSettings(Base):
    """The committee's screening choices for an exam: the false discovery rate level and
    the items marked as possibly compromised (``proctoring.screening``)."""

    __tablename__ = "forensic_settings"

    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), primary_key=True)
    level: Mapped[float] = mapped_column(Float, default=0.05)
    compromised: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class ForensicFlag(Base):
    """A flag raised by the screening, once per statistic, section and applicant (or pair).
    ``document`` is the canonical JSON of the flag and its evidence; the log holds its
    SHA-256 (``commitment``). ``status`` is ``open`` until the committee decides."""

    __tablename__ = "forensic_flags"
    __table_args__ = (UniqueConstraint("exam_id", "kind", "section", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    section: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    pseudonyms: Mapped[list] = mapped_column(JSON)
    statistic: Mapped[float | None] = mapped_column(Float, nullable=True)
    p_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    q_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    document: Mapped[str] = mapped_column(Text)
    commitment: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    raised_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    log_index: Mapped[int] = mapped_column(BigInteger)


class FlagReview(Base):
    """A note on a flag (observers and committee) or the committee's decision with its
    reason. The log carries each one with the text's SHA-256 (texts may name people)."""

    __tablename__ = "flag_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("forensic_flags.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16), default="")
    text: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    log_index: Mapped[int] = mapped_column(BigInteger)


class Heartbeat(Base):
    """When the service last showed it was up (one row, id 1), refreshed every few seconds
    by every server process. At startup a gap since the last beat is downtime, and it is
    credited to the attempts that were running (``exam.usecases.downtime``)."""

    __tablename__ = "heartbeat"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    beat_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class AddressFailures(Base):
    """Failed logins from one client address in the current window (successful logins
    are never counted)."""

    __tablename__ = "login_address_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    failures: Mapped[int] = mapped_column(Integer)


class LoginNetwork(Base):
    """A test site's network (CIDR) that the committee registered: each of its addresses
    may have ``allowance`` failed logins per window instead of the default."""

    __tablename__ = "login_networks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cidr: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    allowance: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


class ContactGap(Base):
    """A time an exam page was out of contact: from its last heartbeat before the silence
    to the first after it. ``decided`` once the outage detection has looked at it;
    ``log_index`` is the ``site_outage`` entry that credited it, if one did."""

    __tablename__ = "contact_gaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    decided: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    log_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ProctorRoom(Base):
    """A room (or, with an empty ``room``, a whole site) a proctor account watches."""

    __tablename__ = "proctor_rooms"
    __table_args__ = (UniqueConstraint("user_id", "site", "room"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    site: Mapped[str] = mapped_column(String(64))
    room: Mapped[str] = mapped_column(String(64), default="")


class RoomPause(Base):
    """A proctor's pause of a room's exam; the time until the resume is credited."""

    __tablename__ = "room_pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"), index=True)
    site: Mapped[str] = mapped_column(String(64))
    room: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    resumed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    by: Mapped[int] = mapped_column(Integer)
