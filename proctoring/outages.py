"""Site outages: when does a room's (or a site's) loss of contact earn its applicants time
back, and how much. Pure functions, used by the server that credits the time
(``exam.usecases.rooms``) and by ``seleksi log verify``, which recomputes every credit from
the evidence the ``site_outage`` entry carries.

An exam page sends a heartbeat every few seconds. A *silence* is the time between two
contacts of one page (heartbeats or answers) that are further apart than ``gap_ms``. One
page going silent is one applicant's matter (a cable, a browser): the committee may grant
time by hand. A network failure at a test site silences many pages at once, so an *outage*
is a time during which at least ``needed(active)`` of a group's active applicants are silent
together: ``min_applicants`` and a share of them. Each applicant silent during the outage
is credited the part of their own silence inside it, at most ``max_credit_ms``.

The credit may exceed the real outage by up to one heartbeat interval (the silence runs
from the last contact before it), in the applicant's favour, as the server's own downtime
credit does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class OutageRules:
    """The thresholds, as settings give them (the share in thousandths, so the log carries
    integers only)."""

    share_permille: int = 500
    min_applicants: int = 3
    gap_ms: int = 30_000
    max_credit_ms: int = 30 * 60_000

    def needed(self, active: int) -> int:
        """How many of ``active`` applicants must be silent together (ceil of the share)."""
        return max(self.min_applicants, -(-active * self.share_permille // 1000))

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> OutageRules:
        return cls(
            **{
                k: int(d[k])
                for k in ("share_permille", "min_applicants", "gap_ms", "max_credit_ms")
            }
        )


@dataclass(frozen=True)
class Silence:
    """One page out of contact from ``start`` to ``end`` (milliseconds since the epoch)."""

    pseudonym: str
    start: int
    end: int


@dataclass(frozen=True)
class Credit:
    pseudonym: str
    start: int
    end: int
    credit_ms: int


@dataclass(frozen=True)
class Outage:
    """A time ``start``–``end`` when enough of ``active`` applicants were silent together,
    and what each silent one is credited."""

    start: int
    end: int
    active: int
    credits: tuple[Credit, ...]


def windows(silences: Iterable[Silence], active: int, rules: OutageRules) -> list[tuple[int, int]]:
    """The maximal times when at least ``rules.needed(active)`` silences overlap (only
    silences of at least ``gap_ms`` count), in order."""
    need = rules.needed(active)
    if active < need:
        return []
    points: list[tuple[int, int]] = []
    for s in silences:
        if s.end - s.start >= rules.gap_ms:
            points += [(s.start, 1), (s.end, -1)]
    points.sort(key=lambda p: (p[0], p[1]))  # an end before a start at the same instant
    out: list[tuple[int, int]] = []
    count, opened = 0, None
    for t, step in points:
        count += step
        if opened is None and count >= need:
            opened = t
        elif opened is not None and count < need:
            if t > opened:
                out.append((opened, t))
            opened = None
    return out


def credits(
    silences: Iterable[Silence], start: int, end: int, rules: OutageRules
) -> tuple[Credit, ...]:
    """Each counted silence overlapping ``start``–``end``, credited its overlap (capped)."""
    out = []
    for s in sorted(silences, key=lambda s: (s.pseudonym, s.start)):
        overlap = min(s.end, end) - max(s.start, start)
        if s.end - s.start >= rules.gap_ms and overlap > 0:
            out.append(Credit(s.pseudonym, s.start, s.end, min(overlap, rules.max_credit_ms)))
    return tuple(out)


def detect(silences: list[Silence], active: int, rules: OutageRules) -> list[Outage]:
    """The outages of one group (a room, or a site) of ``active`` applicants."""
    return [
        Outage(start, end, active, credits(silences, start, end, rules))
        for start, end in windows(silences, active, rules)
    ]


def entry_fields(site: str, room: str, outage: Outage, rules: OutageRules) -> dict:
    """The ``site_outage`` entry's fields: the group, the time, the evidence, the credits."""
    return {
        "site": site,
        "room": room,
        "from": outage.start,
        "to": outage.end,
        "active": outage.active,
        "lost_contact": len(outage.credits),
        "rules": rules.as_dict(),
        "lost": [asdict(c) for c in outage.credits],
    }


def check_entry(e: dict) -> list[str]:
    """Recompute a ``site_outage`` entry from its own evidence: the silences it lists make
    its time an outage under its rules, and each credit is the one the rule gives."""
    rules = OutageRules.from_dict(e["rules"])
    silences = [Silence(str(c["pseudonym"]), int(c["start"]), int(c["end"])) for c in e["lost"]]
    problems = []
    if (int(e["from"]), int(e["to"])) not in windows(silences, int(e["active"]), rules):
        problems.append(
            f"{len(silences)} of {e['active']} applicants silent do not make "
            f"{e['from']}–{e['to']} an outage under its rules"
        )
    expected = {
        c.pseudonym: c.credit_ms for c in credits(silences, int(e["from"]), int(e["to"]), rules)
    }
    for c in e["lost"]:
        if expected.get(c["pseudonym"]) != int(c["credit_ms"]):
            problems.append(
                f"{c['pseudonym']} credited {c['credit_ms']} ms, the rule gives "
                f"{expected.get(c['pseudonym'], 0)} ms"
            )
    if int(e["lost_contact"]) != len(silences):
        problems.append(f"lost_contact {e['lost_contact']} but {len(silences)} silences listed")
    return problems


def apply(e: dict, attempts: dict, add: Callable[[str], None]) -> None:
    """The verifier's part: check a ``site_outage`` or ``room_resumed`` entry and move the
    deadlines of the credited attempts still running. ``attempts`` maps (exam, pseudonym)
    to objects with ``deadline``, ``finished`` and ``answer_times``."""
    where = f"entry {e['_index']} ({e['type']})"
    if e["type"] == "room_resumed":
        pause_ms = int(e["to"]) - int(e["from"])
        if int(e["credit_ms"]) != pause_ms:
            add(f"{where}: credit {e['credit_ms']} ms for a pause of {pause_ms} ms")
        moved = [(p, int(e["credit_ms"])) for p in e["pseudonyms"]]
    else:
        for problem in check_entry(e):
            add(f"{where}: {problem}")
        moved = []
        for c in e["lost"]:
            a = attempts.get((e["exam"], c["pseudonym"]))
            if a is not None and any(int(c["start"]) < t < int(c["end"]) for t in a.answer_times):
                add(f"{where}: {c['pseudonym']} answered during the silence it is credited for")
            moved.append((c["pseudonym"], int(c["credit_ms"])))
    for pseudonym, credit in moved:
        a = attempts.get((e["exam"], pseudonym))
        if a is not None and not a.finished and a.deadline is not None:
            a.deadline += credit
