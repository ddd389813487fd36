"""The applicant's pages: before the start, the item screen, answering with htmx, result."""

import re
from datetime import timedelta

from tests.web.conftest import csrf, login
from tests.web.test_attempt_api import api, exam_ready  # noqa: F401


def form_fields(html: str) -> dict:
    return {
        "step": re.search(r'name="step" value="(\d+)"', html).group(1),
        "item_id": re.search(r'name="item_id" value="([^"]+)"', html).group(1),
    }


def test_before_start_then_the_whole_exam_in_pages(api, clock, tmp_path):  # noqa: F811
    assert login(api, "peserta01").status_code == 303
    before = api.get("/exam/UJI")
    assert before.status_code == 200 and "Mulai ujian" in before.text and "30 menit" in before.text
    assert "<td>10</td>" in before.text and "built-in method" not in before.text
    # TIU's 8 items and its 2 unscored pilot items: the page announces what is given.
    assert "1–10 soal (adaptif)" in before.text
    assert "dipilih menurut jawaban Anda sebelumnya" in before.text
    assert "dapat berpindah ke soal mana pun" in before.text
    started = api.post(
        "/exam/UJI/start", headers={"x-csrftoken": csrf(api)}, follow_redirects=False
    )
    assert started.status_code == 303 and started.headers["location"].startswith(
        "/exam/UJI/attempt"
    )
    page = api.get(started.headers["location"])
    assert page.status_code == 200 and 'data-remaining-ms="1800000"' in page.text
    assert "Ujian dilanjutkan" not in page.text
    html, answered = page.text, 0
    while True:
        fields = form_fields(html)
        clock.now += timedelta(seconds=10)
        res = api.post(
            "/exam/UJI/answer",
            data={**fields, "choice": "B"},
            headers={"x-csrftoken": csrf(api), "HX-Request": "true"},
        )
        assert res.status_code == 200, res.text
        answered += 1
        if "HX-Redirect" in res.headers:
            assert res.headers["HX-Redirect"] == "/exam/UJI/finished"
            break
        assert "Tersimpan" in res.text and "<html" not in res.text
        html = res.text
        if 'class="finish-section"' in html and 'data-unanswered=""' in html:
            # Every item of the fixed section answered: the applicant finishes it.
            done = api.post("/exam/UJI/finish-section", headers={"x-csrftoken": csrf(api)})
            assert done.status_code == 200 and "<html" in done.text
            html = done.text
            finished = done.url.path.endswith("/finished")
            if finished:
                break
    assert answered == 26
    result = api.get("/exam/UJI/finished")
    assert result.status_code == 200
    for section in ("TWK", "TIU", "TKP"):
        assert f"<td>{section}</td>" in result.text
    assert "Tanda terima" in result.text and "Semua 26 jawaban Anda tercatat" in result.text
    check_a_receipt_offline(api, result.text, tmp_path)
    # The exam cannot be started again; the before page sends to the result.
    again = api.get("/exam/UJI", follow_redirects=False)
    assert again.headers["location"] == "/exam/UJI/finished"


def test_reload_resumes_with_the_server_time(api, clock):  # noqa: F811
    login(api, "peserta01")
    api.post("/exam/UJI/start", headers={"x-csrftoken": csrf(api)})
    first = api.get("/exam/UJI/attempt")
    clock.now += timedelta(minutes=7)
    reloaded = api.get("/exam/UJI/attempt")
    assert "Ujian dilanjutkan" in reloaded.text
    assert 'data-remaining-ms="1380000"' in reloaded.text
    assert form_fields(first.text) == form_fields(reloaded.text)
    # The countdown starts from the millisecond: whole seconds would show a second too few.
    clock.now += timedelta(milliseconds=250)
    again = api.get("/exam/UJI/attempt")
    assert 'data-remaining-ms="1379750"' in again.text


def test_english_exam_page(api):  # noqa: F811
    login(api, "peserta01")
    api.get("/lang/en")
    assert "Start the exam" in api.get("/exam/UJI").text


def test_the_timer_runs_out_on_the_server(api, clock):  # noqa: F811
    login(api, "peserta01")
    api.post("/exam/UJI/start", headers={"x-csrftoken": csrf(api)})
    page = api.get("/exam/UJI/attempt")
    clock.now += timedelta(seconds=1801)
    res = api.post(
        "/exam/UJI/answer",
        data={**form_fields(page.text), "choice": "A"},
        headers={"x-csrftoken": csrf(api), "HX-Request": "true"},
    )
    assert res.headers.get("HX-Redirect") == "/exam/UJI/finished"
    assert "Semua 0 jawaban Anda tercatat" in api.get("/exam/UJI/finished").text


def check_a_receipt_offline(client, result_html: str, tmp_path) -> None:
    """Each answer's receipt downloads as a tlog proof that ``seleksi log receipt`` checks
    offline with the log's key; an altered one fails."""
    from click.testing import CliRunner

    from exam.cli import main

    links = re.findall(r'href="(/exam/UJI/receipts/(\d+))"', result_html)
    assert len(links) == 26
    url, index = links[-1]
    proof = client.get(url)
    assert proof.status_code == 200 and "attachment" in proof.headers["content-disposition"]
    assert proof.text.startswith("c2sp.org/tlog-proof@v1\nextra ")
    assert f"\nindex {index}\n" in proof.text
    key = client.get("/api/v1/log/key").text.strip()
    assert key in result_html
    good = tmp_path / "good.tlog-proof"
    good.write_text(proof.text)
    ok = CliRunner().invoke(main, ["log", "receipt", str(good), "--key", key])
    assert ok.exit_code == 0, ok.output
    assert '"type":"answer"' in ok.output
    lines = proof.text.split("\n")
    lines[3] = lines[4]  # a wrong hash in the inclusion path
    bad = tmp_path / "bad.tlog-proof"
    bad.write_text("\n".join(lines))
    assert CliRunner().invoke(main, ["log", "receipt", str(bad), "--key", key]).exit_code == 1
    assert client.get("/exam/UJI/receipts/0").status_code == 404  # not one of this applicant's
