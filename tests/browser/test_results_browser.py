"""Results in a real browser: the committee publishes, the public page shows the table and
the distributions, and an applicant's certificate leads to a page that verifies it in the
browser."""

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.pdf import pdf_text


def test_publish_public_page_and_the_certificate_qr_target(page, browser, server):
    log_in(page, server, "komite")
    page.goto(f"{server}/committee/exams/HASIL/results/")
    expect(page.get_by_role("heading", name=re.compile("Formasi: Auditor"))).to_be_visible()
    page.get_by_role("button", name="Umumkan hasil").click()
    page.wait_for_url(re.compile(r"/results/HASIL\?version=1$"))
    expect(page.get_by_text("SHA-256").first).to_be_visible()
    assert page.locator("table.data tbody tr").count() == 3
    plot = page.get_by_role("img", name=re.compile("Sebaran nilai"))
    plot.wait_for()
    assert plot.evaluate("img => img.complete && img.naturalWidth > 0")

    applicant = browser.new_context(accept_downloads=True).new_page()
    log_in(applicant, server, "peserta01")
    applicant.goto(f"{server}/exam/HASIL/finished")
    with applicant.expect_download() as download:
        applicant.get_by_role("link", name="Unduh sertifikat (PDF)").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    [url] = re.findall(r"(http://127\.0\.0\.1:\d+/results/HASIL/check/P[0-9a-f]+)", pdf_text(pdf))
    applicant.context.close()

    checker = browser.new_context().new_page()  # anyone, no login: what the QR code opens
    checker.goto(url)
    status = checker.locator("#check-status")
    status.get_by_text(re.compile("terverifikasi di peramban ini")).wait_for(timeout=15_000)
    assert "checkpoint good" in status.get_attribute("class")
    checker.context.close()
