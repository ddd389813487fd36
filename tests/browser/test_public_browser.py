"""The public pages in a real browser: a screenshot of every one at 1366 px and at 390 px
(a phone) with no sideways scroll, axe-core finding no accessibility violation on them and
on the applicant's item and result pages, the public board updating live, and the
applicant's receipt verified in the browser.

axe-core is the npm package's engine as the PyPI package axe-playwright-python ships it
(a test dependency only). The screenshots go to ``SELEKSI_ARTIFACTS`` (default: a
temporary folder whose path is printed)."""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from exam.adapters import database
from exam.adapters.models import Enrollment, Exam, User
from exam.usecases import results
from tests.browser.conftest import _need, log_in
from tests.live_server import LiveServer, delivery_now, prepare_closed_exam, prepare_data

WIDTHS = {"desktop": (1366, 768), "phone": (390, 844)}


@pytest.fixture(scope="module")
def public_server(tmp_path_factory):
    """A server of its own: UJI and KILAT open, HASIL closed with its results published."""
    settings = prepare_data(tmp_path_factory.mktemp("public-data"))
    prepare_closed_exam(settings, checkpoint=True)
    engine = database.sync_engine(settings)
    with database.session_factory(engine)() as session, session.begin():
        exam = session.scalar(select(Exam).where(Exam.code == "HASIL"))
        committee = session.scalar(select(User).where(User.username == "komite"))
        now = delivery_now() + timedelta(hours=1)
        results.publish(session, exam, committee.id, now, settings.log_signer())
        pseudonym = session.scalar(
            select(Enrollment.pseudonym).where(Enrollment.registration_number == "HASIL-0")
        )
    engine.dispose()
    live = LiveServer(settings)
    live.start()
    yield live.url, pseudonym
    live.stop()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("SELEKSI_ARTIFACTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def axe():
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _need(False, "axe-core is missing: pip install axe-playwright-python (a test dependency)")
    return Axe()


def public_paths(pseudonym: str) -> dict[str, str]:
    return {
        "home": "/",
        "board-open": "/exams/UJI",
        "board-closed": "/exams/HASIL",
        "trail": "/exams/HASIL/trail",
        "verify": "/exams/UJI/verify",
        "receipt": f"/exams/HASIL/receipt/{pseudonym}",
        "results-index": "/results",
        "results": "/results/HASIL",
        "certificate-check": f"/results/HASIL/check/{pseudonym}",
        "not-found": "/results/UJI",
        "login": "/login",
    }


def settle(page) -> None:
    """Wait for what the page's scripts fill in: the in-browser checks, the trail."""
    page.wait_for_load_state("networkidle")
    for status in ("#checkpoint-status", "#receipt-status", "#check-status"):
        if page.locator(status).count():
            expect(page.locator(status)).to_have_class(re.compile(r"\bgood\b"), timeout=15_000)
    if page.locator("#checkpoint-status").count():
        # The witnesses' count beside the checkpoint (this server knows none).
        witnesses = page.locator("#checkpoint-status [data-cp-witnesses]")
        expect(witnesses).to_contain_text("belum ada saksi terdaftar", timeout=15_000)
    if page.locator("[data-trail]").count():
        page.locator("[data-trail] tr").first.wait_for()


def no_sideways_scroll(page, width: int, where: str) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{where}: {scroll} px wide in a {width} px window"


def no_violations(axe, page, where: str) -> None:
    found = axe.run(page)
    assert found.violations_count == 0, f"{where}:\n{found.generate_snapshot()}"


def test_every_public_page_fits_both_widths_and_has_no_axe_violation(
    browser, public_server, artifacts, axe
):
    url, pseudonym = public_server
    for size, (width, height) in WIDTHS.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        for name, path in public_paths(pseudonym).items():
            res = page.goto(url + path)
            assert res.status == (404 if name == "not-found" else 200), path
            settle(page)
            assert page.evaluate("document.documentElement.lang") == "id", path
            page.screenshot(path=artifacts / f"{name}-{width}.png", full_page=True)
            no_sideways_scroll(page, width, f"{path} at {width} px")
            if size == "desktop":
                no_violations(axe, page, path)
        context.close()
    assert len(list(artifacts.glob("*-390.png"))) == len(public_paths(pseudonym))


def test_on_a_phone_the_results_keep_total_and_remark_visible(browser, public_server):
    url, _ = public_server
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{url}/results/HASIL")
    first = page.locator("table.results tbody tr").first
    for label in ("Total", "Keterangan"):
        cell = first.locator(f'td[data-label="{label}"]')
        expect(cell).to_be_visible()
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (label, box)
    context.close()


def test_the_applicant_pages_have_no_axe_violation_and_the_receipt_verifies(
    browser, public_server, artifacts, axe
):
    url, _ = public_server
    for width, height in WIDTHS.values():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        log_in(page, url, "peserta02")
        page.goto(f"{url}/exam/UJI")
        if page.get_by_role("button", name="Mulai ujian").count():
            page.get_by_role("button", name="Mulai ujian").click()
        page.wait_for_function("() => document.getElementById('timer').textContent !== '--:--'")
        page.get_by_role("radio").first.check()
        page.screenshot(path=artifacts / f"item-{width}.png", full_page=True)
        no_sideways_scroll(page, width, f"item page at {width} px")
        no_violations(axe, page, "item page")

        page.goto(f"{url}/exam/HASIL/finished")  # peserta02 took HASIL (HASIL-1)
        settle(page)
        expect(page.locator("#receipt-status")).to_contain_text("terverifikasi di peramban ini")
        expect(page.locator("[data-rank]")).to_be_visible()
        assert "checkpoint log berukuran" not in page.content()
        page.screenshot(path=artifacts / f"result-{width}.png", full_page=True)
        no_sideways_scroll(page, width, f"result page at {width} px")
        no_violations(axe, page, "result page")
        context.close()


def test_the_public_board_updates_within_a_second(browser, public_server):
    url, _ = public_server
    board = browser.new_context().new_page()  # nobody logged in
    board.goto(f"{url}/exams/UJI")
    settle(board)
    size_before = int(board.locator("#board").get_attribute("data-log-size"))

    applicant = browser.new_context().new_page()
    log_in(applicant, url, "peserta05")
    applicant.goto(f"{url}/exam/UJI")
    applicant.get_by_role("button", name="Mulai ujian").click()
    applicant.wait_for_function("() => document.getElementById('timer').textContent !== '--:--'")
    applicant.keyboard.press("a")
    with applicant.expect_response(lambda r: r.url.endswith("/answer")) as sent:
        applicant.keyboard.press("Enter")
    assert sent.value.status == 200
    answered = time.monotonic()
    board.wait_for_function(
        "n => parseInt(document.getElementById('board').dataset.logSize, 10) > n",
        arg=size_before + 2,
        timeout=5_000,
    )
    assert time.monotonic() - answered < 1.5
    applicant.context.close()
    board.context.close()
