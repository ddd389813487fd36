"""The committee's use cases: create and edit an exam, set its witness quorum, enroll
applicants, issue credentials, grant extra time, and the bank's changes.

Like ``exam.usecases.delivery``, each function takes a database session, the clock reading ``now``
and plain values, and appends its audit-log event in the caller's transaction. Log entries
name the committee member by account id (``by``) and applicants by pseudonym only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, Enrollment, Exam, User
from exam.adapters.runtime import pseudonym
from exam.cat.blueprint import ExamConfig
from exam.errors import Kind
from exam.usecases.builder import ExamForm
from exam.usecases.credentials import replace_passwords
from exam.usecases.delivery import DeliveryError, definition_sha256, enrolled_event, new_exam
from exam.usecases.enrollment import EnrollmentRow
from exam.usecases.events import event, ms
from itembank import repository
from itembank.content import Problem
from itembank.models import Item
from itembank.table import BankTable
from proctoring import log


def draft_bank(session: Session, config: ExamConfig) -> BankTable:
    """The operational, calibrated items of the exam's domains, scored by the draft's
    points, as opening would use them."""
    items = repository.current_items(session, {s.domain for s in config.sections}, ["operational"])
    return repository.bank_table(items, config.points_correct)  # (it keeps the calibrated ones)


def bank_domains(session: Session) -> list[str]:
    return list(session.scalars(select(Item.domain).distinct().order_by(Item.domain)))


def create_exam(session: Session, form: ExamForm, by: int, now: datetime) -> Exam:
    """A draft exam from the builder's form; refuses a code already in use."""
    if session.scalar(select(Exam.id).where(Exam.code == form.config.code)) is not None:
        raise DeliveryError(f"an exam with code {form.config.code} already exists")
    exam = new_exam(session, form.config)
    exam.opens_at, exam.closes_at = form.opens_at, form.closes_at
    log.record(session, [_exam_event("exam_created", exam, by, now)])
    return exam


def update_exam(session: Session, exam: Exam, form: ExamForm, by: int, now: datetime) -> None:
    """Change a draft; an open exam's definition is committed and stays as it is."""
    if exam.status != "draft":
        raise DeliveryError(f"exam {exam.code} is {exam.status}: its definition is fixed")
    if form.config.code != exam.code:
        raise DeliveryError("the exam code cannot change")
    form.config.validate()
    exam.title = form.config.title
    exam.definition = form.config.to_dict()
    exam.opens_at, exam.closes_at = form.opens_at, form.closes_at
    log.record(session, [_exam_event("exam_updated", exam, by, now)])


def _exam_event(kind: str, exam: Exam, by: int, now: datetime) -> dict:
    return event(
        kind,
        exam.code,
        now,
        by=by,
        definition_sha256=definition_sha256(exam.definition),
        opens_at=ms(exam.opens_at) if exam.opens_at else None,
        closes_at=ms(exam.closes_at) if exam.closes_at else None,
    )


def set_min_witnesses(
    session: Session, exam: Exam, value: int | None, known: int, by: int, now: datetime
) -> None:
    """Set how many cosignatures of the ``known`` witnesses the exam's results need before
    they are published (``None``: the server's SELEKSI_MIN_WITNESSES); logged. A later
    publication (a new version) follows the new number; a published one stays as it is."""
    if value is not None and not 0 <= value <= known:
        raise DeliveryError(
            f"min_witnesses: {value} is not between 0 and the {known} witnesses the server "
            "knows (SELEKSI_WITNESSES)",
            Kind.INVALID,
        )
    exam.min_witnesses = value
    log.record(session, [event("witness_quorum_set", exam.code, now, by=by, min_witnesses=value)])


# -- enrollment ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """One line of a login sheet. ``password`` is None for an account that already existed
    (its password is unchanged)."""

    registration_number: str
    name: str
    formation: str
    password: str | None


def enrollment_conflicts(
    session: Session, exam: Exam, rows: Sequence[EnrollmentRow], source: str
) -> list[Problem]:
    """Rows the database refuses: already enrolled, or a staff account's name."""
    regs = [r.registration_number for r in rows]
    enrolled = set(
        session.scalars(
            select(Enrollment.registration_number).where(
                Enrollment.exam_id == exam.id, Enrollment.registration_number.in_(regs)
            )
        )
    )
    staff = set(
        session.scalars(
            select(User.username).where(User.username.in_(regs), User.role != "applicant")
        )
    )
    problems = []
    for row in rows:
        reg = row.registration_number
        if reg in enrolled:
            message = f"{reg} is already enrolled in {exam.code}"
        elif reg in staff:
            message = f"{reg} is the name of a staff account"
        else:
            continue
        problems.append(Problem(source, str(row.line), "registration_number", message))
    return problems


def existing_applicants(session: Session, regs: Sequence[str]) -> set[str]:
    return set(
        session.scalars(
            select(User.username).where(User.username.in_(list(regs)), User.role == "applicant")
        )
    )


def enroll_applicants(
    session: Session,
    exam: Exam,
    rows: Sequence[EnrollmentRow],
    new_accounts: dict[str, tuple[str, str]],
    by: int,
    now: datetime,
    source: str,
) -> list[Credential]:
    """Enroll every row, creating the accounts in ``new_accounts`` (registration number →
    (password, its argon2 hash), hashed before the transaction because argon2 is slow on
    purpose). Raises DeliveryError with every conflicting line, enrolling nobody."""
    problems = enrollment_conflicts(session, exam, rows, source)
    if problems:
        raise DeliveryError("; ".join(map(str, problems)), Kind.INVALID)
    regs = [r.registration_number for r in rows]
    users = {u.username: u for u in session.scalars(select(User).where(User.username.in_(regs)))}
    missing = [r for r in regs if r not in users and r not in new_accounts]
    if missing:
        raise DeliveryError(f"no password prepared for {', '.join(missing)}", Kind.BROKEN)
    credentials, enrollments = [], []
    for row in rows:
        reg = row.registration_number
        password = None
        user = users.get(reg)
        if user is None:
            password, hashed = new_accounts[reg]
            user = User(username=reg, password_hash=hashed, role="applicant", display_name=row.name)
            session.add(user)
            session.flush()
        enrollment = Enrollment(
            exam_id=exam.id,
            user_id=user.id,
            registration_number=reg,
            name=row.name,
            formation=row.formation,
            track=row.track,
            attributes=row.attributes,
            extra_time_s=row.extra_time_s,
            site=row.site,
            room=row.room,
            pseudonym=pseudonym(bytes.fromhex(exam.pseudonym_key_hex), reg),
        )
        session.add(enrollment)
        enrollments.append(enrollment)
        credentials.append(Credential(reg, row.name, row.formation, password))
    session.flush()
    log.record(session, [enrolled_event(exam.code, now, by, enrollments)])
    return credentials


def reset_credentials(
    session: Session,
    exam: Exam,
    new_hashes: dict[str, tuple[str, str]],
    by: int,
    now: datetime,
) -> list[Credential]:
    """New passwords for the enrolled applicants in ``new_hashes`` (registration number →
    (password, hash)); their live sessions end, since a new sheet replaces the old one
    (whoever logged in with the old one is logged out). The log entry counts the sessions
    ended, per pseudonym."""
    rows = session.execute(
        select(Enrollment, User)
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.exam_id == exam.id, Enrollment.registration_number.in_(list(new_hashes)))
        .order_by(Enrollment.registration_number)
    ).all()
    credentials = []
    for enrollment, _ in rows:
        password, _ = new_hashes[enrollment.registration_number]
        credentials.append(
            Credential(
                enrollment.registration_number, enrollment.name, enrollment.formation, password
            )
        )
    changes = [(user, new_hashes[e.registration_number][1]) for e, user in rows]
    replace_passwords(session, changes, by, now, exam)
    return credentials


def set_extra_time(
    session: Session, exam: Exam, enrollment: Enrollment, minutes: int, by: int, now: datetime
) -> datetime | None:
    """Grant ``minutes`` of extra time (an accommodation). An attempt under way gets its
    deadline moved by the difference; a finished one is not reopened. Returns the attempt's
    new deadline, if it has one."""
    if not 0 <= minutes <= 600:
        raise DeliveryError("extra time must be 0–600 minutes", Kind.INVALID)
    attempt = session.scalar(
        select(Attempt).where(Attempt.enrollment_id == enrollment.id).with_for_update()
    )
    if attempt is not None and attempt.status != "active":
        raise DeliveryError(f"the attempt of {enrollment.registration_number} has finished")
    if attempt is not None and now >= attempt.deadline_at:
        raise DeliveryError(f"the time of {enrollment.registration_number} has already run out")
    delta = minutes * 60 - enrollment.extra_time_s
    if attempt is not None and attempt.deadline_at + timedelta(seconds=delta) <= now:
        raise DeliveryError(
            f"less extra time would end the attempt of {enrollment.registration_number} now"
        )
    enrollment.extra_time_s = minutes * 60
    deadline = None
    if attempt is not None:
        attempt.deadline_at = attempt.deadline_at + timedelta(seconds=delta)
        deadline = attempt.deadline_at
    log.record(
        session,
        [
            event(
                "extra_time_set",
                exam.code,
                now,
                by=by,
                pseudonym=enrollment.pseudonym,
                extra_time_s=enrollment.extra_time_s,
                deadline=ms(deadline) if deadline else None,
            )
        ],
    )
    return deadline


# -- the bank ------------------------------------------------------------------------------


def log_bank_import(
    session: Session, report: repository.ImportReport, by: int, now: datetime
) -> None:
    changed = sorted(report.created + report.new_versions + report.status_changed)
    log.record(
        session,
        [
            event(
                "bank_imported",
                "",
                now,
                by=by,
                created=len(report.created),
                new_versions=len(report.new_versions),
                status_changed=len(report.status_changed),
                items=changed,
            )
        ],
    )


def log_item_status(session: Session, item_id: str, status: str, by: int, now: datetime) -> None:
    log.record(session, [event("item_status_changed", "", now, by=by, item=item_id, status=status)])
