"""The ranking per formation: passing grades, track rules, tie-breaks at the quota boundary,
ties that survive every criterion, a weighted final score, and the files."""

import pytest

from scoring.ranking import (
    Rules,
    RulesError,
    Score,
    rank,
    ranking_csv,
    read_scores_csv,
    results_table,
    rules_from_text,
)

RULES = Rules.from_json(
    {
        "sections": ["TWK", "TIU", "TKP"],
        "passing_grades": {"TWK": 65, "TIU": 80, "TKP": 166},
        "tracks": {"cumlaude": {"total_min": 311, "min": {"TIU": 85}}},
        "vacancies": {"Auditor": 1, "Analis": 2},
        "quota_multiplier": 3,
        "tie_break": ["TKP", "TIU", "TWK"],
    }
)


def s(pid, twk, tiu, tkp, formation="Auditor", track=""):
    return Score(pid, formation, track, {"TWK": twk, "TIU": tiu, "TKP": tkp})


def by_id(rows):
    return {r.person_id: r for r in rows}


def test_tie_breaks_at_the_quota_boundary():
    # Quota 3 × 1 = 3. Totals: A 400, then B, C, D all 350; TKP decides among them.
    rows = by_id(
        rank(
            [
                s("A", 100, 100, 200),
                s("B", 90, 90, 170),  # 350, TKP 170
                s("C", 70, 100, 180),  # 350, TKP 180
                s("D", 80, 95, 175),  # 350, TKP 175
            ],
            RULES,
        )
    )
    assert [rows[p].rank for p in "ACDB"] == [1, 2, 3, 4]
    assert [rows[p].proceeds for p in "ACDB"] == [True, True, True, False]


def test_ties_that_survive_every_criterion_go_through_together():
    rows = by_id(
        rank(
            [
                s("A", 100, 100, 200),
                s("B", 90, 90, 180),
                s("C", 90, 90, 180),  # identical to B
                s("D", 90, 90, 180),  # identical to B
                s("E", 70, 85, 170),
            ],
            RULES,
        )
    )
    assert [rows[p].rank for p in "ABCDE"] == [1, 2, 2, 2, 5]
    # Quota 3 ends inside the B/C/D tie: all three go through, E does not.
    assert [rows[p].proceeds for p in "ABCDE"] == [True, True, True, True, False]


def test_tracks_use_their_own_rule():
    rows = by_id(
        rank(
            [
                s("reg", 100, 79, 200),  # fails TIU 80 on the general rule
                s("cl1", 60, 86, 170, track="cumlaude"),  # 316 ≥ 311, TIU 86 ≥ 85: passes
                s("cl2", 100, 84, 200, track="cumlaude"),  # TIU 84 < 85: fails
                s("cl3", 60, 90, 160, track="cumlaude"),  # 310 < 311: fails
            ],
            RULES,
        )
    )
    assert not rows["reg"].passed and rows["reg"].rank is None
    assert rows["cl1"].passed and rows["cl1"].rank == 1 and rows["cl1"].proceeds
    assert not rows["cl2"].passed and not rows["cl3"].passed


def test_formations_are_ranked_apart_with_their_own_quota():
    scores = [s(f"a{i}", 70, 90, 170 + i) for i in range(5)]
    scores += [s(f"b{i}", 70, 90, 170 + i, formation="Analis") for i in range(8)]
    rows = rank(scores, RULES)
    auditor = [r for r in rows if r.formation == "Auditor"]
    analis = [r for r in rows if r.formation == "Analis"]
    assert sum(r.proceeds for r in auditor) == 3 and sum(r.proceeds for r in analis) == 6
    assert [r.formation for r in rows] == ["Analis"] * 8 + ["Auditor"] * 5


def test_a_weighted_final_score_with_its_own_tie_break():
    rules = Rules.from_json(
        RULES.to_json()
        | {
            "sections": ["TWK", "TIU", "TKP", "SKB"],
            "final": {
                "components": {
                    "SKD": {"sections": ["TWK", "TIU", "TKP"], "max": 550, "weight": "0.4"},
                    "SKB": {"sections": ["SKB"], "max": 100, "weight": "0.6"},
                },
                "tie_break": ["SKB", "TKP"],
            },
        }
    )
    a = Score("A", "Auditor", "", {"TWK": 100, "TIU": 100, "TKP": 200, "SKB": 70})
    b = Score("B", "Auditor", "", {"TWK": 80, "TIU": 100, "TKP": 200, "SKB": 73})
    rows = rank([a, b], rules)
    # A: 0.4 × 400/550 × 100 + 0.6 × 70 = 29.0909… + 42 = 71.09; B: 27.64 + 43.8 = 71.44
    assert [(r.person_id, r.total) for r in rows] == [("B", "71.44"), ("A", "71.09")]


def test_rules_and_scores_files_name_their_problems():
    with pytest.raises(RulesError, match="tie_break: unknown sections SKB"):
        Rules.from_json(RULES.to_json() | {"tie_break": ["SKB"]})
    with pytest.raises(RulesError, match=r"rules.json:1: not JSON"):
        rules_from_text("{", "rules.json")
    text = "person_id,formation,track,TWK,TIU,TKP\nA,Auditor,,70,x,170\nB,Auditor,,70\n"
    with pytest.raises(RulesError) as err:
        read_scores_csv(text, "scores.csv", RULES.sections)
    assert "scores.csv:2: TIU: 'x'" in str(err.value) and "scores.csv:3: 4 fields" in str(err.value)
    with pytest.raises(RulesError, match="appears twice"):
        rank([s("A", 1, 1, 1), s("A", 2, 2, 2)], RULES)


def test_the_ranking_files_are_deterministic():
    scores = [s("B", 90, 90, 180), s("A", 90, 90, 180), s("C", 10, 10, 10)]
    first = ranking_csv(rank(scores, RULES))
    assert first == ranking_csv(rank(list(reversed(scores)), RULES))
    assert first.splitlines() == [
        "person_id,formation,total,passed,rank,proceeds",
        "A,Auditor,360,true,1,true",
        "B,Auditor,360,true,1,true",
        "C,Auditor,30,false,,false",
    ]
    table = results_table(rank(scores, RULES), RULES.sections)
    assert (
        table.splitlines()[0] == "person_id,formation,track,TWK,TIU,TKP,total,passed,rank,proceeds"
    )


def test_the_command_line(tmp_path):
    import json

    from click.testing import CliRunner

    from exam.cli import main

    (tmp_path / "rules.json").write_text(json.dumps(RULES.to_json()))
    (tmp_path / "scores.csv").write_text(
        "person_id,formation,track,TWK,TIU,TKP\nA,Auditor,,70,90,170\nB,Auditor,,60,90,170\n"
    )
    args = [
        "results",
        "rank",
        str(tmp_path / "scores.csv"),
        "--rules",
        str(tmp_path / "rules.json"),
    ]
    ok = CliRunner().invoke(main, args)
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines()[1:] == ["A,Auditor,330,true,1,true", "B,Auditor,320,false,,false"]
    (tmp_path / "scores.csv").write_text("person_id,formation\nA,B\n")
    bad = CliRunner().invoke(main, args)
    assert bad.exit_code == 2 and "scores.csv:1: missing columns track, TWK, TIU, TKP" in bad.output


def test_an_skd_without_passing_grades_gets_cat_bkn_defaults():
    rules = Rules.from_json({"sections": ["TWK", "TIU", "TKP"]})
    assert dict(rules.passing_grades) == {"TWK": 65, "TIU": 80, "TKP": 166}
    assert rules.tie_break == ("TKP", "TIU", "TWK")
