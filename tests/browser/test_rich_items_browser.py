"""Figures (SVG), tables and MathML in a real Chromium: the committee's preview and the
applicant's item page render them with the same fragment, pictures loaded from the
server by hash, formulas laid out by the browser's own MathML."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.browser.test_applicant_browser import (
    answer_current,
    finish_a_complete_section,
    ready,
)
from tests.live_server import RICH_APPLICANT, RICH_EXAM

#: Pictures loaded: every <img> of the item has decoded to a real size.
IMAGES_LOADED = """() => {
  const imgs = [...document.querySelectorAll('.stem img, .otext img')];
  return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""
#: A fraction laid out as MathML: the numerator stands above the denominator.
FRACTION_STACKED = """() => {
  const f = document.querySelector('.stem mfrac, .otext mfrac');
  if (!f) return null;
  const [num, den] = [...f.children].map(c => c.getBoundingClientRect());
  return num.bottom <= den.top + 1 && num.height > 0;
}"""


def shoot(page, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot, kept in SELEKSI_SCREENSHOTS if set (for review)."""
    folder = Path(os.environ.get("SELEKSI_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5_000
    return path


def test_committee_preview_renders_a_figural_and_a_table_and_mathml_item(page, server, tmp_path):
    log_in(page, server, "komite")
    page.goto(f"{server}/committee/bank/items/TIU-F01")
    preview = page.locator(".item.preview")
    alt = preview.locator(".stem img").get_attribute("alt")
    assert alt.startswith("Deret tiga bingkai persegi: titik hitam di sudut kiri atas")
    assert preview.get_by_role("radio").count() == 5
    page.wait_for_function(IMAGES_LOADED)
    src = preview.locator(".stem img").get_attribute("src")
    assert src.startswith("/assets/") and len(src) == len("/assets/") + 64
    width = page.evaluate("() => document.querySelector('.stem img').naturalWidth")
    assert width == 400  # four cells of the series, drawn 100 px each
    shoot(page, tmp_path, "committee-figural-TIU-F01")

    page.goto(f"{server}/committee/bank/items/TIU-N04")
    preview = page.locator(".item.preview")
    expect(preview.locator(".stem table caption")).to_have_text("Harga beras")
    expect(preview.locator(".stem table td").first).to_have_text("Rp12.000")
    assert page.evaluate(FRACTION_STACKED) is True
    shoot(page, tmp_path, "committee-numerical-TIU-N04")


def test_applicant_sees_figures_tables_and_mathml_on_the_item_page(page, server, tmp_path):
    log_in(page, server, RICH_APPLICANT)
    page.goto(f"{server}/exam/{RICH_EXAM}")
    page.get_by_role("button", name="Mulai ujian").click()
    seen = set()
    for step in range(2):
        ready(page)
        stem = page.locator("#item .stem")
        expect(stem).to_have_class("stem rich")
        if page.locator("#item img").count():
            page.wait_for_function(IMAGES_LOADED)
            assert all(a for a in page.locator("#item img").evaluate_all("l => l.map(i => i.alt)"))
            seen.add("figure")
        if page.locator("#item mfrac, #item table").count():
            if page.locator("#item mfrac").count():
                assert page.evaluate(FRACTION_STACKED) is True
            seen.add("numbers")
        shoot(page, tmp_path, f"applicant-item-{step + 1}")
        answer_current(page, "a")
    assert seen == {"figure", "numbers"}
    finish_a_complete_section(page)  # a fixed section ends when the applicant finishes it
    page.wait_for_url(f"{server}/exam/{RICH_EXAM}/finished")
