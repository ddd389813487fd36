"""Every parser meets arbitrary input with its own error, never a crash (hypothesis)."""

import contextlib

from hypothesis import example, given, settings
from hypothesis import strategies as st

from exam.enrollment import read_enrollment_csv
from itembank.content import BankInputError
from itembank.transfer import read_bank
from proctoring.note import Checkpoint, NoteError, Verifier, open_note, parse_proof
from scoring.ranking import RulesError, read_scores_csv, rules_from_text

TEXT = st.text(max_size=400)
CSVISH = st.lists(
    st.lists(st.sampled_from(["", "a", "1", "-2", "x,y", '"q"', "é", "\n"]), max_size=6),
    max_size=8,
).map(lambda rows: "\n".join(",".join(r) for r in rows))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=400), CSVISH.map(str.encode)))
def test_enrollment_csv(data):
    rows, problems = read_enrollment_csv(data, "in.csv")
    assert rows or problems
    assert all(p.source == "in.csv" for p in problems)


@settings(max_examples=200, deadline=None)
@given(st.one_of(TEXT, CSVISH))
@example("\r")  # a lone carriage return once crashed the CSV reader
@example('a,"b\nc')
def test_scores_csv_and_rules(text):
    for parse in (
        lambda: read_scores_csv(text, "s.csv", ["TWK", "TIU"]),
        lambda: rules_from_text(text, "r.json"),
    ):
        with contextlib.suppress(RulesError):
            parse()


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_notes_keys_checkpoints_and_proofs(text):
    for parse in (
        lambda: parse_proof(text),
        lambda: Checkpoint.parse_text(text),
        lambda: Verifier.parse(text),
        lambda: open_note(
            text,
            Verifier.parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        ),
    ):
        with contextlib.suppress(NoteError):
            parse()


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["bank.csv", "bank.json", "bank.zip"]),
    st.one_of(st.binary(max_size=300), CSVISH.map(str.encode), TEXT.map(str.encode)),
)
def test_bank_files(name, data):
    try:
        read_bank(data, name, set())
    except BankInputError as exc:
        assert exc.problems
