"""The site-outage rule (proctoring.outages): a room silent together is credited, one
applicant alone is not, credits are capped, and the verifier recomputes an entry."""

from types import SimpleNamespace

from proctoring.outages import OutageRules, Silence, apply, check_entry, detect, entry_fields

RULES = OutageRules(share_permille=500, min_applicants=3, gap_ms=30_000, max_credit_ms=600_000)
T = 1_800_000_000_000


def room(silent: int, start=T, length=120_000) -> list[Silence]:
    return [Silence(f"P{i}", start + i * 1000, start + i * 1000 + length) for i in range(silent)]


def test_a_room_silent_together_is_one_outage_credited_to_each():
    [outage] = detect(room(6), active=10, rules=RULES)
    # Five of ten must be silent together: from the fifth silence's start to the second end.
    assert (outage.start, outage.end) == (T + 4000, T + 121_000)
    assert len(outage.credits) == 6
    assert {c.credit_ms for c in outage.credits} == {
        min(s.end, outage.end) - max(s.start, outage.start) for s in room(6)
    }


def test_one_applicant_alone_or_too_few_get_nothing():
    assert detect(room(1), active=1, rules=RULES) == []
    assert detect(room(2), active=2, rules=RULES) == []  # below min_applicants
    assert detect(room(4), active=10, rules=RULES) == []  # below half the room
    short = room(6, length=20_000)  # silences shorter than the gap are no loss of contact
    assert detect(short, active=6, rules=RULES) == []


def test_the_credit_is_capped_and_separate_windows_stay_separate():
    long = detect(room(4, length=3_600_000), active=4, rules=RULES)
    assert [c.credit_ms for c in long[0].credits] == [600_000] * 4
    two = room(3) + [Silence(f"Q{i}", T + 900_000, T + 960_000) for i in range(3)]
    assert [(o.start, o.end) for o in detect(two, active=6, rules=RULES)] == [
        (T + 2000, T + 120_000),
        (T + 900_000, T + 960_000),
    ]


def entry_of(silences, active):
    [outage] = detect(silences, active, RULES)
    return {
        "type": "site_outage",
        "exam": "UJI",
        "_index": 7,
        **entry_fields("S", "R1", outage, RULES),
    }


def test_the_verifier_recomputes_an_entry_and_moves_the_deadlines():
    e = entry_of(room(3), 4)
    assert check_entry(e) == []
    attempts = {
        ("UJI", f"P{i}"): SimpleNamespace(deadline=T + 10**7, finished=False, answer_times=[])
        for i in range(3)
    }
    attempts[("UJI", "P2")].finished = True
    problems: list[str] = []
    apply(e, attempts, problems.append)
    assert problems == []
    credit = {c["pseudonym"]: c["credit_ms"] for c in e["lost"]}
    assert attempts[("UJI", "P0")].deadline == T + 10**7 + credit["P0"]
    assert attempts[("UJI", "P2")].deadline == T + 10**7  # finished: nothing to move


def test_the_verifier_catches_an_inflated_credit_a_thin_room_and_an_answer_in_silence():
    e = entry_of(room(3), 4)
    e["lost"][0]["credit_ms"] += 60_000
    assert any("P0 credited" in p for p in check_entry(e))
    thin = entry_of(room(3), 4)
    thin["active"] = 40  # three of forty is no outage
    assert any("do not make" in p for p in check_entry(thin))
    answered = entry_of(room(3), 4)
    attempts = {
        ("UJI", "P1"): SimpleNamespace(deadline=None, finished=False, answer_times=[T + 60_000])
    }
    problems: list[str] = []
    apply(answered, attempts, problems.append)
    assert problems == ["entry 7 (site_outage): P1 answered during the silence it is credited for"]


def test_a_resumed_rooms_credit_is_its_pause():
    e = {
        "type": "room_resumed",
        "exam": "UJI",
        "_index": 3,
        "from": T,
        "to": T + 5000,
        "credit_ms": 5000,
        "pseudonyms": ["A"],
    }
    a = SimpleNamespace(deadline=T + 100, finished=False, answer_times=[])
    problems: list[str] = []
    apply(e, {("UJI", "A"): a}, problems.append)
    assert problems == [] and a.deadline == T + 5100
    apply({**e, "credit_ms": 9000}, {}, problems.append)
    assert problems == ["entry 3 (room_resumed): credit 9000 ms for a pause of 5000 ms"]
