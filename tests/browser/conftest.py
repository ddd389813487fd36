"""A real server (``seleksi serve`` in a subprocess) and Debian's Chromium via Playwright.

In CI a missing Chromium is a failure; on a laptop without it these tests skip, saying why.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.live_server import PASSWORD, server  # noqa: F401 (the server fixture)

CHROMIUM = os.environ.get("SELEKSI_CHROMIUM", "/usr/bin/chromium")


def _need(condition: bool, why: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="session")
def browser():
    _need(
        shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists(),
        f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def log_in(page, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Nomor peserta atau nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
