"""The screening as a whole, on simulated sections (proctoring.planted)."""

import hashlib

import numpy as np

from proctoring.canonical import canonical
from proctoring.planted import simulate_section
from proctoring.screening import KINDS, ScreeningRules, screen

LEVEL = 0.05


def test_without_cheating_the_false_positive_rate_stays_under_the_level():
    rng = np.random.default_rng(11)
    flagged = tested = 0
    families_with_a_flag = families = 0
    for r in range(3):
        sim = simulate_section(rng, persons=300)
        result = screen([sim.data], ScreeningRules(LEVEL, sim.compromised, n_boot=50, seed=r))
        for t in result.tested:
            if t.kind == "rapid_guessing":
                continue  # a rule, not a test; honest simulees never answer that fast
            flagged += t.flagged
            tested += t.tested
            families += 1
            families_with_a_flag += t.flagged > 0
        assert not [f for f in result.flags if f.kind == "rapid_guessing"]
    # Under the global null BH controls the chance of any flag in a family at the level.
    assert flagged / tested <= LEVEL
    assert families_with_a_flag / families <= LEVEL + 3 * np.sqrt(LEVEL * (1 - LEVEL) / families)
    assert {t.kind for t in result.tested} == set(KINDS)


def test_planted_rapid_guessers_and_heavy_copiers_are_flagged():
    rng = np.random.default_rng(12)
    sim = simulate_section(rng, persons=300, planted=6, copy_share=0.9)
    result = screen([sim.data], ScreeningRules(LEVEL, sim.compromised, n_boot=50, seed=1))
    by_kind: dict[str, set[str]] = {}
    for f in result.flags:
        by_kind.setdefault(f.kind, set()).update(f.pseudonyms)
    rapid = set(sim.planted["rapid_guessing"])
    assert by_kind["rapid_guessing"] == rapid
    assert rapid <= by_kind["response_time"]
    copiers = set(sim.planted["copying"])
    similar = [f.pseudonyms for f in result.flags if f.kind == "similarity"]
    assert len(copiers & by_kind["similarity"]) >= 4
    assert all(set(pair) & copiers for pair in similar)  # no pair of honest neighbours
    honest = set(sim.data.persons) - {p for names in sim.planted.values() for p in names}
    wrongly = {p for kind, who in by_kind.items() if kind != "similarity" for p in who} & honest
    assert len(wrongly) <= 0.05 * len(honest)


def test_a_flag_commits_to_its_canonical_document():
    rng = np.random.default_rng(13)
    sim = simulate_section(rng, persons=120, planted=3)
    result = screen([sim.data], ScreeningRules(LEVEL, sim.compromised, n_boot=20, seed=2))
    flag = next(f for f in result.flags if f.kind == "rapid_guessing")
    document = flag.document("UJI")
    assert document["pseudonyms"] == list(flag.pseudonyms) and document["exam"] == "UJI"
    text = canonical(document)
    assert flag.commitment("UJI") == hashlib.sha256(text.encode()).hexdigest()
    assert flag.commitment("UJI") != flag.commitment("LAIN")
    answers = document["evidence"]["answers"]
    assert len(answers) == 30 and sum(a["rapid"] for a in answers) == document["evidence"]["rapid"]
    assert [a["step"] for a in answers] == sorted(a["step"] for a in answers)
