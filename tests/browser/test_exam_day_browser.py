"""Exam day in a real browser: a second login takes over mid-exam and the answer is saved
after logging in again; Back and Forward never show an answerable old item; a room's
outage is credited; the proctor's room view and a pause."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from exam.adapters import database
from exam.adapters.models import Exam, User
from exam.adapters.security import password_hasher
from exam.usecases import delivery, rooms
from tests.browser.conftest import log_in
from tests.live_server import PASSWORD, LiveServer, delivery_now, prepare_data, short_exam

#: account → room of site S1 (each enrolled in RUANG only, so login leads to the exam)
SEATS = {"ruang1": "R1", "ruang2": "R1", "ruang5": "R1", "ruang3": "R2", "ruang4": "R2"}
#: Short exam-day settings: a heartbeat a second, three seconds of silence is lost contact.
FAST = {
    "SELEKSI_HEARTBEAT_S": "1",
    "SELEKSI_CONTACT_FLUSH_S": "0.5",
    "SELEKSI_OUTAGE_GAP_S": "3",
    "SELEKSI_OUTAGE_SETTLE_S": "2",
    "SELEKSI_OUTAGE_MIN_APPLICANTS": "2",
}


class ExamDayServer(LiveServer):
    def _env(self) -> dict[str, str]:
        return {**super()._env(), **FAST}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    settings = prepare_data(tmp_path_factory.mktemp("examday-data"))
    engine = database.sync_engine(settings)
    hashed = password_hasher(settings).hash(PASSWORD)
    with database.session_factory(engine)() as session, session.begin():
        exam = delivery.new_exam(session, short_exam("RUANG", 1200))
        for k, (name, room) in enumerate(SEATS.items()):
            user = User(username=name, password_hash=hashed, role="applicant")
            session.add(user)
            session.flush()
            delivery.enroll(session, exam, user.id, f"RG-{k}", name, site="S1", room=room)
        delivery.open_exam(session, exam, delivery_now())
        proctor = User(username="pengawas1", password_hash=hashed, role="proctor")
        session.add(proctor)
        session.flush()
        rooms.bind_proctor(session, proctor, [("S1", "R1")])
        assert session.scalar(select(Exam.status).where(Exam.code == "RUANG")) == "open"
    engine.dispose()
    live = ExamDayServer(settings)
    url = live.start(timeout=30)
    yield url
    live.stop()


def on_item(page) -> None:
    page.wait_for_function(
        "() => window.htmx && document.querySelector('input[name=step]') && "
        "document.getElementById('timer').textContent !== '--:--'"
    )


def start(page, url: str, name: str) -> None:
    log_in(page, url, name)
    page.get_by_role("button", name="Mulai ujian").click()
    on_item(page)


def remaining_s(page) -> int:
    m, s = page.locator("#timer").inner_text().split(":")
    return int(m) * 60 + int(s)


def test_a_second_login_takes_over_and_the_choice_is_saved_after_logging_in_again(browser, site):
    first = browser.new_context().new_page()
    start(first, site, "ruang1")
    first.keyboard.press("c")
    item = first.locator("input[name=item_id]").get_attribute("value")

    second = browser.new_context().new_page()
    log_in(second, site, "ruang1")  # the same account in another browser
    on_item(second)

    # The first page learns it at its next heartbeat, says so, and keeps the choice.
    ended = first.get_by_role("alert").filter(has_text="Sesi Anda telah berakhir")
    expect(ended).to_be_visible(timeout=10_000)
    expect(first.locator("#conn")).to_have_text(re.compile("Sesi berakhir"))
    # A save now is refused (401), and not silently: the page stays, with the choice.
    with first.expect_response(lambda r: r.url.endswith("/answer")) as refused:
        first.get_by_role("button", name="Simpan jawaban").click()
    assert refused.value.status == 401
    expect(ended).to_be_visible()
    assert first.locator("input[name=choice]:checked").get_attribute("value") == "C"
    second.context.close()

    ended.get_by_role("link", name="Masuk lagi").click()
    first.get_by_label("Nomor peserta atau nama pengguna").fill("ruang1")
    first.get_by_label("Kata sandi").fill(PASSWORD)
    first.get_by_role("button", name="Masuk").click()
    on_item(first)
    assert first.locator("input[name=item_id]").get_attribute("value") == item
    assert first.locator("input[name=choice]:checked").get_attribute("value") == "C"
    expect(first.get_by_text("Pilihan Anda sebelum sesi berakhir dipulihkan")).to_be_visible()
    with first.expect_response(lambda r: r.url.endswith("/answer")) as sent:
        first.get_by_role("button", name="Simpan jawaban").click()
    assert sent.value.status == 200
    expect(first.locator("input[name=step]")).to_have_value("1")
    expect(first.locator(".saved")).to_be_visible()
    first.context.close()


def test_back_and_forward_never_show_an_answerable_old_item(page, site):
    start(page, site, "ruang2")
    answered = page.locator("input[name=item_id]").get_attribute("value")
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    expect(page.locator("input[name=step]")).to_have_value("1")
    current = page.locator("input[name=item_id]").get_attribute("value")
    for move in (page.go_back, page.go_forward, page.go_back):
        move()
        on_item(page)
        assert page.url.endswith("/exam/RUANG/attempt")
        expect(page.locator("input[name=step]")).to_have_value("1")
        assert page.locator("input[name=item_id]").get_attribute("value") == current != answered


def test_a_rooms_outage_is_credited(browser, site):
    pages = []
    for name in ("ruang3", "ruang4"):
        p = browser.new_context().new_page()
        start(p, site, name)
        pages.append(p)
    before, t0 = remaining_s(pages[0]), time.monotonic()
    for p in pages:
        p.context.set_offline(True)
    expect(pages[0].locator("#conn")).to_have_text(re.compile("terputus"), timeout=10_000)
    pages[0].wait_for_timeout(6_000)
    for p in pages:
        p.context.set_offline(False)
    # The server credits the room's silence once the room has settled; the page's
    # countdown follows the server's remaining time at its next heartbeat.
    credited = 0.0
    while time.monotonic() - t0 < 40 and credited < 4:
        pages[0].wait_for_timeout(500)
        credited = remaining_s(pages[0]) - (before - (time.monotonic() - t0))
    assert credited >= 4, credited  # the six seconds offline came back (within a second)
    observer = browser.new_context().new_page()
    log_in(observer, site, "pengamat")
    observer.goto(f"{site}/observer/flags?exam=RUANG")
    expect(observer.get_by_role("heading", name="Gangguan lokasi dan jeda ruangan")).to_be_visible()
    lost = re.compile(r"S1/R2:\s+2 orang kehilangan koneksi dari 2")
    expect(observer.get_by_role("listitem").filter(has_text=lost)).to_be_visible()
    for p in [*pages, observer]:
        p.context.close()


def test_the_proctors_room_view_and_a_pause(browser, site):
    applicant = browser.new_context().new_page()
    start(applicant, site, "ruang5")
    proctor = browser.new_context().new_page()
    log_in(proctor, site, "pengawas1")
    expect(proctor.get_by_role("heading", name="Ruang ujian")).to_be_visible()
    row = proctor.get_by_role("row").filter(has_text="ruang5")
    expect(row).to_contain_text("Sedang ujian")
    expect(row).to_contain_text("terhubung")
    assert "ruang3" not in proctor.content()  # another room
    proctor.get_by_role("button", name="Jeda ruangan").click()
    expect(proctor.get_by_text("Ruangan ini sedang dijeda")).to_be_visible()
    paused = applicant.get_by_text("Ujian di ruangan ini sedang dijeda oleh pengawas")
    expect(paused).to_be_visible(timeout=10_000)
    applicant.keyboard.press("b")
    expect(applicant.get_by_role("button", name="Simpan jawaban")).to_be_disabled(timeout=5_000)
    proctor.get_by_role("button", name="Lanjutkan ruangan").click()
    expect(paused).to_be_hidden(timeout=10_000)
    expect(applicant.get_by_role("button", name="Simpan jawaban")).to_be_enabled()
    proctor.get_by_label("Catatan kejadian untuk ruangan ini").fill("Listrik padam sebentar")
    proctor.get_by_role("button", name="Catat").click()
    expect(proctor.get_by_role("heading", name="Ruang ujian")).to_be_visible()
    applicant.context.close()
    proctor.context.close()
