"""An observer's live board in a real browser while an applicant answers in another."""

import re
import time

from tests.browser.conftest import log_in


def test_the_board_updates_live_and_the_checkpoint_verifies_in_the_browser(page, browser, server):
    log_in(page, server, "pengamat")
    page.goto(f"{server}/observer/exams/UJI")
    status = page.locator("#checkpoint-status")
    status.get_by_text(re.compile("terverifikasi di peramban ini")).wait_for(timeout=15_000)
    assert "checkpoint good" in status.get_attribute("class")
    size_before = int(page.locator("#board").get_attribute("data-log-size"))
    active_before = page.get_by_role("cell", name="sedang ujian").count()

    applicant = browser.new_context().new_page()
    log_in(applicant, server, "peserta06")
    applicant.goto(f"{server}/exam/UJI")
    applicant.get_by_role("button", name="Mulai ujian").click()
    applicant.wait_for_function(
        "() => window.htmx && document.getElementById('timer').textContent !== '--:--'"
    )
    # The start alone shows on the board: a new row "sedang ujian" (in progress).
    page.wait_for_function(
        "n => document.querySelectorAll('#board td').length && "
        "[...document.querySelectorAll('#board td')].filter(td => "
        "td.textContent.trim() === 'sedang ujian').length > n",
        arg=active_before,
        timeout=5_000,
    )
    applicant.keyboard.press("a")
    with applicant.expect_response(lambda r: r.url.endswith("/answer")) as sent:
        applicant.keyboard.press("Enter")
    assert sent.value.status == 200
    answered = time.monotonic()
    page.wait_for_function(
        "n => parseInt(document.getElementById('board').dataset.logSize, 10) > n",
        arg=size_before + 2,
        timeout=5_000,
    )
    assert time.monotonic() - answered < 1.5
    applicant.context.close()

    # The trail shows the same answer, newest first, and filters by type.
    page.goto(f"{server}/observer/trail")
    page.locator("[data-trail] tr").first.wait_for()
    page.get_by_label("Jenis").select_option("answer")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-trail] tr')].filter(r => !r.hidden)"
        ".every(r => JSON.parse(r.dataset.entry).type === 'answer' && "
        "r.children[2].textContent === 'Jawaban')"
    )
    assert page.locator("[data-trail] tr:not([hidden])").count() >= 1
