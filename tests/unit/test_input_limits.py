"""The caps of scoring/limits.py, one red-team case each: every file parser refuses a
hostile file quickly, in bounded memory, naming the file, the place and the cap."""

import io
import json
import struct
import time
import tracemalloc
import zipfile

import pytest

from exam.usecases.enrollment import read_enrollment_csv
from itembank.content import BankInputError
from itembank.transfer import read_bank
from proctoring.note import Checkpoint, NoteError, parse_proof
from scoring import limits
from scoring.files import InputError, read_params_csv, read_response_matrix

MANIFEST = (
    b'<manifest xmlns="http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"><resources>'
    b"%s</resources></manifest>"
)


def resource(href: str) -> bytes:
    return f'<resource identifier="{href}" type="imsqti_item_xmlv3p0" href="{href}"/>'.encode()


def package(members: dict[str, bytes | int]) -> bytes:
    """A zip whose int-valued members are that many zero bytes, deflated in 1 MiB
    chunks (so building a 200 MB member needs no 200 MB buffer)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            if isinstance(content, bytes):
                z.writestr(name, content)
                continue
            with z.open(name, "w") as member:
                for _ in range(content // limits.MiB):
                    member.write(bytes(limits.MiB))
    return buffer.getvalue()


def refused(data: bytes, name: str) -> list[str]:
    with pytest.raises(BankInputError) as caught:
        read_bank(data, name, set())
    return [str(p) for p in caught.value.problems]


def bounded(call) -> tuple[float, int]:
    """(seconds, peak bytes allocated) of ``call()``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        call()
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return elapsed, peak


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A QTI package under 1 MB whose item inflates to 200 MB of zeros."""
    data = package(
        {"imsmanifest.xml": MANIFEST % resource("items/bomb.xml"), "items/bomb.xml": 200 * 2**20}
    )
    assert len(data) < 2**20
    return data


def test_a_zip_bomb_is_refused_fast_in_bounded_memory(bomb):
    found: list[str] = []
    elapsed, peak = bounded(lambda: found.extend(refused(bomb, "bom.zip")))
    assert found == [
        "bom.zip:items/bomb.xml: inflates to more than 16,777,216 bytes, "
        "the cap for one file of an archive"
    ]
    assert elapsed < 5
    assert peak < 3 * limits.MEMBER_BYTES  # the 200 MB were never held


def test_a_header_that_understates_the_size_is_not_trusted():
    """The central directory and the local header claim 100 bytes; the deflated data
    holds 200 MB. The reader stops at the claimed size and the CRC refuses the rest."""
    data = bytearray(package({"imsmanifest.xml": 200 * 2**20}))
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)
    struct.pack_into("<I", data, 22, 100)
    elapsed, _ = bounded(lambda: refused(bytes(data), "lie.zip"))
    [problem] = refused(bytes(data), "lie.zip")
    assert problem.startswith("lie.zip:imsmanifest.xml: cannot read from the package")
    assert "CRC" in problem
    assert elapsed < 5


def test_many_members_stop_at_the_total_inflated_cap():
    per = 12 * 2**20
    hrefs = [f"items/i{k}.xml" for k in range(12)]
    members: dict[str, bytes | int] = {
        "imsmanifest.xml": MANIFEST % b"".join(resource(h) for h in hrefs)
    }
    members.update(dict.fromkeys(hrefs, per))
    found = refused(package(members), "many.zip")
    assert found[-1].endswith(
        "inflates to more than 134,217,728 bytes, the cap for all files of an archive"
    )
    assert len(found) < len(hrefs)  # reading stopped at the cap


def test_an_archive_of_too_many_members_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for k in range(limits.ARCHIVE_MEMBERS + 1):
            z.writestr(f"f{k}", b"")
    assert refused(buffer.getvalue(), "wide.zip") == [
        "wide.zip: 20,001 files in the archive; at most 20,000 allowed"
    ]


def _corrupt(how: str) -> bytes:
    good = package({"imsmanifest.xml": MANIFEST % resource("items/a.xml") * 50})
    data = bytearray(good)
    central = data.find(b"PK\x01\x02")
    if how == "deflate":  # damage the compressed stream (zlib.error)
        data[data.find(b"imsmanifest.xml") + 15] = 0xFF  # block type 3: invalid
    elif how == "crc":
        struct.pack_into("<I", data, central + 16, 0)
        struct.pack_into("<I", data, 14, 0)
    elif how == "method":  # a compression method nobody implements
        struct.pack_into("<H", data, central + 10, 99)
        struct.pack_into("<H", data, 8, 99)
    elif how == "truncated":
        return bytes(data[: len(data) // 2])
    elif how == "not a zip":
        return b"PK\x03\x04 this is no archive"
    return bytes(data)


@pytest.mark.parametrize("how", ["deflate", "crc", "method", "truncated", "not a zip"])
def test_a_corrupt_zip_is_refused_not_raised(how):
    [problem] = refused(_corrupt(how), "rusak.zip")
    assert problem.startswith(("rusak.zip:imsmanifest.xml: cannot read", "rusak.zip: not a zip"))


def test_a_corrupt_item_member_is_refused_not_raised():
    members = {"imsmanifest.xml": MANIFEST % resource("items/a.xml"), "items/a.xml": b"<x/>" * 9}
    data = bytearray(package(members))
    data[data.find(b"items/a.xml") + 11] = 0xFF  # the first byte of its deflate stream
    [problem] = refused(bytes(data), "rusak.zip")
    assert problem == (
        "rusak.zip:items/a.xml: cannot read from the package "
        "(Error -3 while decompressing data: invalid block type)"
    )


def _item(**overrides) -> dict:
    item = {
        "id": "TWK-1",
        "domain": "TWK",
        "topic": "pancasila",
        "stem": "Sila pertama?",
        "options": [{"key": "A", "text": "Satu"}, {"key": "B", "text": "Dua"}],
        "correct": "A",
    }
    item.update(overrides)
    return item


def _bank(*items: dict) -> bytes:
    return json.dumps({"format": "seleksi-bank/1", "items": list(items)}).encode()


def test_json_nested_100000_deep_is_refused():
    text = b'{"items": [\n' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    assert refused(text, "deep.json") == ["deep.json:line 2: nested deeper than 64 levels"]


@pytest.mark.parametrize(
    "number", ["1" * 5000, "1." + "5" * 5000, "-" + "9" * 5000], ids=["int", "float", "negative"]
)
def test_a_5000_digit_number_is_refused(number):
    text = _bank(_item()).replace(b'"correct": "A"', b'"correct": "A", "x": ' + number.encode())
    [problem] = refused(text, "num.json")
    assert problem.startswith("num.json:line 1: a number of 5,00")
    assert "at most 40" in problem


@pytest.mark.parametrize(
    "field,value,where",
    [
        ("stem", "a\ud800b", "items[0].stem"),
        ("topic", "x\x00y", "items[0].topic"),
        ("tags", ["ok", "\udfff"], "items[0].tags[1]"),
    ],
)
def test_nul_and_lone_surrogates_in_json_are_refused(field, value, where):
    [problem] = refused(_bank(_item(**{field: value})), "u.json")
    assert problem.startswith(f"u.json:{where}: contains ")


def test_a_lone_surrogate_in_a_json_key_is_refused():
    text = _bank(_item()).replace(b'"domain"', b'"\\ud800", "domain"', 1)
    text = text.replace(b'"\\ud800", "domain"', b'"\\ud800": 1, "domain"')
    [problem] = refused(text, "k.json")
    assert "contains invalid Unicode (a lone surrogate)" in problem


def test_a_20_mb_stem_is_refused_by_field_name():
    [problem] = refused(_bank(_item(stem="x" * 20_000_000)), "big.json")
    assert problem == ("big.json:items[0]: stem: 20,000,000 characters; at most 20,000 are allowed")


def test_nul_in_a_csv_stem_is_refused():
    text = b"id,domain,topic,stem,option_a,option_b,correct\nT1,TWK,t,sila\x00x,a,b,A\n"
    assert refused(text, "n.csv") == ["n.csv:2: stem: contains a NUL character"]


def test_a_file_over_the_size_cap_is_refused_before_parsing():
    assert refused(b" " * (limits.FILE_BYTES + 1), "huge.json") == [
        "huge.json: 33,554,433 bytes; at most 33,554,432 are allowed"
    ]


def test_xml_nested_too_deep_is_refused():
    deep = b"<a>" * 100_000 + b"</a>" * 100_000
    data = package({"imsmanifest.xml": MANIFEST % resource("items/d.xml"), "items/d.xml": deep})
    assert refused(data, "d.zip") == [
        "d.zip:items/d.xml: XML elements nested deeper than 64 levels"
    ]


def test_a_5000_digit_parameter_in_qti_metadata_is_refused():
    manifest = (
        b'<manifest xmlns="http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1" '
        b'xmlns:sk="urn:seleksi:qti-metadata:1"><resources>'
        b'<resource identifier="x" type="imsqti_item_xmlv3p0" href="x.xml"><metadata>'
        b'<sk:item id="x" domain="TWK" topic="t" model="2pl" a="' + b"1" * 5000 + b'" b="0"/>'
        b"</metadata></resource></resources></manifest>"
    )
    item = (
        b'<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" '
        b'identifier="x"><qti-response-declaration identifier="RESPONSE">'
        b"<qti-correct-response><qti-value>A</qti-value></qti-correct-response>"
        b"</qti-response-declaration><qti-item-body><p>Stem</p>"
        b'<qti-choice-interaction response-identifier="RESPONSE">'
        b'<qti-simple-choice identifier="A">a</qti-simple-choice>'
        b'<qti-simple-choice identifier="B">b</qti-simple-choice>'
        b"</qti-choice-interaction></qti-item-body></qti-assessment-item>"
    )
    found = refused(package({"imsmanifest.xml": manifest, "x.xml": item}), "p.zip")
    assert any("a: a number of 5,000 characters" in p for p in found), found


# -- enrollment ------------------------------------------------------------------------------

HEAD = b"registration_number,name,formation,extra_time_minutes\n"


def test_enrollment_5000_digit_extra_time():
    rows, problems = read_enrollment_csv(HEAD + b"2401,Ani,Auditor," + b"9" * 5000 + b"\n", "e.csv")
    assert rows == []
    assert [str(p) for p in problems] == [
        "e.csv:2: extra_time_minutes: 5,000 characters; at most 200 are allowed"
    ]


def test_enrollment_long_extra_time_within_the_field_cap():
    rows, problems = read_enrollment_csv(HEAD + b"2401,Ani,Auditor," + b"9" * 150 + b"\n", "e.csv")
    assert rows == [] and "is not a whole number of minutes" in str(problems[0])


def test_enrollment_field_over_128_kb():
    rows, problems = read_enrollment_csv(HEAD + b"2401," + b"a" * 140_000 + b",A,\n", "e.csv")
    assert rows == []
    [problem] = problems
    assert str(problem).startswith("e.csv:2: not valid CSV (field larger than field limit")


def test_enrollment_nul_and_invalid_utf8():
    _, problems = read_enrollment_csv(HEAD + b"2401,A\x00ni,Auditor,\n", "e.csv")
    assert [str(p) for p in problems] == ["e.csv:2: name: contains a NUL character"]
    _, problems = read_enrollment_csv(HEAD + b"2401,\xed\xa0\x80,Auditor,\n", "e.csv")
    assert [str(p) for p in problems] == ["e.csv: not UTF-8 text"]


# -- responses and parameters CSVs ----------------------------------------------------------


def test_a_5000_digit_response_cell_and_step_column(tmp_path):
    responses = tmp_path / "r.csv"
    responses.write_text("person_id,q1\nA," + "1" * 5000 + "\n")
    with pytest.raises(InputError) as caught:
        read_response_matrix(responses)
    assert str(caught.value).startswith(f"{responses}:2: q1: ")
    params = tmp_path / "p.csv"
    params.write_text("item_id,model,a,b" + "1" * 5000 + "\nq1,gpcm,1,0\n")
    with pytest.raises(InputError) as caught:
        read_params_csv(params)
    assert "unknown column in the header" in str(caught.value)
    params.write_text("item_id,model,a,b,c\nq1,2pl,1," + "1" * 5000 + ",0\n")
    with pytest.raises(InputError) as caught:
        read_params_csv(params)
    assert (
        str(caught.value) == f"{params}:2: b: a number of 5,000 characters; at most 40 are allowed"
    )


def test_nul_in_a_responses_csv(tmp_path):
    responses = tmp_path / "r.csv"
    responses.write_text("person_id,q1\nA\x00B,1\n")
    with pytest.raises(InputError) as caught:
        read_response_matrix(responses)
    assert str(caught.value) == f"{responses}:2: person_id: contains a NUL character"


def test_a_short_header_cannot_make_a_huge_matrix(tmp_path):
    """A header of 10,000 items over 50,000 one-field rows would ask for a 4 GB matrix;
    the rows' widths are checked first."""
    responses = tmp_path / "r.csv"
    header = "person_id," + ",".join(f"q{k}" for k in range(9_999))
    responses.write_text(header + "\n" + "A\n" * 50_000)
    with pytest.raises(InputError) as caught:
        read_response_matrix(responses)
    assert str(caught.value) == f"{responses}:2: 1 fields, the header has 10000"


# -- receipts and checkpoints -------------------------------------------------------------


def test_a_5000_digit_receipt_index():
    with pytest.raises(NoteError, match="at most 20 digits"):
        parse_proof("c2sp.org/tlog-proof@v1\nindex " + "1" * 5000 + "\n\ncheckpoint\n")
    with pytest.raises(NoteError, match="at most 20 digits"):
        parse_proof("c2sp.org/tlog-proof@v1\nindex \u00b2\n\ncheckpoint\n")


def test_a_proof_of_too_many_hashes():
    line = "A" * 43 + "="
    with pytest.raises(NoteError, match="65 proof hashes"):
        parse_proof("c2sp.org/tlog-proof@v1\nindex 1\n" + f"{line}\n" * 65 + "\ncp\n")


def test_a_5000_digit_checkpoint_size():
    root = "A" * 43 + "="
    with pytest.raises(NoteError, match="at most 20 digits"):
        Checkpoint.parse_text(f"origin\n{'1' * 5000}\n{root}\n")
    assert Checkpoint.parse_text(f"origin\n{2**64 - 1}\n{root}\n").size == 2**64 - 1
