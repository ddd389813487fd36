"""The scores as the audit log states them: folding entries, and comparing stored rows."""

from proctoring.logged_scores import (
    LoggedScores,
    Placement,
    fold,
    placement_difference,
    result_differences,
)


def entry(kind: str, **fields) -> dict:
    return {"type": kind, "exam": "X", "t": 0, **fields}


ENTRIES = [
    entry(
        "applicants_enrolled",
        pseudonyms=["Pa", "Pb"],
        formations=["Auditor", "Analis"],
        tracks=["", "disabilitas"],
        extra_time_s=[0, 0],
    ),
    entry("applicants_enrolled", pseudonyms=["Pold"], extra_time_s=[0]),  # before formations
    entry(
        "section_finished",
        pseudonym="Pa",
        section="TWK",
        points=40,
        theta="0.5",
        se="0.3",
        items=10,
    ),
    entry(
        "section_finished",
        pseudonym="Pa",
        section="TIU",
        points=90,
        theta="1.1",
        se="0.4",
        items=12,
    ),
    entry("attempt_finished", pseudonym="Pa", total=130, points={"TWK": 40, "TIU": 90}),
    entry(
        "section_finished",
        pseudonym="Pb",
        section="TWK",
        points=25,
        theta="-0.2",
        se="0.3",
        items=10,
    ),
]

STORED_PA = {
    "TWK": {"points": 40, "theta": "0.5", "se": "0.3", "items": 10, "method": "eap"},
    "TIU": {"points": 90, "theta": "1.1", "se": "0.4", "items": 12, "method": "eap"},
}


def test_fold_states_points_status_and_placements():
    model = fold(LoggedScores(), ENTRIES, 9)
    assert model.size == 9
    assert model.attempts["Pa"].finished and model.attempts["Pa"].points == {"TWK": 40, "TIU": 90}
    assert not model.attempts["Pb"].finished and model.attempts["Pb"].points == {"TWK": 25}
    assert model.placements == {
        "Pa": Placement("Auditor", ""),
        "Pb": Placement("Analis", "disabilitas"),
        "Pold": None,
    }


def test_fold_in_steps_equals_fold_at_once_and_leaves_its_input_alone():
    first = fold(LoggedScores(), ENTRIES[:3], 3)
    both = fold(first, ENTRIES[3:], 9)
    assert both == fold(LoggedScores(), ENTRIES, 9)
    assert "TIU" not in first.attempts["Pa"].sections and not first.attempts["Pa"].finished


def test_a_rescore_replaces_points_theta_and_se():
    rescored = entry(
        "attempt_rescored",
        pseudonym="Pa",
        section="TWK",
        points=45,
        theta="0.7",
        se="0.3",
        total=135,
        appeal=1,
    )
    model = fold(LoggedScores(), [*ENTRIES, rescored], 10)
    twk = model.attempts["Pa"].sections["TWK"]
    assert (twk.points, twk.theta, twk.se, twk.items) == (45, "0.7", "0.3", 10)
    assert result_differences("finished", STORED_PA, model.attempts["Pa"]) == [
        "TWK: points 40 stored, the log states 45",
        "TWK: theta 0.5 stored, the log states 0.7",
    ]


def test_stored_results_that_agree_have_no_difference():
    model = fold(LoggedScores(), ENTRIES, 9)
    assert result_differences("finished", STORED_PA, model.attempts["Pa"]) == []
    assert result_differences("not_started", {}, None) == []
    assert (
        result_differences(
            "active",
            {"TWK": {"points": 25, "theta": "-0.2", "se": "0.3", "items": 10}},
            model.attempts["Pb"],
        )
        == []
    )


def test_forged_points_sections_and_status_differ():
    model = fold(LoggedScores(), ENTRIES, 9)
    forged = {**STORED_PA, "TWK": {**STORED_PA["TWK"], "points": 90}}
    assert result_differences("finished", forged, model.attempts["Pa"]) == [
        "TWK: points 90 stored, the log states 40"
    ]
    extra = {**STORED_PA, "TKP": {"points": 200}}
    assert result_differences("finished", extra, model.attempts["Pa"]) == [
        "TKP: stored, but the log never finished this section"
    ]
    assert result_differences("active", {}, model.attempts["Pa"]) == [
        "the log has finished the attempt, the table has not",
        "TIU: finished in the log, not stored",
        "TWK: finished in the log, not stored",
    ]
    pb = {"TWK": {"points": 25, "theta": "-0.2", "se": "0.3", "items": 10}}
    assert result_differences("finished", pb, model.attempts["Pb"]) == [
        "stored as finished, the log has no attempt_finished"
    ]


def test_placements_are_compared_with_the_log():
    model = fold(LoggedScores(), ENTRIES, 9)
    assert placement_difference("Pa", "Auditor", "", model) is None
    moved = placement_difference("Pa", "Analis", "", model)
    assert moved is not None and moved.startswith("Pa: formation 'Analis'")
    assert "the log states formation 'Auditor'" in moved
    assert "track" in (placement_difference("Pb", "Analis", "", model) or "")
    assert "does not state" in (placement_difference("Pold", "Auditor", "", model) or "")
    assert "no enrollment" in (placement_difference("Pnew", "Auditor", "", model) or "")
