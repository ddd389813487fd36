"""The committee's item-bank pages over HTTP (Litestar's TestClient), on both databases."""

import json

from litestar.testing import TestClient

from exam.app import create_app
from itembank.transfer import write_bank
from tests.unit.test_bank_formats import sample_items
from tests.web.conftest import csrf, login, problems_in


def upload(client, name: str, data: bytes):
    return client.post(
        "/committee/bank/import",
        files={"file": (name, data)},
        headers={"x-csrftoken": csrf(client)},
    )


def good_bank(tmp_path) -> bytes:
    path = tmp_path / "bank.json"
    write_bank(sample_items(), path)
    return path.read_bytes()


def test_anonymous_browsers_go_to_login_and_the_api_gets_401(client):
    page = client.get("/committee/bank/", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert client.get("/committee/bank/", headers={"accept": "application/json"}).status_code == 401


def test_other_roles_are_refused(client):
    for name in ("peserta01", "pengamat"):
        assert login(client, name).status_code == 303
        assert client.get("/committee/bank/").status_code == 403
        client.post("/logout", headers={"x-csrftoken": csrf(client)})


def test_wrong_password_is_refused_with_a_message(client):
    res = login(client, "komite", "salah")
    assert res.status_code == 401 and "kata sandi salah" in res.text


def test_state_changes_need_the_csrf_token(client):
    res = client.post("/login", data={"username": "komite", "password": "x"})
    assert res.status_code == 403


def test_import_upload_then_browse_search_and_detail(committee, tmp_path):
    res = upload(committee, "bank.json", good_bank(tmp_path))
    assert res.status_code == 200 and "4 new" in res.text
    page = committee.get("/committee/bank/")
    assert page.status_code == 200
    assert all(i in page.text for i in ("TWK-001", "TKP-001", "TIU-001"))
    rows = committee.get(
        "/committee/bank/", params={"q": "Pancasila"}, headers={"HX-Request": "true"}
    )
    assert rows.status_code == 200 and "<html" not in rows.text
    assert "TWK-001" in rows.text and "TKP-001" not in rows.text
    only_tkp = committee.get("/committee/bank/", params={"domain": "TKP"})
    assert "TKP-001" in only_tkp.text and "TWK-002" not in only_tkp.text
    detail = committee.get("/committee/bank/items/TKP-001")
    assert detail.status_code == 200 and "Warga marah" in detail.text
    assert "/committee/bank/items/TKP-001/versions/1/information.svg" in detail.text
    svg = committee.get("/committee/bank/items/TKP-001/versions/1/information.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    assert (
        committee.get("/committee/bank/items/TIU-001/versions/1/information.svg").status_code == 404
    )
    assert committee.get("/committee/bank/items/NOPE").status_code == 404


def test_a_broken_upload_lists_every_problem_and_imports_nothing(committee, tmp_path):
    doc = json.loads(good_bank(tmp_path))
    doc["items"][0]["correct"] = "Z"
    doc["items"][2]["params"]["a"] = "tinggi"
    res = upload(committee, "rusak.json", json.dumps(doc).encode())
    assert res.status_code == 422
    found = problems_in(res.text)
    assert "items[0]" in found and "items[2]" in found
    assert "tidak ada soal yang diimpor" in res.text
    assert "0 soal" in committee.get("/committee/bank/").text
    qti = upload(committee, "paket.zip", b"not a zip")
    assert qti.status_code == 422 and "not a zip file" in qti.text


def test_english_switch(committee):
    res = committee.get("/lang/en", headers={"referer": "/committee/bank/"})
    assert res.status_code == 200 and "Item bank" in res.text and "Search" in res.text


def test_a_restart_logs_nobody_out(web_settings):
    with TestClient(app=create_app(web_settings)) as first:
        assert login(first, "komite").status_code == 303
        cookies = dict(first.cookies)
    with TestClient(app=create_app(web_settings)) as second:
        for key, value in cookies.items():
            second.cookies.set(key, value)
        assert second.get("/committee/bank/").status_code == 200


def test_login_gives_a_new_session_id(client):
    client.get("/login")
    assert client.cookies.get("seleksi_session") is None  # no session row for a visitor
    planted = "b" * 64
    client.cookies.set("seleksi_session", planted)
    res = login(client, "komite")
    assert res.status_code == 303
    [cookie] = [c for c in res.headers.get_list("set-cookie") if c.startswith("seleksi_session=")]
    fresh = cookie.split(";")[0].split("=", 1)[1]
    assert fresh and fresh != planted
    # The planted id is worthless now.
    client.cookies.clear()
    client.cookies.set("seleksi_session", planted)
    assert client.get("/committee/bank/", headers={"accept": "application/json"}).status_code == 401


def test_promote_a_pilot_and_refuse_an_uncalibrated_item(committee, tmp_path):
    upload(committee, "bank.json", good_bank(tmp_path))
    res = committee.post(
        "/committee/bank/items/TWK-002/status",
        data={"status": "operational"},
        headers={"x-csrftoken": csrf(committee)},
    )
    assert res.status_code == 200 and "operasional" in res.text
    refused = committee.post(
        "/committee/bank/items/TIU-001/status",
        data={"status": "operational"},
        headers={"x-csrftoken": csrf(committee)},
    )
    assert refused.status_code == 400 and "needs IRT parameters" in refused.text


def test_dif_page_flags_and_records_a_decision(committee, tmp_path):
    import numpy as np

    upload(committee, "bank.json", good_bank(tmp_path))
    rng = np.random.default_rng(3)
    theta = rng.standard_normal(3000)
    focal = rng.random(3000) < 0.5
    b = rng.normal(0, 1, 20)
    shift = np.zeros((3000, 20))
    shift[focal, 0] = 1.5  # TWK-001 is much harder for the focal group
    x = (rng.random((3000, 20)) < 1 / (1 + np.exp(-(theta[:, None] - b - shift)))).astype(int)
    names = ["TWK-001", "TWK-002"] + [f"EXTRA-{k}" for k in range(18)]
    responses = (
        "person_id,"
        + ",".join(names)
        + "\n"
        + "".join(f"p{i}," + ",".join(map(str, x[i])) + "\n" for i in range(3000))
    )
    groups = "person_id,gender\n" + "".join(
        f"p{i},{'P' if focal[i] else 'L'}\n" for i in range(3000)
    )
    res = committee.post(
        "/committee/bank/dif/",
        data={"focal": "P", "attribute": ""},
        files={
            "responses": ("resp.csv", responses.encode()),
            "groups": ("groups.csv", groups.encode()),
        },
        headers={"x-csrftoken": csrf(committee)},
    )
    assert res.status_code == 200, res.text
    main = res.text[res.text.index("<main") :]
    assert "2 items analysed" in main and "1 in class C" in main, main[:1500]
    import re

    finding = int(re.search(r"/committee/bank/dif/(\d+)/decision", res.text).group(1))
    no_note = committee.post(
        f"/committee/bank/dif/{finding}/decision",
        data={"decision": "retire", "note": " "},
        headers={"x-csrftoken": csrf(committee)},
    )
    assert no_note.status_code == 422 and "needs a note" in no_note.text
    done = committee.post(
        f"/committee/bank/dif/{finding}/decision",
        data={"decision": "retire", "note": "Bahasa soal bias."},
        headers={"x-csrftoken": csrf(committee)},
    )
    assert done.status_code == 200 and "Bahasa soal bias." in done.text
    assert "ditarik" in committee.get("/committee/bank/items/TWK-001").text


def test_dif_page_reports_bad_files(committee):
    res = committee.post(
        "/committee/bank/dif/",
        data={"focal": "P"},
        files={
            "responses": ("resp.csv", b"person_id,q1\nA,7x\n"),
            "groups": ("groups.csv", b"person_id,gender\nA,P\n"),
        },
        headers={"x-csrftoken": csrf(committee)},
    )
    assert res.status_code == 422 and "resp.csv:2: q1: &#39;7x&#39; is not a category" in res.text


def test_bank_changes_go_to_the_audit_log(committee, web_settings, tmp_path):
    from tests.web.test_committee_exams import events

    assert upload(committee, "bank.json", good_bank(tmp_path)).status_code == 200
    [imported] = events(web_settings, "bank_imported")
    assert imported["created"] == 4 and "TWK-001" in imported["items"] and imported["by"] > 0
    res = committee.post(
        "/committee/bank/items/TWK-001/status",
        data={"status": "retired"},
        headers={"x-csrftoken": csrf(committee)},
    )
    assert res.status_code == 200 and "retired" in res.text.lower()
    [changed] = events(web_settings, "item_status_changed")
    assert changed["item"] == "TWK-001" and changed["status"] == "retired"


def test_pages_forbid_framing_and_inline_script(client):
    page = client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text and " onclick=" not in page.text


def test_hostile_uploads_are_refused_with_their_problems_not_a_500(committee):
    """A zip bomb, a corrupt zip, JSON nested 100,000 deep, a 5,000-digit number and a
    lone surrogate: each a 422 page naming the place and the cap; nothing imported."""
    from tests.unit.test_input_limits import MANIFEST, package, resource

    bomb = package(
        {"imsmanifest.xml": MANIFEST % resource("items/bom.xml"), "items/bom.xml": 200 * 2**20}
    )
    corrupt = bytearray(package({"imsmanifest.xml": MANIFEST % resource("items/a.xml")}))
    corrupt[corrupt.find(b"imsmanifest.xml") + 15] = 0xFF
    surrogate = json.dumps({"items": [{"id": "J1", "stem": "\ud800", "correct": "A"}]})
    cases = [
        ("bom.zip", bomb, "items/bom.xml", "more than 16,777,216 bytes"),
        ("rusak.zip", bytes(corrupt), "imsmanifest.xml", "cannot read from the package"),
        ("dalam.json", b"[" * 100_000 + b"]" * 100_000, "line 1", "nested deeper than 64"),
        ("angka.json", b'{"items": [' + b"9" * 5000 + b"]}", "line 1", "a number of 5,000"),
        ("u.json", surrogate.encode(), "items[0].stem", "surrogate"),
    ]
    for name, data, where, message in cases:
        res = upload(committee, name, data)
        assert res.status_code == 422, (name, res.status_code)
        assert where in problems_in(res.text), (name, problems_in(res.text))
        assert name in res.text and message in res.text, name
    assert "0 soal" in committee.get("/committee/bank/").text
