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


def _qti_package(version: str) -> dict[str, bytes]:
    """The members of a real QTI content package of a few demo items."""
    import io
    import tempfile
    import zipfile
    from pathlib import Path

    import itembank
    from itembank.transfer import read_bank_file, write_bank

    demo = read_bank_file(Path(itembank.__file__).parent / "demo_bank.json")
    items = [located[0] for located in demo[:4]]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bank.zip"
        write_bank(items, path, version)
        with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as z:
            return {name: z.read(name) for name in z.namelist()}


QTI = {version: _qti_package(version) for version in ("2.1", "3.0")}


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["2.1", "3.0"]),
    st.data(),
    st.binary(max_size=60),
    st.sampled_from(["replace", "insert", "truncate", "drop"]),
)
def test_qti_packages_with_damaged_xml(version, data, junk, how):
    """A real QTI package with one member damaged: its XML cut, spliced or removed."""
    import io
    import zipfile

    members = dict(QTI[version])
    name = data.draw(st.sampled_from(sorted(members)))
    body = members[name]
    at = data.draw(st.integers(0, len(body)))
    if how == "replace":
        members[name] = body[:at] + junk + body[at + len(junk) :]
    elif how == "insert":
        members[name] = body[:at] + junk + body[at:]
    elif how == "truncate":
        members[name] = body[:at]
    else:
        del members[name]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for member, content in members.items():
            z.writestr(member, content)
    try:
        read_bank(buffer.getvalue(), "bank.zip", set())
    except BankInputError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
