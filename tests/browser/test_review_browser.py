"""The review queue and the fairness report in a real browser: an observer runs the
screening, reads a flag's evidence and adds a note; the committee decides; the fairness
report shows its figures."""

import pytest
from playwright.sync_api import expect

from exam.adapters import database
from tests.browser.conftest import log_in
from tests.forensic_exam import CODE, take_exam
from tests.live_server import LiveServer, prepare_data


@pytest.fixture(scope="module")
def review_server(tmp_path_factory):
    settings = prepare_data(tmp_path_factory.mktemp("review-data"))
    engine = database.sync_engine(settings)
    try:
        _, rapid = take_exam(database.session_factory(engine), applicants=40)
    finally:
        engine.dispose()
    live = LiveServer(settings)
    yield live.start(), rapid
    live.stop()


def test_screening_evidence_note_and_decision(page, browser, review_server):
    url, rapid = review_server
    log_in(page, url, "pengamat")
    page.goto(f"{url}/observer/exams/{CODE}/review")
    page.get_by_role("button", name="Jalankan analisis").click()
    page.get_by_text("Menebak cepat (NT10)").first.wait_for()
    flag = page.locator("section.flag", has_text=rapid[0]).filter(has_text="Menebak cepat").first
    flag.get_by_text("Bukti", exact=True).click()
    # While the exam runs an observer sees the flag's statistics, not its per-item evidence.
    expect(flag.get_by_text("tersegel sampai ujian ditutup")).to_be_visible()
    assert flag.get_by_role("cell", name="rapid").count() == 0
    flag.get_by_label("Catatan").fill("Rekaman CCTV ruang R0 diperiksa")
    flag.get_by_role("button", name="Tambahkan").click()
    page.get_by_text("Rekaman CCTV ruang R0 diperiksa").wait_for()
    assert page.get_by_label("Keputusan").count() == 0  # observers do not decide

    committee = browser.new_context().new_page()
    log_in(committee, url, "komite")
    committee.goto(f"{url}/observer/exams/{CODE}/review")
    flag = committee.locator("section.flag", has_text=rapid[0]).filter(has_text="Menebak cepat")
    flag = flag.first
    flag.get_by_text("Bukti", exact=True).click()
    assert flag.get_by_role("cell", name="rapid").count() >= 6  # every answer marked rapid
    flag.get_by_label("Catatan").fill("Peserta mengaku tidak siap; tidak ada tindak lanjut")
    flag.get_by_label("Keputusan").select_option("no_action")
    flag.get_by_role("button", name="Tambahkan").click()
    decided = committee.locator("section.flag", has_text=rapid[0]).filter(
        has_text="Peserta mengaku"
    )
    decided.get_by_text("tidak ada tindak lanjut").first.wait_for()

    committee.goto(f"{url}/observer/exams/{CODE}/fairness")
    for name in ("Galat baku", "Paparan soal", "Kurva informasi"):
        assert committee.get_by_role("img", name=name).count() >= 1
    loaded = committee.evaluate(
        "() => [...document.images].filter(i => i.src.endsWith('.svg'))"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert loaded
