"""Sealed entries: salted commitments, their openings, and openings files."""

import hashlib

import pytest

from proctoring.seal import (
    INNER,
    OPENED,
    Opening,
    OpeningsError,
    bundle,
    commitment,
    open_entries,
    parse_bundle,
    seal,
    sealed_entry,
)

RECORD = {"item": "TWK-001", "choice": "A", "category": 1}


def test_a_seal_hides_and_binds():
    a, b = seal(RECORD), seal(RECORD)
    assert a.sealed != b.sealed, "a fresh salt each time: equal records do not look equal"
    assert a.holds() and b.holds()
    assert not Opening(a.sealed, a.salt, {**RECORD, "choice": "B"}).holds()
    assert not Opening(a.sealed, b.salt, RECORD).holds()
    assert not Opening(a.sealed, "not hex", RECORD).holds()
    salt = bytes.fromhex(a.salt)
    assert len(salt) == 16
    expected = hashlib.sha256(
        b"seleksi/seal/v1\n" + salt + b'{"category":1,"choice":"A","item":"TWK-001"}'
    ).hexdigest()
    assert commitment(salt, RECORD) == expected == a.sealed


def test_open_entries_merges_records_and_reports_what_does_not_hold():
    public = {"type": "answer", "exam": "X", "t": 1, "pseudonym": "P1", "step": 0}
    first, o1, _ = sealed_entry(public, RECORD)
    second, o2, _ = sealed_entry({**public, "step": 1}, {**RECORD, "choice": "C", "category": 0})
    third, _, _ = sealed_entry({**public, "step": 2}, RECORD)
    entries = [dict(first, _index=5), dict(second, _index=6), dict(third, _index=7), {"x": 1}]
    forged = Opening(o2.sealed, o2.salt, {**o2.record, "category": 1})
    result = open_entries(entries, [o1, forged])
    assert (result.sealed, result.opened) == (3, 1) and not result.complete
    assert entries[0]["choice"] == "A" and entries[0][OPENED]
    assert "choice" not in entries[1] and "choice" not in entries[2]
    assert result.problems == [f"an opening does not give its commitment {o2.sealed}"]
    clash = dict(first, _index=9, item="shown")
    assert "would overwrite item" in open_entries([clash], [o1]).problems[0]


OUTER = {"item": "TWK-001", "choice": "A", "pilot": False}


def test_an_inner_part_is_sealed_apart_and_opened_only_with_its_own_opening():
    public = {"type": "answer", "exam": "X", "t": 1, "pseudonym": "P1", "step": 0}
    entry, outer, inner = sealed_entry(public, OUTER, {"category": 1})
    assert outer.holds() and inner.holds() and inner.sealed != outer.sealed
    assert outer.record == {**OUTER, INNER: inner.sealed}, "the outer record binds the inner"
    assert "category" not in outer.to_dict()["record"]
    assert entry == {**public, "sealed": outer.sealed}
    # Both openings: the whole record, as an unsealed entry would show it.
    both = [dict(entry)]
    result = open_entries(both, [outer, inner])
    assert (result.sealed, result.opened, result.inner, result.inner_opened) == (1, 1, 1, 1)
    assert result.complete and both[0][OPENED]
    assert both[0]["choice"] == "A" and both[0]["category"] == 1
    # The outer opening alone (an applicant's own): the choice, but the outcome stays sealed.
    alone = [dict(entry)]
    result = open_entries(alone, [outer])
    assert (result.opened, result.inner, result.inner_opened) == (1, 1, 0)
    assert not result.complete and not result.problems
    assert alone[0]["choice"] == "A" and "category" not in alone[0] and OPENED not in alone[0]
    # A forged inner opening (the outcome changed) does not give its commitment.
    forged = Opening(inner.sealed, inner.salt, {"category": 0})
    entries = [dict(entry)]
    result = open_entries(entries, [outer, forged])
    assert result.problems == [f"an opening does not give its commitment {inner.sealed}"]
    assert "category" not in entries[0] and not result.complete
    # Another entry's inner opening does not open this one: the outer record names its own.
    _, _, other = sealed_entry(public, OUTER, {"category": 0})
    entries = [dict(entry)]
    assert open_entries(entries, [outer, other]).inner_opened == 0
    assert "category" not in entries[0]
    # An inner record may not overwrite what the entry already shows.
    entry2, outer2, inner2 = sealed_entry(public, OUTER, {"choice": "B"})
    result = open_entries([dict(entry2)], [outer2, inner2])
    assert "inner opening would overwrite choice" in result.problems[0]
    with pytest.raises(ValueError):
        sealed_entry(public, {**OUTER, INNER: "x"}, {"category": 1})


def test_entries_sealed_without_an_inner_part_open_as_before():
    public = {"type": "answer", "exam": "X", "t": 1, "pseudonym": "P1", "step": 0}
    entry, opening, nested = sealed_entry(public, RECORD)
    assert nested is None and INNER not in opening.record
    entries = [dict(entry)]
    result = open_entries(entries, [opening])
    assert result.complete and (result.inner, result.inner_opened) == (0, 0)
    assert entries[0][OPENED] and entries[0]["category"] == 1


def test_an_openings_file_round_trips_and_bad_ones_are_named():
    given = [seal(RECORD), seal({**RECORD, "choice": "D"})]
    assert parse_bundle(bundle("UJI", given)) == ("UJI", given)
    for text, message in [
        ("{", "not JSON"),
        ('{"format": "x"}', "not a seleksi-openings/v1 file"),
        ('{"format": "seleksi-openings/v1", "exam": 1, "openings": []}', "needs the fields"),
        ('{"format": "seleksi-openings/v1", "exam": "U", "openings": [1]}', "openings[0]"),
        ("[" * 100_000, "not JSON"),
    ]:
        with pytest.raises(OpeningsError) as caught:
            parse_bundle(text, "f.json")
        assert str(caught.value).startswith("f.json: ") and message in str(caught.value)
