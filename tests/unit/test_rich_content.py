"""Rich item content: sanitised markup, pictures by SHA-256, and their way through every
bank format (IMS's own QTI 2.1 examples included)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from itembank import assets, markup
from itembank.assets import AssetError
from itembank.content import BankInputError, check_item
from itembank.demo_rich import rich_items
from itembank.transfer import read_bank, write_bank
from scoring import limits

FIXTURES = Path(__file__).parent.parent / "fixtures"
IMS = FIXTURES / "ims_qti21"
SIGN = (IMS / "images" / "sign.png").read_bytes()
SQUARE = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="5"/></svg>'


def zipped(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file() and p.name != "README.md":
                z.write(p, p.relative_to(folder).as_posix())
    return buf.getvalue()


def package(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def problems(data: bytes, name: str) -> list[str]:
    with pytest.raises(BankInputError) as err:
        read_bank(data, name)
    return [str(p) for p in err.value.problems]


def png(width: int = 4, height: int = 4) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, "PNG")
    return buf.getvalue()


# -- markup -------------------------------------------------------------------------


def test_markup_keeps_tables_mathml_and_pictures_and_drops_everything_active():
    dirty = (
        '<p onclick="x()">Hitung <math display="block"><mfrac><mn>1</mn><mn>2</mn></mfrac>'
        '</math><img src="asset:' + "a" * 64 + '" alt="A" onerror="x()"></p>'
        '<table><tr><th scope="col">x</th></tr></table><script>alert(1)</script>'
        '<a href="javascript:x()">tautan</a><svg><script>alert(2)</script></svg>'
        '<math><semantics><mi>a</mi><annotation-xml encoding="text/html">'
        "<img src=x onerror=alert(3)></annotation-xml></semantics></math>"
        '<p style="background:url(http://e/x)">gaya</p><iframe src="http://e"></iframe>'
    )
    clean = markup.clean(dirty)
    for gone in ("onclick", "onerror", "script", "alert", "javascript", "href", "svg", "style"):
        assert gone not in clean, gone
    assert "annotation" not in clean and "iframe" not in clean
    assert '<math display="block"><mfrac><mn>1</mn><mn>2</mn></mfrac></math>' in clean
    assert '<th scope="col">x</th>' in clean and "tautan" in clean and "gaya" in clean
    assert markup.clean(clean) == clean
    shown = markup.render(clean, lambda h: f"/assets/{h}")
    assert f'src="/assets/{"a" * 64}"' in shown


def test_external_pictures_lose_their_source_and_every_picture_needs_alt_text():
    clean = markup.clean('<img src="https://e.example/x.png" alt="luar"><img src="asset:1">')
    assert markup.images(clean) == [("", "luar"), ("asset:1", "")]
    assert markup.image_problems(clean) == [
        "image 1 has no source (only pictures inside the file are allowed)",
        "image 2 (asset:1) has no alt text",
    ]
    # a page shows only stored pictures, whatever reached the database
    assert "src" not in markup.render('<img src="x.png" alt="x">', lambda h: h)


# -- pictures -----------------------------------------------------------------------


def test_svg_is_rebuilt_without_scripts_events_or_external_references():
    evil = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        b'onload="alert(1)"><script>alert(2)</script><a xlink:href="javascript:x()">'
        b'<rect width="5"/></a><image href="http://e.example/x.png"/>'
        b'<use xlink:href="http://e.example/x.svg#a"/><use href="#r"/>'
        b'<rect id="r" style="fill:url(http://e.example/x)" fill="url(#g)" onclick="x"/>'
        b"<style>@import url(http://e.example/s.css);</style><foreignObject><p>hi</p>"
        b'</foreignObject><animate attributeName="href" to="javascript:x"/>'
        b'<circle cx="5" cy="5" r="2" fill="red"/></svg>'
    )
    asset = assets.check(evil)
    out = asset.data.decode()
    for gone in ("onload", "onclick", "script", "alert", "javascript", "http://e", "image",
                 "foreignObject", "animate", "@import", "<a"):  # fmt: skip
        assert gone not in out, gone
    assert '<use href="#r" />' in out and 'fill="url(#g)"' in out and "<circle" in out
    assert asset.media_type == "image/svg+xml"
    assert asset.sha256 == hashlib.sha256(asset.data).hexdigest()
    assert assets.sanitise_svg(asset.data) == asset.data


@pytest.mark.parametrize(
    "data,message",
    [
        (b"GIF89a" + b"\0" * 20, "a GIF file: only PNG, JPEG and SVG pictures are allowed"),
        (b"hello", "not a PNG, JPEG or SVG picture"),
        (SIGN[:200], "damaged image/png picture"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>', "malformed SVG"),
        (b"<svg><rect/></svg>", "root element must be svg in the SVG namespace"),
        (
            b'<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg"/>',
            "refused SVG",
        ),
    ],
)
def test_refused_pictures_say_why(data, message):
    with pytest.raises(AssetError, match=message.replace("(", r"\(")):
        assets.check(data)


def test_picture_caps(monkeypatch):
    monkeypatch.setattr(limits, "ASSET_BYTES", 100)
    with pytest.raises(AssetError, match="a picture may have at most 100"):
        assets.check(SIGN)
    monkeypatch.setattr(limits, "ASSET_BYTES", 2**20)
    monkeypatch.setattr(limits, "IMAGE_PIXELS", 10)
    with pytest.raises(AssetError, match=r"4×4 pixels; a picture may have at most 10 pixels"):
        assets.check(png())


# -- IMS's own QTI 2.1 examples -----------------------------------------------------


@pytest.mark.parametrize("out_version", ["2.1", "3.0"])
def test_ims_qti21_examples_import_and_export_back_with_their_pictures(tmp_path, out_version):
    read = read_bank(zipped(IMS), "ims.zip")
    items = {i.item_id: i for i, _, _ in read}
    luggage, relativity = items["choice"], items["math"]
    sign_sha = hashlib.sha256(SIGN).hexdigest()
    assert luggage.markup and luggage.correct == "A" and luggage.asset_refs() == [sign_sha]
    assert f'<img src="asset:{sign_sha}" alt="NEVER LEAVE LUGGAGE UNATTENDED">' in luggage.stem
    assert "What does it say?" in luggage.stem
    assert read.assets[sign_sha].data == SIGN and read.assets[sign_sha].media_type == "image/png"
    assert "<msup> <mi>c</mi> <mn>2</mn> </msup>" in relativity.stem
    assert relativity.options[0].text == "Einstein" and relativity.correct == "A"

    out = tmp_path / "back.zip"
    write_bank(list(items.values()), out, out_version, read.assets)
    with zipfile.ZipFile(out) as z:
        assert z.read(f"assets/{sign_sha}.png") == SIGN
        xml = z.read("items/choice.xml").decode()
        manifest = z.read("imsmanifest.xml").decode()
    assert f'src="../assets/{sign_sha}.png" alt="NEVER LEAVE LUGGAGE UNATTENDED"' in xml
    assert f'href="assets/{sign_sha}.png"' in manifest
    again = read_bank(out.read_bytes(), "back.zip")
    assert [i.content_hash() for i, _, _ in again] == [i.content_hash() for i in items.values()]
    assert again.assets[sign_sha].data == SIGN


def test_a_qti30_object_table_and_mathml_item_round_trips(tmp_path):
    read = read_bank(zipped(FIXTURES / "qti30_rich"), "rich.zip")
    [(item, _, where)] = read
    [(sha, asset)] = read.assets.items()
    assert where == "items/rich.xml" and asset.media_type == "image/svg+xml"
    assert f'<img src="asset:{sha}" alt="Persegi dengan sisi 8 cm" width="100"' in item.stem
    assert "<table><tbody><tr><th>sisi</th>" in item.stem
    assert item.options[2].text == "<math><mfrac><mn>64</mn><mn>2</mn></mfrac></math>"
    for name in ("q21.zip", "q30.zip", "bank.csv.zip", "bank.json.zip"):
        out = tmp_path / name
        write_bank([item], out, "2.1" if "21" in name else "3.0", read.assets)
        again = read_bank(out.read_bytes(), name)
        assert [i.content_hash() for i, _, _ in again] == [item.content_hash()], name
        assert again.assets == read.assets, name


# -- CSV and JSON in a zip ----------------------------------------------------------

ROW = "id,domain,topic,stem,option_a,option_b,correct,markup\n"


def test_csv_in_a_zip_refers_to_pictures_by_path():
    csv = ROW + 'F1,TIU,figural,"<p><img src=""gambar/k.svg"" alt=""Kotak""></p>",satu,dua,A,1\n'
    read = read_bank(package({"bank.csv": csv, "gambar/k.svg": SQUARE}), "bank.zip")
    [(item, source, where)] = read
    [sha] = read.assets
    assert source == "bank.zip:bank.csv" and where == "2"
    assert item.stem == f'<p><img src="asset:{sha}" alt="Kotak"></p>'


def test_json_in_a_zip_with_one_bad_picture_imports_nothing():
    doc = {
        "items": [
            {"id": f"F{n}", "domain": "TIU", "topic": "figural", "markup": True,
             "stem": f'<p><img src="{src}" alt="x"></p>',
             "options": [{"key": "A", "text": "a"}, {"key": "B", "text": "b"}], "correct": "A"}
            for n, src in enumerate(["ok.png", "anim.gif", "nope.png", "http://e.example/x.png"])
        ]
    }  # fmt: skip
    data = package(
        {"bank.json": json.dumps(doc), "ok.png": png(), "anim.gif": b"GIF89a" + b"\0" * 20}
    )
    found = problems(data, "b.zip")
    assert found == [
        "b.zip:bank.json:items[1]: stem: picture anim.gif: a GIF file: only PNG, JPEG and SVG "
        "pictures are allowed",
        "b.zip:bank.json:items[2]: stem: picture nope.png is not in the package",
        "b.zip:bank.json:items[3]: stem: image 1 has no source (only pictures inside the file "
        "are allowed)",
    ]


def test_pictures_need_alt_text_and_a_package_path():
    csv = ROW + 'F1,TIU,figural,"<img src=""../k.svg"" alt=""k"">","<img src=""k.svg"">",b,A,1\n'
    found = problems(package({"sub/bank.csv": "", "bank.csv": csv, "k.svg": SQUARE}), "p.zip")
    assert found == [
        "p.zip:bank.csv:2: stem: picture ../k.svg: not a file of the package",
        "p.zip:bank.csv:2: option A: image 1 (asset:"
        + hashlib.sha256(assets.sanitise_svg(SQUARE)).hexdigest()
        + ") has no alt text",
    ]
    assert any("picture k.svg is not in the package" in p for p in problems(csv.encode(), "b.csv"))
    bad_flag = ROW + "F1,TIU,t,s,a,b,A,ya\n"
    assert "b.csv:2: markup: use 1 (markup) or leave it empty" in problems(
        bad_flag.encode(), "b.csv"
    )


def test_a_picture_enters_the_content_hash_and_the_canonical_item():
    items, pictures = rich_items()
    figural = next(i for i in items if i.item_id == "TIU-F01")
    refs = figural.asset_refs()
    assert figural.canonical()["assets"] == refs and set(refs) <= set(pictures)
    other = replace(figural, stem=figural.stem.replace(refs[0], "0" * 64))
    assert other.content_hash() != figural.content_hash()
    plain = replace(figural, markup=False, stem="teks")
    assert "assets" not in plain.canonical() and "markup" not in plain.canonical()


def test_the_rich_demo_items_are_valid_and_show_svg_tables_and_fractions():
    items, pictures = rich_items()
    assert all(check_item(i, "demo", i.item_id) == [] for i in items)
    assert {p.media_type for p in pictures.values()} == {"image/svg+xml"}
    topics = {i.topic for i in items}
    assert topics == {"figural", "numerik"}
    assert {t for i in items for t in i.tags} >= {
        "deret_gambar", "analogi_gambar", "ketidaksamaan_gambar", "tabel", "pecahan",
    }  # fmt: skip
    assert any("<table>" in i.stem and "<math>" not in i.stem for i in items)
    assert any("<mfrac>" in o.text for i in items for o in i.options)
    again, _ = rich_items()
    assert [i.content_hash() for i in again] == [i.content_hash() for i in items]
