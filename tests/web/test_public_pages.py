"""The public pages, without a login: the home page, each exam's live board, audit trail,
verification page and an applicant's answers in the log, the published results; their
times in WIB and Indonesian numbers; error pages in Indonesian HTML; and a crawl of every
public page, while the exam runs and after the results are out, that finds no item, no
key, no name and no registration number."""

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from exam import i18n
from exam.adapters.models import Enrollment, Exam
from exam.app import create_app
from itembank.models import ItemVersion
from tests.pdf import pdf_text
from tests.web.conftest import login
from tests.web.test_committee_exams import CSV, FORM, db_session, enroll, events, post, sheet
from tests.web.test_results import RULES, take_exams

NAMES = ["Ani Lestari", "Budi Santoso", "Citra Dewi"]
REGISTRATION_NUMBERS = ["2401001", "2401002", "2401003"]
HTML = {"accept": "text/html"}


def secrets(settings) -> list[str]:
    """What no public page may show: every item's id, stem and longer option texts (the
    keys are among the options), the names and registration numbers, the pseudonym key."""
    with db_session(settings) as s:
        found = set(NAMES + REGISTRATION_NUMBERS)
        for v in s.scalars(select(ItemVersion)):
            found |= {v.item_id, v.stem[:60]}
            found |= {o["text"] for o in v.options if len(o["text"]) >= 12}
        found |= {e.pseudonym_key_hex for e in s.scalars(select(Exam))}
        found |= {e.name for e in s.scalars(select(Enrollment))}
    return sorted(found)


SKIP = re.compile(r"^/(lang/|static/|api/v1/log/stream)")


def crawl(client: TestClient, start: str = "/", limit: int = 200) -> dict[str, str]:
    """Every page reachable from ``start`` by links on this site (no login): path → text."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo and len(seen) < limit:
        url = todo.pop()
        if url in seen:
            continue
        res = client.get(url, headers=HTML, follow_redirects=False)
        assert res.status_code in (200, 303), f"{url}: {res.status_code}"
        pdf = "pdf" in res.headers.get("content-type", "")
        seen[url] = pdf_text(res.content) if pdf else res.text
        if "html" not in res.headers.get("content-type", ""):
            continue
        for href in re.findall(r'(?:href|src)="([^"#]+)', res.text):
            target = urljoin(url, unescape(href))
            parts = urlsplit(target)
            if parts.netloc not in ("", "testserver.local") or SKIP.match(parts.path):
                continue
            if parts.scheme == "data":
                continue
            todo.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


def assert_nothing_secret(pages: dict[str, str], forbidden: list[str]) -> None:
    leaks = [(url, s) for url, text in pages.items() for s in forbidden if s in text]
    assert leaks == [], leaks[:10]


@pytest.fixture
def running(web, app_settings, clock):
    """CPNS1 open, enrolled (three applicants), one applicant finished."""
    assert post(web, "/committee/exams/new", FORM | RULES).status_code == 200
    creds = sheet(enroll(web, CSV).text)
    assert "notice=opened" in str(post(web, "/committee/exams/CPNS1/open").url)
    take_exams(app_settings, clock, ["2401001"])
    return creds


def public_client(settings, clock) -> TestClient:
    return TestClient(app=create_app(settings, clock=clock))


def test_anonymous_home_lists_the_exams_and_logged_in_users_go_on(
    web, app_settings, running, clock
):
    with public_client(app_settings, clock) as anon:
        home = anon.get("/", headers=HTML)
        assert home.status_code == 200 and 'lang="id"' in home.text
        assert "Seleksi terbuka untuk umum" in home.text and "Seleksi CPNS 1" in home.text
        assert "dibuka" in home.text and 'href="/exams/CPNS1"' in home.text
        assert "3 peserta terdaftar" in home.text
        assert "WIB" in home.text  # the exam window in the committee's time zone
        curl = anon.get("/", headers={"accept": "*/*"})
        assert curl.status_code == 200 and "<!doctype html>" in curl.text.lower()
    # The committee member of ``web`` is sent on to the committee's pages, as before.
    res = web.get("/", follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"] == "/committee/exams"


def test_the_live_board_shows_pseudonyms_points_and_status(web, app_settings, running, clock):
    with db_session(app_settings) as s:
        done = s.scalar(select(Enrollment).where(Enrollment.registration_number == "2401001"))
    with public_client(app_settings, clock) as anon:
        page = anon.get("/exams/CPNS1", headers=HTML)
        assert page.status_code == 200
        assert done.pseudonym in page.text and "selesai" in page.text
        assert "belum mulai" in page.text and "Keterangan" in page.text
        assert "≥30" in page.text  # TWK's passing grade
        assert 'hx-get="/exams/CPNS1/board"' in page.text and "data-follow-log" in page.text
        assert "data-cp-witnesses" in page.text  # where the witness count will go
        rows = anon.get("/exams/CPNS1/board")
        assert rows.status_code == 200 and done.pseudonym in rows.text
        assert 'id="board"' in rows.text and "flags" not in rows.text.lower()


def test_the_trail_verify_and_receipt_pages(web, app_settings, running, clock):
    with db_session(app_settings) as s:
        done = s.scalar(select(Enrollment).where(Enrollment.registration_number == "2401001"))
    with public_client(app_settings, clock) as anon:
        trail = anon.get("/exams/CPNS1/trail", headers=HTML)
        assert trail.status_code == 200 and 'name="exam" value="CPNS1"' in trail.text
        assert 'name="type"' in trail.text and 'name="pseudonym"' in trail.text
        assert "data-trail" in trail.text and "observer.js" in trail.text
        verify = anon.get("/exams/CPNS1/verify", headers=HTML)
        key = anon.get("/api/v1/log/key").text.strip()
        assert verify.status_code == 200 and key in verify.text
        assert "seleksi log verify --url" in verify.text
        assert "pip install seleksi" not in verify.text
        receipt = anon.get(f"/exams/CPNS1/receipt/{done.pseudonym}", headers=HTML)
        assert receipt.status_code == 200 and "receipt.js" in receipt.text
        proofs = json.loads(unescape(re.search(r'data-proofs="([^"]*)"', receipt.text)[1]))
        answers = re.findall(r"/api/v1/log/entries\?start=(\d+)", receipt.text)
        assert len(proofs) == len(answers) > 0
        assert "WIB" in receipt.text
        missing = anon.get("/exams/CPNS1/receipt/Pnobody", headers=HTML)
        assert missing.status_code == 404 and "Tidak ada jawaban Pnobody" in missing.text
        # A pattern is no pseudonym: it matches no one (the page looks the name up exactly).
        wild = anon.get("/exams/CPNS1/receipt/%25", headers=HTML)
        assert wild.status_code == 404


def test_public_errors_are_indonesian_pages(web, app_settings, running, clock):
    with public_client(app_settings, clock) as anon:
        for url in ("/results/CPNS1", "/exams/NOPE", "/results/NOPE", "/tidak-ada"):
            for accept in (HTML, {"accept": "*/*"}, {}):
                res = anon.get(url, headers=accept)
                assert res.status_code == 404, url
                assert res.headers["content-type"].startswith("text/html"), (url, accept)
                assert 'lang="id"' in res.text and "Halaman tidak ditemukan" in res.text
        assert "Hasil ujian CPNS1 belum diumumkan" in anon.get("/results/CPNS1").text
        # A script asking for JSON still gets JSON, and the API keeps its English.
        res = anon.get("/results/CPNS1", headers={"accept": "application/json"})
        assert res.json() == {"status_code": 404, "detail": "Hasil ujian CPNS1 belum diumumkan."}
        api = anon.get("/api/v1/exams/CPNS1/results", headers=HTML).json()
        assert api["detail"] == "the results of CPNS1 are not published"
        # A draft is not public.
    assert post(web, "/committee/exams/new", FORM | {"code": "DRAFT1"}).status_code == 200
    with public_client(app_settings, clock) as anon:
        assert anon.get("/exams/DRAFT1", headers=HTML).status_code == 404
        assert "DRAFT1" not in anon.get("/").text


def test_crawl_finds_no_item_key_name_or_registration_number(web, app_settings, running, clock):
    with public_client(app_settings, clock) as anon:
        during = crawl(anon)
    assert {"/", "/exams/CPNS1", "/exams/CPNS1/trail", "/exams/CPNS1/verify"} <= set(during)
    forbidden = secrets(app_settings)
    assert len(forbidden) > 100
    assert_nothing_secret(during, forbidden)

    take_exams(app_settings, clock, ["2401002"])
    clock.now += timedelta(hours=2)
    assert "notice=closed" in str(post(web, "/committee/exams/CPNS1/close").url)
    # A request that still asks for names (the option older pages had) gets none either.
    published = post(web, "/committee/exams/CPNS1/results/publish", {"show_names": "on"})
    assert "/results/CPNS1" in str(published.url)
    with public_client(app_settings, clock) as anon:
        after = crawl(anon)
        log_size = json.loads(anon.get("/api/v1/exams/CPNS1/rankings").text)["log_size"]
        entries = anon.get(f"/api/v1/log/entries?start=0&end={log_size}").text
    downloads = {"/results/CPNS1/v/1/table.csv", "/results/CPNS1/v/1/table.pdf"}
    assert {"/results", "/results/CPNS1", *downloads} <= set(after)
    pseudonym = events(app_settings, "results_published")[0]["table"].splitlines()[1].split(",")[0]
    assert pseudonym in after["/results/CPNS1/v/1/table.pdf"]  # the PDF's text is read
    assert any(u.startswith("/exams/CPNS1/receipt/") for u in after) is False  # not linked
    assert_nothing_secret(after, forbidden)
    assert_nothing_secret({"entries": entries}, [*NAMES, *REGISTRATION_NUMBERS])
    # Every public page shows the checkpoint with its witnesses' count.
    pages = ["/", "/results", "/results/CPNS1", "/exams/CPNS1", "/exams/CPNS1/trail"]
    for url in [*pages, "/exams/CPNS1/verify"]:
        assert "data-cp-witnesses" in after[url] and "data-msg-witnesses" in after[url], url
    with public_client(app_settings, clock) as anon:
        counted = anon.get("/api/v1/log/witnesses").json()
    assert counted["known"] == 0 and counted["cosigned"] == 0


def test_results_pages_in_wib_with_indonesian_numbers(web, app_settings, running, clock):
    take_exams(app_settings, clock, ["2401002"])
    clock.now += timedelta(hours=2)
    assert "notice=closed" in str(post(web, "/committee/exams/CPNS1/close").url)
    post(web, "/committee/exams/CPNS1/results/publish")
    with public_client(app_settings, clock) as anon:
        index = anon.get("/results", headers=HTML)
        assert index.status_code == 200 and 'href="/results/CPNS1"' in index.text
        assert anon.get("/results/", headers=HTML).status_code == 200
        page = anon.get("/results/CPNS1", headers=HTML)
        assert page.status_code == 200 and "UTC" not in page.text
        # The clock's 10:00 UTC publication is 17.00 WIB.
        published = clock.now.astimezone(UTC)
        wib = i18n.local_time(published, "id")
        assert wib.endswith("WIB") and wib in page.text
        assert "Keterangan" in page.text and 'data-label="Total"' in page.text
        english = anon.get("/results/CPNS1", headers=HTML, cookies={"lang": "en"})
        assert "Remark" in english.text


def test_number_and_time_formats():
    assert i18n.number(2973, "id") == "2.973" and i18n.number(2973, "en") == "2,973"
    assert i18n.number(71.5, "id") == "71,5"
    moment = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert i18n.local_time(moment, "id") == "24 Nov 2026 15.00 WIB"


def test_the_applicant_finds_pseudonym_rank_and_a_plain_receipt(web, app_settings, running, clock):
    with db_session(app_settings) as s:
        mine = s.scalar(select(Enrollment).where(Enrollment.registration_number == "2401001"))
    with public_client(app_settings, clock) as applicant:
        assert login(applicant, "2401001", running["2401001"]).status_code == 303
        page = applicant.get("/exam/CPNS1/finished")
        assert page.status_code == 200 and mine.pseudonym in page.text
        assert "checkpoint log berukuran" not in page.text
        assert "diumumkan bersama hasil" in page.text  # the rank comes with the results
        assert "jawaban Anda tercatat di log audit publik" in page.text
        link = f"/exams/CPNS1/receipt/{mine.pseudonym}"
        assert link in page.text and 'src="data:image/svg+xml' in page.text  # link and QR
        assert "data-check-receipt" in page.text and "<details>" in page.text
    take_exams(app_settings, clock, ["2401002"])
    clock.now += timedelta(hours=2)
    assert "notice=closed" in str(post(web, "/committee/exams/CPNS1/close").url)
    post(web, "/committee/exams/CPNS1/results/publish")
    with public_client(app_settings, clock) as applicant:
        assert login(applicant, "2401001", running["2401001"]).status_code == 303
        page = applicant.get("/exam/CPNS1/finished")
        assert "data-rank" in page.text and "diumumkan bersama hasil" not in page.text
        table = applicant.get("/results/CPNS1/v/1/table.csv").text
        row = next(r for r in table.splitlines() if r.startswith(mine.pseudonym))
        rank = row.split(",")[-2]
        shown = re.search(r"<dd data-rank>(.*?)</dd>", page.text, re.S)[1]
        assert (f"<strong>{rank}</strong>" in shown) if rank else ("—" in shown)
