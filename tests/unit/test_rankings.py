"""The observers' live ranking."""

from proctoring.rankings import live_ranking

GRADES = {"TWK": 65, "TIU": 80, "TKP": 166}


def test_order_pass_fail_ties_and_status():
    rows = live_ranking(
        [
            ("Pa", "finished", {"TWK": 70, "TIU": 85, "TKP": 170}),  # passes, 325
            ("Pb", "finished", {"TWK": 100, "TIU": 75, "TKP": 200}),  # fails TIU, 375
            ("Pc", "finished", {"TWK": 70, "TIU": 85, "TKP": 170}),  # tie with Pa
            ("Pd", "active", {"TWK": 90}),
            ("Pe", "finished", {"TWK": 65, "TIU": 90, "TKP": 170}),  # passes, 325, more TIU
            ("Pf", "not_started", {}),
        ],
        GRADES,
        flags={"Pd": 3},
    )
    assert [r.pseudonym for r in rows] == ["Pe", "Pa", "Pc", "Pb", "Pd", "Pf"]
    assert [r.rank for r in rows] == [1, 2, 2, 4, None, None]
    pb = rows[3]
    assert pb.passed == {"TWK": True, "TIU": False, "TKP": True} and not pb.passed_all
    assert rows[4].flags == 3 and rows[4].passed["TIU"] is None and not rows[4].passed_all
    assert rows[0].total == 325 and rows[0].passed_all


def test_sections_without_a_passing_grade_never_fail():
    [row] = live_ranking([("P", "finished", {"A": 1})], {"A": None})
    assert row.passed == {"A": None} and row.passed_all and row.rank == 1


def test_a_row_that_differs_from_the_log_is_withheld_and_unranked():
    rows = live_ranking(
        [
            ("Pa", "finished", {"TWK": 70, "TIU": 85, "TKP": 170}),
            ("Pforged", "finished", {"TWK": 120, "TIU": 85, "TKP": 170}),
            ("Pb", "finished", {"TWK": 65, "TIU": 85, "TKP": 170}),
        ],
        GRADES,
        flags={"Pforged": 1},
        mismatched={"Pforged"},
    )
    assert [r.pseudonym for r in rows] == ["Pa", "Pb", "Pforged"]
    assert [r.rank for r in rows] == [1, 2, None]
    forged = rows[2]
    assert forged.mismatch and forged.points == {} and forged.total == 0
    assert not forged.passed_all and forged.flags == 1
    assert not rows[0].mismatch
