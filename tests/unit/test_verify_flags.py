"""The verifier's rules for forensic flags: raised once with a commitment, notes and
decisions only on raised flags, decisions only by the committee."""

from proctoring.verify import Report, _check_events


def test_the_verifier_checks_flag_notes_and_decisions():
    def run(*stream: dict) -> list[str]:
        report = Report()
        _check_events([dict(e, _index=i, t=i) for i, e in enumerate(stream)], report)
        return report.problems

    raised = {"type": "flag_raised", "exam": "X", "flag": 1, "commitment": "a" * 64}
    note = {"type": "flag_note", "exam": "X", "flag": 1, "role": "observer"}
    decision = {"type": "flag_decision", "exam": "X", "flag": 1, "role": "committee"}
    assert run(raised, note, decision) == []
    assert any("never raised" in p for p in run(note))
    assert any("never raised" in p for p in run(dict(raised, exam="Y"), decision))
    assert any("decided by observer" in p for p in run(raised, dict(decision, role="observer")))
    assert any("raised twice" in p for p in run(raised, raised))
