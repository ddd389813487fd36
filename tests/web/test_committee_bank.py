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


def test_login_is_rate_limited(client):
    codes = [login(client, "komite", "salah").status_code for _ in range(7)]
    assert codes[:5] == [401] * 5 and 429 in codes[5:]


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
    planted = client.cookies.get("seleksi_session")
    assert login(client, "komite").status_code == 303
    fresh = client.cookies.get("seleksi_session")
    assert fresh and fresh != planted
    # The planted id is worthless now.
    client.cookies.set("seleksi_session", planted)
    assert client.get("/committee/bank/", headers={"accept": "application/json"}).status_code == 401
