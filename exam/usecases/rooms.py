"""Test sites and rooms on exam day: the exam pages' contact, site outages credited
automatically, and the proctors' rooms (their view, pauses and resumes).

Contact: each process gathers the heartbeats and answers of the exam pages it serves and
writes them every few seconds (``record_contacts``): the attempt's last contact, and a
``ContactGap`` for a page that was silent longer than the rule's gap. ``credit_outages``
then looks at the gaps not yet decided, room by room and site by site, with the pure rule
of ``proctoring.outages``: when enough of a group were silent together, each gets their
silence inside that time back on their deadline, and a ``site_outage`` entry carries the
evidence, so ``seleksi log verify`` recomputes each credit. A gap nobody else shared is
decided too, with no credit: the committee can still grant time by hand.

The writers here expect a transaction begun as a writer (``ThreadedDb.write``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from exam.adapters.models import Attempt, ContactGap, Enrollment, Exam, ProctorRoom, RoomPause, User
from exam.errors import Kind
from exam.usecases.delivery import DeliveryError
from exam.usecases.events import event, ms
from proctoring import log, outages
from proctoring.outages import OutageRules, Silence

#: How many settle times the detection waits for pages still silent (see credit_outages).
STRAGGLERS = 5

# -- contact -------------------------------------------------------------------------------


def record_contacts(session: Session, contacts: dict[int, datetime], gap: timedelta) -> int:
    """Write the last contact of each attempt in ``contacts`` (attempt id → time), and a
    gap for each that was silent for ``gap`` or longer before it; returns the gaps found.
    Contacts older than the stored one (another process wrote a later one) change nothing.

    The rows are locked in id order (two processes' passes never wait on each other in a
    cycle) and written in one executemany."""
    if not contacts:
        return 0
    rows = session.execute(
        select(Attempt.id, Attempt.last_contact_at, Attempt.started_at)
        .where(Attempt.id.in_(list(contacts)), Attempt.status == "active")
        .order_by(Attempt.id)
        .with_for_update()
    ).all()
    found, later = 0, []
    for attempt_id, last, started in rows:
        t = contacts[attempt_id]
        before = last or started
        if last is not None and t <= last:
            continue
        if t - before >= gap:
            session.add(ContactGap(attempt_id=attempt_id, started_at=before, ended_at=t))
            found += 1
        later.append({"attempt": attempt_id, "at": t})
    if later:
        table = Attempt.__table__
        session.execute(
            table.update()
            .where(table.c.id == bindparam("attempt"))
            .values(last_contact_at=bindparam("at")),
            later,
        )
    return found


def deadlines(session: Session, attempt_ids: list[int]) -> dict[int, datetime]:
    """The deadline of each attempt of ``attempt_ids`` still running."""
    if not attempt_ids:
        return {}
    return dict(
        session.execute(
            select(Attempt.id, Attempt.deadline_at).where(
                Attempt.id.in_(attempt_ids), Attempt.status == "active"
            )
        ).all()
    )


@dataclass(frozen=True)
class _Gap:
    row: ContactGap
    attempt: Attempt
    pseudonym: str
    site: str
    room: str


def credit_outages(
    session: Session, now: datetime, rules: OutageRules, settle: timedelta
) -> list[log.Recorded]:
    """Decide the undecided gaps of every group that has settled; credit the outages
    found and log them. Returns the recorded ``site_outage`` entries."""
    rows = session.execute(
        select(ContactGap, Attempt, Enrollment.pseudonym, Enrollment.site, Enrollment.room)
        .join(Attempt, Attempt.id == ContactGap.attempt_id)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .where(ContactGap.decided.is_(False))
        .with_for_update(of=ContactGap)
    ).all()
    by_site: dict[tuple[int, str], list[_Gap]] = defaultdict(list)
    for gap, attempt, pseudonym, site, room in rows:
        if not site:  # no site: nothing to compare with, the committee decides
            gap.decided = True
            continue
        by_site[(attempt.exam_id, site)].append(_Gap(gap, attempt, pseudonym, site, room))
    recorded = []
    silent_before = now - timedelta(milliseconds=rules.gap_ms)
    for (exam_id, site), gaps in sorted(by_site.items()):
        latest = max(g.row.ended_at for g in gaps)
        earliest = min(g.row.started_at for g in gaps)
        still_silent = session.scalar(
            select(Attempt.id)
            .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
            .where(
                Attempt.exam_id == exam_id,
                Enrollment.site == site,
                Attempt.status == "active",
                Attempt.last_contact_at < silent_before,
                # silent since about the time the others were: maybe the same outage
                Attempt.last_contact_at < latest,
                Attempt.last_contact_at >= earliest - timedelta(milliseconds=rules.gap_ms),
            )
            .limit(1)
        )
        # Wait for the rest of the site to come back: a settle time after the last return,
        # and up to STRAGGLERS of them while some page silent since then is still away.
        waiting = STRAGGLERS * settle if still_silent is not None else settle
        if now - latest < waiting:
            continue
        code = session.scalar(select(Exam.code).where(Exam.id == exam_id))
        credited = _credit_site(session, exam_id, code, site, gaps, rules, now)
        if credited is not None:
            recorded.append(credited)
        for g in gaps:
            g.row.decided = True
    return recorded


def _active(session: Session, exam_id: int, site: str, room: str | None, at: datetime) -> int:
    """How many of the group's attempts were running at ``at``."""
    query = (
        select(Attempt.id)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .where(
            Attempt.exam_id == exam_id,
            Enrollment.site == site,
            Attempt.started_at <= at,
            or_(Attempt.finished_at.is_(None), Attempt.finished_at > at),
        )
    )
    if room is not None:
        query = query.where(Enrollment.room == room)
    return len(session.scalars(query).all())


def _credit_site(session, exam_id, code, site, gaps, rules, now) -> log.Recorded | None:
    """Rooms first; then the site as a whole, on the gaps no room's outage credited."""
    rooms: dict[str, list[_Gap]] = defaultdict(list)
    for g in gaps:
        if g.room:
            rooms[g.room].append(g)
    groups = [(room, rooms[room]) for room in sorted(rooms)] + [(None, gaps)]
    credited: set[int] = set()
    entries, indexed = [], []
    for room, group in groups:
        members = [g for g in group if g.row.id not in credited]
        if not members:
            continue
        # Running when the last of them went silent (and at least the silent ones).
        at = max(g.row.started_at for g in members)
        active = max(
            _active(session, exam_id, site, room, at), len({g.attempt.id for g in members})
        )
        silences = [Silence(g.pseudonym, ms(g.row.started_at), ms(g.row.ended_at)) for g in members]
        for outage in outages.detect(silences, active, rules):
            by_pseudonym = {c.pseudonym: c for c in outage.credits}
            for g in members:
                c = by_pseudonym.get(g.pseudonym)
                if c is None or c.start != ms(g.row.started_at):
                    continue
                credited.add(g.row.id)
                indexed.append((len(entries), g.row))
                if g.attempt.status == "active":
                    g.attempt.deadline_at += timedelta(milliseconds=c.credit_ms)
            fields = outages.entry_fields(site, room or "", outage, rules)
            entries.append(event("site_outage", code, now, **fields))
    if not entries:
        return None

    def credited_by(indices: list[int]) -> None:
        for position, row in indexed:
            row.log_index = indices[position]

    return log.record(session, entries, then=credited_by)


# -- proctors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seat:
    """One applicant as the proctor sees them: never an item, a key or a score."""

    registration_number: str
    name: str
    status: str  # not_logged_in, logged_in, in_exam, finished
    item_number: int | None
    connected: bool | None


@dataclass(frozen=True)
class RoomView:
    exam: str
    exam_title: str
    site: str
    room: str
    paused_since: datetime | None
    seats: tuple[Seat, ...]


def proctor_rooms(session: Session, user_id: int) -> list[tuple[str, str]]:
    """The (site, room) pairs a proctor is bound to; an empty room is the whole site."""
    return [
        (r.site, r.room)
        for r in session.scalars(
            select(ProctorRoom).where(ProctorRoom.user_id == user_id).order_by(ProctorRoom.id)
        )
    ]


def bind_proctor(session: Session, user: User, places: list[tuple[str, str]]) -> None:
    """Bind ``user`` (a proctor) to ``places``, replacing what it had."""
    for row in session.scalars(select(ProctorRoom).where(ProctorRoom.user_id == user.id)):
        session.delete(row)
    session.flush()
    for site, room in dict.fromkeys(places):
        session.add(ProctorRoom(user_id=user.id, site=site, room=room))


def _watches(places: list[tuple[str, str]], site: str, room: str) -> bool:
    return any(s == site and r in ("", room) for s, r in places)


def room_views(session: Session, user_id: int, now: datetime, connected_s: float) -> list[RoomView]:
    """Every room of the proctor's places, per open exam, with its applicants."""
    places = proctor_rooms(session, user_id)
    if not places:
        return []
    where = or_(
        *(
            and_(Enrollment.site == s, Enrollment.room == r) if r else Enrollment.site == s
            for s, r in places
        )
    )
    rows = session.execute(
        select(Enrollment, Exam.code, Exam.title, User.current_session, Attempt)
        .join(Exam, Exam.id == Enrollment.exam_id)
        .join(User, User.id == Enrollment.user_id)
        .outerjoin(Attempt, Attempt.enrollment_id == Enrollment.id)
        .where(where, Exam.status == "open")
        .order_by(Exam.code, Enrollment.site, Enrollment.room, Enrollment.registration_number)
    ).all()
    pauses = {
        (p.exam_id, p.site, p.room): p.paused_at
        for p in session.scalars(select(RoomPause).where(RoomPause.resumed_at.is_(None)))
    }
    rooms: dict[tuple, list[Seat]] = defaultdict(list)
    titles: dict[str, tuple[str, int]] = {}
    for enrollment, code, title, live_session, attempt in rows:
        titles[code] = (title, enrollment.exam_id)
        rooms[(code, enrollment.site, enrollment.room)].append(
            _seat(enrollment, live_session, attempt, now, connected_s)
        )
    return [
        RoomView(
            code,
            titles[code][0],
            site,
            room,
            pauses.get((titles[code][1], site, room)),
            tuple(seats),
        )
        for (code, site, room), seats in rooms.items()
    ]


def _seat(enrollment, live_session, attempt, now, connected_s) -> Seat:
    if attempt is not None and attempt.status != "active":
        status, number, connected = "finished", None, None
    elif attempt is not None:
        last = attempt.last_contact_at or attempt.started_at
        status, number = "in_exam", attempt.step + 1
        connected = (now - last).total_seconds() <= connected_s
    else:
        status = "logged_in" if live_session else "not_logged_in"
        number, connected = None, None
    return Seat(enrollment.registration_number, enrollment.name, status, number, connected)


def check_room(session: Session, user_id: int, code: str, site: str, room: str) -> Exam:
    """The open exam ``code``, if the proctor watches ``site``/``room``; else refused."""
    if not _watches(proctor_rooms(session, user_id), site, room):
        raise DeliveryError(f"room {site}/{room} is not one of yours", Kind.FORBIDDEN)
    exam = session.scalar(select(Exam).where(Exam.code == code))
    if exam is None or exam.status != "open":
        raise DeliveryError(f"exam {code} is not open", Kind.NOT_FOUND)
    return exam


def _room_attempts(session: Session, exam: Exam, site: str, room: str):
    return session.execute(
        select(Attempt, Enrollment.pseudonym)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .where(
            Attempt.exam_id == exam.id,
            Enrollment.site == site,
            Enrollment.room == room,
            Attempt.status == "active",
        )
        .order_by(Enrollment.pseudonym)
        .with_for_update(of=Attempt)
    ).all()


def pause_room(
    session: Session, user_id: int, code: str, site: str, room: str, now: datetime
) -> log.Recorded:
    """Pause a room's exam (logged); its time is credited at the resume."""
    exam = check_room(session, user_id, code, site, room)
    if _open_pause(session, exam, site, room) is not None:
        raise DeliveryError(f"room {site}/{room} is already paused")
    session.add(RoomPause(exam_id=exam.id, site=site, room=room, paused_at=now, by=user_id))
    return log.record(session, [event("room_paused", code, now, site=site, room=room, by=user_id)])


def resume_room(
    session: Session, user_id: int, code: str, site: str, room: str, now: datetime
) -> log.Recorded:
    """Resume a paused room: every running attempt of it gets the pause's time back."""
    exam = check_room(session, user_id, code, site, room)
    pause = _open_pause(session, exam, site, room)
    if pause is None:
        raise DeliveryError(f"room {site}/{room} is not paused")
    pause.resumed_at = now
    credit = ms(now) - ms(pause.paused_at)
    pseudonyms = []
    for attempt, pseudonym in _room_attempts(session, exam, site, room):
        attempt.deadline_at += timedelta(milliseconds=credit)
        pseudonyms.append(pseudonym)
    fields = {"from": ms(pause.paused_at), "to": ms(now), "credit_ms": credit}
    entry = event(
        "room_resumed", code, now, site=site, room=room, by=user_id, pseudonyms=pseudonyms, **fields
    )
    return log.record(session, [entry])


def _open_pause(session: Session, exam: Exam, site: str, room: str) -> RoomPause | None:
    return session.scalar(
        select(RoomPause)
        .where(
            RoomPause.exam_id == exam.id,
            RoomPause.site == site,
            RoomPause.room == room,
            RoomPause.resumed_at.is_(None),
        )
        .with_for_update()
    )


def paused_rooms(session: Session) -> set[tuple[int, str, str]]:
    """(exam id, site, room) of every room paused now."""
    return {
        (p.exam_id, p.site, p.room)
        for p in session.scalars(select(RoomPause).where(RoomPause.resumed_at.is_(None)))
    }
