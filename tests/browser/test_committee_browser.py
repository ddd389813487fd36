"""The committee in a real browser: build an exam, check it, enroll by CSV (with a broken
file first), print login sheets, open it; then an enrolled applicant logs in with the sheet."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import log_in

GOOD_CSV = (
    "registration_number,name,formation,gender\n"
    "BR-001,Dewi Anggraini,Auditor,F\n"
    "BR-002,Eko Prasetyo,Pranata Komputer,M\n"
)
BAD_CSV = "registration_number,name,formation\nBR-003,,Auditor\nBR-003,Fajar,Auditor\n"


def test_committee_builds_checks_enrolls_and_opens_an_exam(page, browser, server, tmp_path):
    log_in(page, server, "komite")
    page.get_by_role("link", name="Ujian", exact=True).click()
    page.get_by_role("link", name="Buat ujian baru").click()

    page.get_by_label("Kode").fill("BROWSER1")
    page.get_by_label("Nama ujian").fill("Ujian dari peramban")
    page.get_by_label("Durasi (menit)").fill("20")
    page.get_by_label("Nama bagian").fill("TIU")
    page.get_by_label("Ranah bank soal").select_option("TIU")
    page.get_by_label("Soal minimum").fill("5")
    page.get_by_label("Soal maksimum").fill("400")
    page.get_by_label("Kendali paparan").select_option("randomesque")
    page.get_by_role("button", name="Simpan draf").click()
    page.wait_for_url(re.compile(r"/committee/exams/BROWSER1\?notice=created"))
    assert page.get_by_role("status").first.inner_text().startswith("Ujian dibuat")

    # Too long for the pool: the check says so, and opening is refused.
    page.get_by_role("button", name=re.compile("Periksa")).click()
    page.locator("#check-result").get_by_text("Susunan tidak layak").wait_for()
    assert "fewer than max_items 400" in page.locator("#check-result").inner_text()

    page.get_by_role("link", name="Ubah").click()
    page.get_by_label("Soal maksimum").fill("6")
    page.get_by_role("button", name="Simpan draf").click()
    page.wait_for_url(re.compile(r"notice=saved"))
    page.get_by_role("button", name=re.compile("Periksa")).click()
    result = page.locator("#check-result")
    result.get_by_text("Susunan layak").wait_for()
    plot = result.get_by_role("img")
    assert plot.count() == 1 and plot.evaluate("img => img.naturalWidth") > 0

    # A broken file: every problem with its line, nobody enrolled.
    bad = tmp_path / "salah.csv"
    bad.write_text(BAD_CSV)
    page.get_by_label("Berkas peserta (CSV)").set_input_files(bad)
    page.get_by_role("button", name="Daftarkan dan buat kartu login").click()
    alert = page.get_by_role("alert")
    assert "salah.csv" in alert.inner_text()
    lines = alert.locator("li code").all_inner_texts()
    assert lines == ["2", "3"]
    assert "Peserta (0)" in page.content()

    good = tmp_path / "peserta.csv"
    good.write_text(GOOD_CSV)
    page.get_by_label("Berkas peserta (CSV)").set_input_files(good)
    page.get_by_role("button", name="Daftarkan dan buat kartu login").click()
    page.get_by_role("heading", name=re.compile("Kartu login")).wait_for()
    expect(page.get_by_role("button", name="Cetak")).to_be_visible()
    card = page.get_by_role("region", name="BR-002")
    password = card.locator("dd.credential").nth(1).inner_text().strip()
    assert re.fullmatch(r"[a-z2-9]{10}", password)

    page.goto(f"{server}/committee/exams/BROWSER1")
    page.get_by_role("button", name="Buka ujian").click()
    page.wait_for_url(re.compile(r"notice=opened"))
    assert "dibuka" in page.get_by_role("heading", level=1).inner_text()
    assert page.get_by_role("link", name="Ubah").count() == 0

    applicant = browser.new_context().new_page()
    applicant.goto(f"{server}/login")
    applicant.get_by_label("Nomor peserta atau nama pengguna").fill("BR-002")
    applicant.get_by_label("Kata sandi").fill(password)
    applicant.get_by_role("button", name="Masuk").click()
    applicant.wait_for_url(re.compile(r"/exam/BROWSER1$"))
    expect(applicant.get_by_role("button", name="Mulai ujian")).to_be_visible()
    assert "20" in applicant.content()
    applicant.context.close()
