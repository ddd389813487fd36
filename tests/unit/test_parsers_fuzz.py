"""Every parser meets arbitrary input with its own error, never a crash (hypothesis)."""

import contextlib

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from exam.usecases.enrollment import read_enrollment_csv
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


# Text that reaches the caps: deep nesting, long numbers, NUL and lone surrogates.
HOSTILE_TEXT = st.one_of(
    st.integers(60, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(30, 6000).map(lambda n: '{"items": [' + "7" * n + "]}"),
    st.sampled_from(["\\ud800", "\\udfff", "\\u0000", "\x00"]).map(
        lambda bad: '{"items": [{"id": "a%s", "stem": "s"}]}' % bad  # noqa: UP031
    ),
    st.text(alphabet=st.sampled_from(["[", "]", "{", "}", '"', "\\", "9", ",", ":"]), max_size=300),
)


@settings(max_examples=150, deadline=None)
@given(HOSTILE_TEXT)
def test_bank_json_at_the_caps(text):
    try:
        read_bank(text.encode(), "bank.json", set())
    except BankInputError as exc:
        assert exc.problems and all(p.source == "bank.json" for p in exc.problems)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["imsmanifest.xml", "items/a.xml", "x"]),
        st.one_of(st.binary(max_size=200), st.integers(0, 3000).map(lambda n: b"<a>" * n)),
        max_size=3,
    ),
    st.integers(0, 400),
    st.binary(min_size=1, max_size=4),
)
def test_zip_packages_damaged_anywhere(members, at, junk):
    """A zip of arbitrary members, then bytes overwritten anywhere: in a header, the
    central directory or the compressed data."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    data = buffer.getvalue()
    at = min(at, len(data))
    data = data[:at] + junk + data[at + len(junk) :]
    try:
        read_bank(data, "bank.zip", set())
    except BankInputError as exc:
        assert exc.problems and all(p.message for p in exc.problems)


CSV_HOSTILE = st.lists(
    st.lists(
        st.one_of(
            st.sampled_from(["", "1", "\x00", "x\x00y", "\u00b2", "\u0661"]),
            st.integers(1, 6000).map(lambda n: "9" * n),
        ),
        min_size=1,
        max_size=5,
    ),
    max_size=5,
).map(lambda rows: "\n".join(",".join(r) for r in rows))


@settings(max_examples=150, deadline=None)
@given(CSV_HOSTILE, st.sampled_from([b"", b"\xff", b"\xed\xa0\x80"]))
def test_enrollment_and_bank_csv_at_the_caps(text, raw):
    data = b"registration_number,name,formation,extra_time_minutes\n" + text.encode() + raw
    rows, problems = read_enrollment_csv(data, "in.csv")
    assert rows or problems
    try:
        read_bank(b"id,domain,topic,stem,option_a,option_b\n" + text.encode() + raw, "b.csv")
    except BankInputError as exc:
        assert exc.problems


@settings(max_examples=100, deadline=None)
@given(CSV_HOSTILE)
def test_responses_and_parameters_csv_at_the_caps(tmp_path_factory, text):
    from scoring.files import InputError, read_params_csv, read_response_matrix

    folder = tmp_path_factory.mktemp("csv")
    for header, parse in (
        ("person_id,q1,q2\n", read_response_matrix),
        ("item_id,model,a,b,c,b" + "1" * 50 + "\n", read_params_csv),
    ):
        path = folder / "f.csv"
        path.write_text(header + text, encoding="utf-8")
        with contextlib.suppress(InputError):
            parse(path)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(st.integers(0, 10**30), st.integers(1, 6000).map(lambda n: "1" * n)),
    st.integers(0, 80),
)
def test_proofs_and_checkpoints_at_the_caps(index, hashes):
    proof = f"c2sp.org/tlog-proof@v1\nindex {index}\n" + ("A" * 43 + "=\n") * hashes
    for parse in (
        lambda: parse_proof(proof + "\ncheckpoint\n"),
        lambda: Checkpoint.parse_text(f"origin\n{index}\n{'A' * 43}=\n"),
    ):
        with contextlib.suppress(NoteError):
            parse()


# -- zip bombs ---------------------------------------------------------------------------

FILLS = st.sampled_from([b"\x00", b"<a>", b"0123456789", b"\xff\xfe"])


def _bomb(members: dict[str, bytes | tuple[bytes, int]]) -> bytes:
    """A QTI package whose (pattern, size) members are the pattern repeated to ``size``
    bytes, deflated 1 MiB at a time (never held whole)."""
    import io
    import zipfile

    from scoring import limits

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            if isinstance(content, bytes):
                z.writestr(name, content)
                continue
            pattern, size = content
            chunk = (pattern * (limits.MiB // len(pattern) + 1))[: limits.MiB]
            with z.open(name, "w") as member:
                for _ in range(size // limits.MiB):
                    member.write(chunk)
                member.write(chunk[: size % limits.MiB])
    return buffer.getvalue()


def _manifest(hrefs: list[str]) -> bytes:
    from tests.unit.test_input_limits import MANIFEST, resource

    return MANIFEST % b"".join(resource(h) for h in hrefs)


@st.composite
def zip_bombs(draw) -> tuple[bytes, str]:
    """(a package, the cap or damage its refusal names): one member just over the cap for
    one file; members each under it whose sum is just over the cap for all of them; or a
    member over the cap whose headers (local and central) claim it is small."""
    import struct

    from scoring import limits

    fill = draw(FILLS)
    kind = draw(st.sampled_from(["member", "total", "understated"]))
    if kind == "member":
        size = limits.MEMBER_BYTES + draw(st.integers(1, 256 * 1024))
        members = {"imsmanifest.xml": _manifest(["items/a.xml"]), "items/a.xml": (fill, size)}
        return _bomb(members), "the cap for one file of an archive"
    if kind == "total":
        each = limits.MEMBER_BYTES - draw(st.integers(0, limits.MiB))
        count = limits.INFLATED_BYTES // each
        rest = limits.INFLATED_BYTES - count * each + draw(st.integers(1, limits.MiB))
        sizes = [each] * count + [rest]
        hrefs = [f"items/i{k}.xml" for k in range(len(sizes))]
        members: dict[str, bytes | tuple[bytes, int]] = {"imsmanifest.xml": _manifest(hrefs)}
        members.update({h: (fill, s) for h, s in zip(hrefs, sizes, strict=True)})
        return _bomb(members), "the cap for all files of an archive"
    size = limits.MEMBER_BYTES + draw(st.integers(1, 4 * limits.MiB))
    claimed = draw(st.integers(0, limits.MEMBER_BYTES))
    data = bytearray(_bomb({"imsmanifest.xml": (fill, size)}))
    struct.pack_into("<I", data, 22, claimed)  # the local header's uncompressed size
    struct.pack_into("<I", data, data.find(b"PK\x01\x02") + 24, claimed)  # the central one's
    return bytes(data), "cannot read from the package"


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(zip_bombs())
def test_zip_bombs_are_refused_clearly_in_bounded_memory(bomb):
    """Highly compressible members just over the caps, and members whose headers
    understate their size: a clear refusal naming the cap (or the damage), never a
    crash, and never the inflated bytes held at once."""
    from scoring import limits
    from tests.unit.test_input_limits import bounded

    data, reason = bomb
    assert len(data) < limits.FILE_BYTES  # small enough to be uploaded
    caught: list[BankInputError] = []

    def read() -> None:
        try:
            read_bank(data, "bomb.zip", set())
        except BankInputError as exc:
            caught.append(exc)

    _, peak = bounded(read)
    assert caught, "a zip bomb was accepted"
    messages = [str(p) for p in caught[0].problems]
    assert messages and all(m.startswith("bomb.zip:") for m in messages), messages
    assert reason in messages[-1], messages
    assert peak < 3 * limits.MEMBER_BYTES, peak
