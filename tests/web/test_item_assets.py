"""Pictures by hash over HTTP, the committee's preview of rich items, and the bank
snapshot an exam commits to, which names every picture by its SHA-256."""

from __future__ import annotations

import hashlib
import io
import zipfile

from exam.adapters import database
from exam.adapters.models import Exam
from exam.adapters.runtime import snapshot_hash
from exam.cat.blueprint import ContentRule, ExamConfig, SectionConfig
from exam.usecases import delivery
from itembank import repository
from itembank.demo_rich import rich_items
from itembank.models import ItemAsset
from tests.unit.test_rich_content import IMS, SIGN, zipped
from tests.web.conftest import START, csrf, login, problems_in

SIGN_SHA = hashlib.sha256(SIGN).hexdigest()


def upload(client, name: str, data: bytes):
    return client.post(
        "/committee/bank/import",
        files={"file": (name, data)},
        headers={"x-csrftoken": csrf(client)},
    )


def test_an_ims_package_with_a_picture_is_previewed_and_its_picture_served(committee, client):
    res = upload(committee, "ims.zip", zipped(IMS))
    assert res.status_code == 200 and "2 new" in res.text
    page = committee.get("/committee/bank/items/choice")
    assert page.status_code == 200
    assert f'<img src="/assets/{SIGN_SHA}" alt="NEVER LEAVE LUGGAGE UNATTENDED">' in page.text
    assert 'class="item preview"' in page.text and 'name="choice" value="C"' in page.text
    pic = committee.get(f"/assets/{SIGN_SHA}")
    assert pic.status_code == 200 and pic.content == SIGN
    assert pic.headers["content-type"] == "image/png"
    assert pic.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert "sandbox" in pic.headers["content-security-policy"]
    assert committee.get(f"/assets/{'0' * 64}").status_code == 404
    assert committee.get("/assets/not-a-hash").status_code == 404
    math = committee.get("/committee/bank/items/math")
    assert "<msup> <mi>c</mi> <mn>2</mn> </msup>" in math.text


def test_pictures_are_for_applicants_and_the_committee_only(committee, web_settings):
    upload(committee, "ims.zip", zipped(IMS))
    committee.post("/logout", headers={"x-csrftoken": csrf(committee)})
    anonymous = committee.get(f"/assets/{SIGN_SHA}", follow_redirects=False)
    assert anonymous.status_code in (303, 401)
    assert login(committee, "pengamat").status_code == 303
    assert committee.get(f"/assets/{SIGN_SHA}").status_code == 403


def test_a_package_with_one_bad_picture_imports_nothing(committee):
    files = {p.relative_to(IMS).as_posix(): p.read_bytes() for p in IMS.rglob("*") if p.is_file()}
    files["images/sign.png"] = b"GIF89a" + b"\0" * 20
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    res = upload(committee, "ims.zip", buf.getvalue())
    assert res.status_code == 422
    assert problems_in(res.text) == ["choice.xml"]
    assert "picture images/sign.png: a GIF file: only PNG, JPEG and SVG" in res.text
    assert committee.get("/committee/bank/items/math").status_code == 404


def test_the_committed_bank_snapshot_names_every_picture(web_settings):
    engine = database.sync_engine(web_settings)
    items, pictures = rich_items()
    with database.session_factory(engine)() as session, session.begin():
        repository.import_items(session, [(i, "demo", i.item_id) for i in items], pictures)
        stored = {a.sha256: a.data for a in session.query(ItemAsset)}
        assert stored and all(hashlib.sha256(d).hexdigest() == h for h, d in stored.items())
        config = ExamConfig(
            "RICH",
            "Gambar",
            (SectionConfig("TIU", "TIU", kind="fixed", max_items=2,
                           content=(ContentRule("figural", 1, 1), ContentRule("numerik", 1, 1))),),
            600,
        )  # fmt: skip
        exam = delivery.new_exam(session, config)
        delivery.open_exam(session, exam, START)
        exam_id = exam.id
    with database.session_factory(engine)() as session:
        exam = session.get(Exam, exam_id)
        snap = {i["id"]: i for i in exam.bank_snapshot["items"]}
        assert set(stored) == {h for i in snap.values() for h in i.get("assets", [])}
        assert (
            snap["TIU-F01"]["assets"]
            == next(i for i in items if i.item_id == "TIU-F01").asset_refs()
        )
        assert exam.snapshot_sha256 == snapshot_hash(exam.bank_snapshot["items"])
        # another picture is another snapshot: the log's commitment covers the pictures
        altered = [dict(i) for i in exam.bank_snapshot["items"]]
        altered[0] = dict(altered[0], assets=["0" * 64])
        assert snapshot_hash(altered) != exam.snapshot_sha256
    engine.dispose()
