"""Bank files: CSV, JSON and QTI 2.1/3.0 round trips, and every kind of bad input."""

import io
import zipfile

import pytest

from itembank import qti
from itembank.content import BankInputError, ItemContent, Option
from itembank.transfer import read_bank, read_bank_file, write_bank

OPTS = tuple(Option(k, f"pilihan {k}") for k in "ABCDE")


def sample_items() -> list[ItemContent]:
    return [
        ItemContent(
            "TWK-001",
            "TWK",
            "pilar_negara",
            "Sila pertama Pancasila adalah …",
            OPTS,
            correct="A",
            model="3pl",
            a=1.2,
            b=-0.5,
            c=0.2,
            tags=("pancasila",),
            status="operational",
            enemies=("TWK-002",),
        ),
        ItemContent(
            "TWK-002",
            "TWK",
            "pilar_negara",
            'Baris satu\nbaris dua, "kutip"; titik',
            OPTS[:4],
            correct="D",
            model="2pl",
            a=0.9,
            b=1.25,
            c=0.0,
            status="pilot",
            enemies=("TWK-001",),
        ),
        ItemContent(
            "TKP-001",
            "TKP",
            "pelayanan_publik",
            "Warga marah di loket. Anda …",
            OPTS,
            points=(("A", 2), ("B", 5), ("C", 3), ("D", 1), ("E", 4)),
            model="gpcm",
            a=0.8,
            steps=(-2.0, -1.0, 0.5, 1.5),
            status="operational",
        ),
        ItemContent(
            "TIU-001", "TIU", "numerik", "2, 4, 8, 16, …", OPTS, correct="C", status="draft"
        ),
    ]


def by_id(located):
    return {item.item_id: item for item, _, _ in located}


@pytest.mark.parametrize(
    "name,version",
    [("bank.csv", None), ("bank.json", None), ("bank.zip", "3.0"), ("bank.zip", "2.1")],
)
def test_round_trip_is_lossless(tmp_path, name, version):
    items = sample_items()
    path = tmp_path / name
    write_bank(items, path, version or "3.0")
    back = by_id(read_bank_file(path))
    for item in items:
        got = back[item.item_id]
        assert got == item
        assert got.content_hash() == item.content_hash()
        assert set(got.enemies) == set(item.enemies)
    # And a second export of what was read is byte-identical for CSV and JSON.
    if version is None:
        again = tmp_path / ("again" + path.suffix)
        write_bank([back[i.item_id] for i in items], again)
        assert again.read_bytes() == path.read_bytes()


def test_category_points_and_categories():
    tkp = sample_items()[2]
    assert tkp.category_points(5) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert tkp.category_of("B") == 4 and tkp.category_of("D") == 0
    twk = sample_items()[0]
    assert twk.category_of("A") == 1 and twk.category_of("B") == 0


HEADER = (
    "id,domain,topic,tags,status,stem,option_a,option_b,option_c,option_d,option_e,"
    "correct,points_a,points_b,points_c,points_d,points_e,model,a,b,c,steps,enemies\n"
)
GOOD = "T1,TWK,t,,operational,Soal,a,b,c,d,e,A,,,,,,2pl,1.0,0.0,,,\n"


def problems(data: str | bytes, name: str) -> list[str]:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(BankInputError) as err:
        read_bank(raw, name)
    return [str(p) for p in err.value.problems]


@pytest.mark.parametrize(
    "body,expected",
    [
        (GOOD.replace(",1.0,0.0,", ",x,0.0,"), "bank.csv:2: a: 'x' is not a number"),
        (GOOD.replace(",0.0,,,", ",0.0,nan,,"), "bank.csv:2: c: 'nan' is not a finite number"),
        (GOOD + GOOD, "bank.csv:3: id: duplicate id T1 (first at 2)"),
        (GOOD.replace(",A,,", ",,,"), "bank.csv:2: correct: missing correct option"),
        (GOOD.replace(",A,,", ",F,,"), "bank.csv:2: correct: 'F' is not one of the options"),
        (GOOD.replace("Soal", ""), "bank.csv:2: stem: empty stem"),
        (GOOD.replace(",,,\n", ",,,T9\n"), "bank.csv:2: enemies: unknown item T9"),
        (GOOD.replace("operational", "live"), "bank.csv:2: status: 'live' is not one of"),
        (GOOD.replace("2pl,1.0,0.0", ",,"), "bank.csv:2: model: an operational item needs IRT"),
        (GOOD.replace("2pl", "gpcm"), "bank.csv:2: model: a keyed item needs rasch"),
        (
            GOOD.replace("a,b,c,d,e,A,,,,,,", "a,b,c,d,e,,1,2,x,4,5,"),
            "bank.csv:2: points_c: 'x' is not a whole number",
        ),
        ("T1,TWK,t\n", "bank.csv:2: 3 fields, the header has 23"),
    ],
)
def test_broken_csv_rows(body, expected):
    found = problems(HEADER + body, "bank.csv")
    assert any(expected in p for p in found), found


def test_every_problem_is_listed_not_only_the_first():
    body = GOOD.replace("1.0", "x") + GOOD.replace("T1", "T2").replace("Soal", "")
    found = problems(HEADER + body, "bank.csv")
    assert any("bank.csv:2: a:" in p for p in found)
    assert any("bank.csv:3: stem:" in p for p in found)


def test_csv_header_problems():
    assert any("missing column" in p for p in problems("id,domain\nT1,TWK\n", "bank.csv"))
    assert any(
        "bank.csv:1: colour: unknown column" in p
        for p in problems(HEADER.replace("tags", "colour") + GOOD, "bank.csv")
    )
    assert any("empty file" in p for p in problems("", "bank.csv"))
    assert any("not UTF-8" in p for p in problems(b"\xff\xfe\x00bad", "bank.csv"))


def test_csv_line_numbers_follow_multiline_fields():
    multi = 'T1,TWK,t,,operational,"Soal\nbaris dua",a,b,c,d,e,A,,,,,,2pl,1.0,0.0,,,\n'
    bad = GOOD.replace("T1", "T2").replace("1.0", "y")
    found = problems(HEADER + multi + bad, "bank.csv")
    assert any(p.startswith("bank.csv:4: a:") for p in found), found


@pytest.mark.parametrize(
    "doc,expected",
    [
        ('{"items": [', "bank.json:1: not valid JSON"),
        ("[]", "bank.json: items: expected an object"),
        (
            '{"items": [{"id": "J1", "domain": "TWK", "topic": "t", "stem": "s", '
            '"options": [{"key": "A", "text": "a"}, {"key": "B", "text": "b"}], "correct": "A", '
            '"model": "2pl", "params": {"a": "tinggi", "b": 0}}]}',
            "bank.json:items[0]: params.a: 'tinggi' is not a finite number",
        ),
        (
            '{"items": [{"id": "J1", "domain": "TWK", "topic": "t", "stem": "s", '
            '"options": [{"key": "A", "text": "a"}, {"key": "C", "text": "b"}], "correct": "A"}]}',
            "bank.json:items[0]: options: option keys must be A, B in order",
        ),
    ],
)
def test_broken_json(doc, expected):
    found = problems(doc, "bank.json")
    assert any(expected in p for p in found), found


def test_unknown_extension():
    assert any("unknown format" in p for p in problems("x", "bank.xlsx"))


# -- QTI -------------------------------------------------------------------------------

V21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"


def package(items: dict[str, str], manifest: str | None = None, rtype="imsqti_item_xmlv2p1"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        if manifest is None:
            res = "".join(
                f'<resource identifier="{n}" type="{rtype}" href="{n}.xml">'
                f'<file href="{n}.xml"/></resource>'
                for n in items
            )
            manifest = (
                '<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1">'
                f"<resources>{res}</resources></manifest>"
            )
        z.writestr("imsmanifest.xml", manifest)
        for name, xml in items.items():
            z.writestr(f"{name}.xml", xml)
    return buf.getvalue()


def item21(
    body: str, decl: str = "<correctResponse><value>c1</value></correctResponse>", ident: str = "Q1"
) -> str:
    return (
        f'<assessmentItem xmlns="{V21}" identifier="{ident}" title="q">'
        f'<responseDeclaration identifier="RESPONSE" cardinality="single" '
        f'baseType="identifier">{decl}</responseDeclaration>'
        f"<itemBody>{body}</itemBody></assessmentItem>"
    )


CHOICE = (
    '<choiceInteraction responseIdentifier="RESPONSE" maxChoices="1">'
    '<prompt>Pilih satu.</prompt><simpleChoice identifier="c1">satu</simpleChoice>'
    '<simpleChoice identifier="c2">dua</simpleChoice></choiceInteraction>'
)


def test_foreign_qti21_item_imports_as_a_draft_with_mapped_keys():
    data = package({"Q1": item21(f"<div><p>Berapa?</p>{CHOICE}</div>")})
    [(item, _, where)] = read_bank(data, "foreign.zip")
    assert item.item_id == "Q1" and item.status == "draft" and item.domain == "UNSORTED"
    assert item.stem == "Berapa?\nPilih satu." and item.correct == "A"
    assert [o.text for o in item.options] == ["satu", "dua"]
    assert where == "Q1.xml"


def test_qti_per_option_points_make_a_tkp_item():
    decl = (
        '<mapping defaultValue="0"><mapEntry mapKey="c1" mappedValue="2"/>'
        '<mapEntry mapKey="c2" mappedValue="5"/></mapping>'
    )
    [(item, _, _)] = read_bank(package({"Q1": item21(CHOICE, decl)}), "p.zip")
    assert item.points == (("A", 2), ("B", 5)) and item.correct is None


@pytest.mark.parametrize(
    "body,expected",
    [
        (
            '<p>Isi:</p><textEntryInteraction responseIdentifier="RESPONSE"/>',
            "p.zip:Q1.xml:/assessmentItem/itemBody/textEntryInteraction: unsupported interaction "
            "type textEntryInteraction",
        ),
        (
            CHOICE.replace('maxChoices="1"', 'maxChoices="2"'),
            "maxChoices: only single-answer items are supported",
        ),
        (
            '<p><object data="o.html" type="text/html"/></p>' + CHOICE,
            "Q1.xml:/assessmentItem/itemBody/p/object: object of type text/html: only PNG, "
            "JPEG and SVG pictures are supported",
        ),
        (
            '<p><audio src="a.mp3"/></p>' + CHOICE,
            "Q1.xml:/assessmentItem/itemBody/p/audio: unsupported content audio",
        ),
        ('<p><img src="a.png" alt="gambar"/></p>' + CHOICE, "picture a.png is not in the package"),
        ("<p>tanpa pilihan</p>", "expected one choiceInteraction, found 0"),
    ],
)
def test_unsupported_qti_is_reported_with_its_xml_path(body, expected):
    found = problems(package({"Q1": item21(body)}), "p.zip")
    assert any(expected in p for p in found), found


def test_malformed_and_unsupported_packages():
    assert any("not a zip file" in p for p in problems(b"PK nonsense", "p.zip"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "x")
    assert any("no imsmanifest.xml" in p for p in problems(buf.getvalue(), "p.zip"))
    broken = package({"Q1": "<assessmentItem><itemBody>"})
    assert any("p.zip:Q1.xml:1: malformed XML" in p for p in problems(broken, "p.zip"))
    missing = package(
        {},
        manifest=(
            '<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"><resources>'
            '<resource identifier="Q9" type="imsqti_item_xmlv2p1" href="Q9.xml"/>'
            "</resources></manifest>"
        ),
    )
    assert any("'Q9.xml' is not in the package" in p for p in problems(missing, "p.zip"))
    old = package({"Q1": item21(CHOICE)}, rtype="imsqti_item_xmlv2p0")
    assert any("unsupported resource type imsqti_item_xmlv2p0" in p for p in problems(old, "p.zip"))


def test_xml_entity_expansion_is_refused():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>' + item21("&lol2;" + CHOICE)
    )
    found = problems(package({"Q1": bomb}), "p.zip")
    assert any("refused XML" in p for p in found), found


def test_qti_written_by_seleksi_validates_its_dialect(tmp_path):
    path = tmp_path / "b.zip"
    qti.write(sample_items(), path, "3.0")
    with zipfile.ZipFile(path) as z:
        xml = z.read("items/TKP-001.xml").decode()
    assert "qti-assessment-item" in xml and "qti-map-entry" in xml and 'map-key="B"' in xml


@pytest.mark.parametrize(
    "doc,expected",
    [
        ('{"items": [{"id": "J1", "options": 5}]}', "items[0]: options: options must be a list"),
        ('{"items": [{"id": ["J1"], "options": []}]}', "items[0]: id: id must be text"),
    ],
)
def test_json_with_wrong_types_is_reported(doc, expected):
    found = problems(doc, "bank.json")
    assert any(expected in p for p in found), found


def test_qti_infinite_points_and_damaged_members_are_reported():
    decl = (
        '<mapping defaultValue="0"><mapEntry mapKey="c1" mappedValue="inf"/>'
        '<mapEntry mapKey="c2" mappedValue="5"/></mapping>'
    )
    found = problems(package({"Q1": item21(CHOICE, decl)}), "p.zip")
    assert any("'inf' is not whole points" in p for p in found), found
    data = bytearray(package({"Q1": item21(CHOICE)}))
    start = data.index(b"<assessmentItem")
    data[start + 40 : start + 44] = b"XXXX"  # corrupt the stored member: its CRC fails
    found = problems(bytes(data), "p.zip")
    assert any("Q1.xml" in p for p in found), found


@pytest.mark.parametrize("name", ["b.csv", "b.json", "b.zip"])
def test_white_space_survives_every_format(tmp_path, name):
    messy = ItemContent(
        "W1",
        "TWK",
        "t",
        "  Baris  satu \n\n   baris\tdua  ",
        (Option("A", " satu\n dua "), Option("B", "tiga")),
        correct="A",
    )
    path = tmp_path / name
    write_bank([messy], path)
    [(back, _, _)] = read_bank_file(path)
    assert back.stem == "Baris satu\nbaris dua" and back.options[0].text == "satu dua"
    again = tmp_path / ("again" + path.suffix)
    write_bank([back], again)
    [(twice, _, _)] = read_bank_file(again)
    assert twice.content_hash() == back.content_hash()


def test_a_tag_with_a_separator_is_refused():
    doc = (
        '{"items": [{"id": "J1", "domain": "TWK", "topic": "t", "stem": "s", "tags": ["a;b"],'
        ' "options": [{"key": "A", "text": "a"}, {"key": "B", "text": "b"}], "correct": "A"}]}'
    )
    assert any("tags: a tag cannot contain ';'" in p for p in problems(doc, "t.json"))
