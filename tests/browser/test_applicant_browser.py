"""An applicant's exam in a real browser: login, keyboard answering, reload, timer, language."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import log_in


def ready(page) -> None:
    """exam.js has run: the countdown shows the time."""
    page.wait_for_function(
        "() => window.htmx && document.getElementById('timer').textContent !== '--:--'"
    )


def answer_current(page, key: str = "b") -> None:
    ready(page)
    step = page.locator("input[name=step]").get_attribute("value")
    page.keyboard.press(key)
    assert page.locator("input[name=choice]:checked").count() == 1
    with page.expect_response(lambda r: r.url.endswith("/answer")) as sent:
        page.keyboard.press("Enter")
    assert sent.value.status == 200, sent.value.text()
    page.wait_for_function(
        "s => !document.querySelector('input[name=step]') || "
        "document.querySelector('input[name=step]').value !== s || "
        "document.querySelector('.saved')",
        arg=step,
    )


def finish_a_complete_section(page) -> bool:
    """Finish the fixed section shown when every item has an answer (nothing to ask)."""
    done = page.locator("form.finish-section[data-unanswered='']")
    if not done.count():
        return False
    done.get_by_role("button").click()
    page.wait_for_load_state()
    return True


def test_login_full_exam_and_score(page, server):
    log_in(page, server, "peserta01")
    page.get_by_role("link", name=re.compile("UJI")).click()
    page.get_by_role("button", name="Mulai ujian").click()
    submit = page.get_by_role("button", name="Simpan jawaban")
    assert submit.is_disabled()
    answered = 0
    while True:
        page.wait_for_function(
            "() => location.pathname.endsWith('/finished') || "
            "(window.htmx && document.querySelector('input[name=step]') && "
            "document.getElementById('timer').textContent !== '--:--')"
        )
        if page.url.endswith("/finished"):
            break
        if finish_a_complete_section(page):
            continue
        answer_current(page, "c" if answered % 2 else "2")
        answered += 1
        if answered > 1 and page.locator(".saved").count():
            expect(page.get_by_role("status").first).to_be_visible()
    page.wait_for_url(re.compile("/finished$"))
    assert answered == 9
    expect(page.get_by_role("heading", name="Hasil ujian")).to_be_visible()
    table = page.locator("table.data").first.inner_text()
    assert "TWK" in table and "TIU" in table and "Total" in table
    assert "Semua 9 jawaban Anda tercatat" in page.content()


def test_reload_mid_exam_resumes_the_same_item(page, server):
    log_in(page, server, "peserta02")
    page.goto(f"{server}/exam/UJI")
    page.get_by_role("button", name="Mulai ujian").click()
    answer_current(page)
    item = page.locator("input[name=item_id]").get_attribute("value")
    timer_before = page.locator("#timer").inner_text()
    page.reload()
    ready(page)
    expect(page.get_by_text("Ujian dilanjutkan")).to_be_visible()
    assert page.locator("input[name=item_id]").get_attribute("value") == item
    assert page.locator("input[name=step]").get_attribute("value") == "1"
    assert page.locator("#timer").inner_text() <= timer_before


def test_timer_expiry_finishes_the_exam(page, server):
    log_in(page, server, "peserta03")
    page.goto(f"{server}/exam/KILAT")
    page.get_by_role("button", name="Mulai ujian").click()
    ready(page)
    assert re.match(r"00:1[0-2]", page.locator("#timer").inner_text())
    page.wait_for_url(re.compile("/finished$"), timeout=25_000)
    assert "Semua 0 jawaban Anda tercatat" in page.content()


def test_english_switch(page, server):
    log_in(page, server, "peserta04")
    page.goto(f"{server}/exam/UJI")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("button", name="Start the exam")).to_be_visible()
    page.get_by_role("link", name="Bahasa Indonesia").click()
    expect(page.get_by_role("button", name="Mulai ujian")).to_be_visible()


def test_moving_around_a_fixed_section(page, server):
    """Answer items out of order, change two answers, mark one ragu-ragu, then finish the
    section: it asks first and lists what is open; the stored answers are the last ones."""
    log_in(page, server, "peserta07")
    page.goto(f"{server}/exam/UJI")
    expect(page.get_by_text("dapat berpindah ke soal mana pun")).to_be_visible()
    page.get_by_role("button", name="Mulai ujian").click()
    ready(page)
    expect(page.get_by_role("heading", level=1, name="TWK · Soal 1 dari 5")).to_be_visible()
    grid = page.get_by_role("navigation", name="Navigasi soal")
    expect(grid.get_by_role("link", name="Soal 3: belum dijawab")).to_be_visible()
    answer_current(page, "a")
    expect(page.get_by_role("heading", level=1, name="TWK · Soal 2 dari 5")).to_be_visible()
    grid.get_by_role("link", name="Soal 4: belum dijawab").click()
    ready(page)
    answer_current(page, "b")
    # Back to item 1 by the grid, then item 4 by the keyboard (P from item 5): both change.
    grid.get_by_role("link", name="Soal 1: sudah dijawab").click()
    ready(page)
    assert page.locator("input[name=choice]:checked").get_attribute("value") == "A"
    answer_current(page, "c")
    grid.get_by_role("link", name="Soal 5: belum dijawab").click()
    ready(page)
    page.keyboard.press("p")
    page.wait_for_url(re.compile(r"step=3$"))
    ready(page)
    assert page.locator("input[name=choice]:checked").get_attribute("value") == "B"
    answer_current(page, "d")
    grid.get_by_role("link", name="Soal 4: sudah dijawab").click()
    ready(page)
    page.keyboard.press("r")
    expect(grid.get_by_role("link", name="Soal 4: ragu-ragu")).to_be_visible()
    expect(page.get_by_role("button", name="Ragu-ragu")).to_have_attribute("aria-pressed", "true")
    # Display: larger text and high contrast.
    page.get_by_role("button", name="Perbesar huruf").click()
    page.get_by_role("button", name="Kontras tinggi").click()
    assert page.evaluate("document.documentElement.className") == "font-l high-contrast"
    asked = []

    def answer_dialog(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer_dialog)
    page.get_by_role("button", name="Selesaikan bagian TWK").click()
    page.wait_for_load_state()
    ready(page)
    assert "belum dijawab: 2, 3, 5" in asked[0] and "ragu-ragu: 4" in asked[0]
    expect(page.get_by_role("heading", level=1, name="TIU · Soal 1")).to_be_visible()
    assert page.locator("nav.examnav .grid").count() == 0
    while not page.url.endswith("/finished"):
        answer_current(page, "a")
        page.wait_for_function(
            "() => location.pathname.endsWith('/finished') || "
            "(window.htmx && document.querySelector('input[name=step]'))"
        )
    # Two TWK answers (the last of each item, not every change) and four TIU answers.
    assert "Semua 6 jawaban Anda tercatat" in page.content()
