"""Publishing results, on both databases: the committee's preview and publication, the
public page and its downloads, the certificate and its QR target, publishing twice, and
seleksi log verify recomputing the ranking (a tampered table fails)."""

import csv
import hashlib
import io
import json
import random
from datetime import timedelta

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import select

from exam.adapters.models import Attempt, Enrollment, Exam
from exam.adapters.runtime import runtime
from exam.app import create_app
from exam.cli import main
from exam.cli_log import write_export
from exam.usecases import answering, delivery
from proctoring import checkpoints, log, merkle
from proctoring.canonical import canonical
from proctoring.note import Checkpoint, Signer, Verifier
from proctoring.seal import open_entries, parse_bundle
from proctoring.verify import verify
from tests.web.conftest import login
from tests.web.test_committee_exams import CSV, FORM, db_session, enroll, events, post, sheet

RULES = {"vacancies": "Auditor 1\nPranata Komputer 1", "quota_multiplier": "1"}


def take_exams(settings, clock, regs) -> None:
    """The applicants in ``regs`` take the whole exam (through the delivery use cases)."""
    rng = random.Random(3)
    for reg in regs:
        now = clock.now
        with db_session(settings) as s, s.begin():
            exam = s.scalar(select(Exam).where(Exam.code == "CPNS1"))
            enr = s.scalar(select(Enrollment).where(Enrollment.registration_number == reg))
            view = delivery.start_attempt(s, runtime(exam), exam, enr, now)
        while view.item is not None:
            now += timedelta(seconds=10)
            with db_session(settings) as s, s.begin():
                exam = s.scalar(select(Exam).where(Exam.code == "CPNS1"))
                enr = s.scalar(select(Enrollment).where(Enrollment.registration_number == reg))
                attempt = s.scalar(select(Attempt).where(Attempt.enrollment_id == enr.id))
                choice = rng.choice([k for k, _ in view.item.options])
                answering.submit_answer(
                    s, runtime(exam), attempt, enr, view.step, view.item.item_id, choice, now
                )
                view = delivery.view(runtime(exam), attempt, now)


@pytest.fixture
def closed(web, app_settings, clock):
    assert post(web, "/committee/exams/new", FORM | RULES).status_code == 200
    creds = sheet(enroll(web, CSV).text)
    assert "notice=opened" in str(post(web, "/committee/exams/CPNS1/open").url)
    take_exams(app_settings, clock, ["2401001", "2401002"])  # 2401003 stays away
    clock.now += timedelta(hours=2)
    assert "notice=closed" in str(post(web, "/committee/exams/CPNS1/close").url)
    return creds


def export(settings):
    with db_session(settings) as s:
        latest = checkpoints.latest(s)
        return [e.entry for e in log.entries(s, 0, latest.size)], latest.note


def exam_openings(committee) -> list:
    """The openings a committee member (or an observer, after the close) downloads."""
    return parse_bundle(committee.get("/observer/exams/CPNS1/openings").text)[1]


def test_publish_then_public_page_downloads_and_certificate(web, app_settings, closed, clock):
    preview = web.get("/committee/exams/CPNS1/results/")
    assert preview.status_code == 200 and "1 peserta terdaftar tidak menyelesaikan" in preview.text
    page = post(web, "/committee/exams/CPNS1/results/publish")
    assert page.status_code == 200 and "/results/CPNS1" in str(page.url)
    [published] = events(app_settings, "results_published")
    assert published["version"] == 1
    assert hashlib.sha256(published["table"].encode()).hexdigest() == published["table_sha256"]

    with TestClient(app=create_app(app_settings, clock=clock)) as public:  # no login
        page = public.get("/results/CPNS1")
        assert page.status_code == 200 and published["table_sha256"] in page.text
        assert "Ani Lestari" not in page.text  # pseudonyms unless the committee chose names
        table = public.get("/results/CPNS1/v/1/table.csv")
        assert table.text == published["table"]
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert len(rows) == 2 and {r["formation"] for r in rows} == {"Auditor"}
        pdf = public.get("/results/CPNS1/v/1/table.pdf")
        assert pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
        plot = public.get("/results/CPNS1/v/1/distribution.svg")
        assert plot.status_code == 200 and b"<svg" in plot.content
        api = public.get("/api/v1/exams/CPNS1/results").json()
        assert api["versions"][0]["table_sha256"] == published["table_sha256"]
        pseudonym = rows[0]["person_id"]
        check = public.get(f"/results/CPNS1/check/{pseudonym}")
        assert check.status_code == 200 and "c2sp.org/tlog-proof@v1" in check.text
        assert "check.js" in check.text and pseudonym in check.text
        assert public.get("/results/CPNS1/check/Pnobody").status_code == 404
        assert public.get("/results/NOPE").status_code == 404

    with TestClient(app=create_app(app_settings, clock=clock)) as applicant:
        assert login(applicant, "2401002", closed["2401002"]).status_code == 303
        finished = applicant.get("/exam/CPNS1/finished")
        assert "/exam/CPNS1/certificate.pdf" in finished.text
        cert = applicant.get("/exam/CPNS1/certificate.pdf")
        assert cert.content.startswith(b"%PDF") and len(cert.content) > 2000

    # Publishing the same table again is refused; the first version stays.
    again = post(web, "/committee/exams/CPNS1/results/publish")
    assert again.status_code == 409 and "already published" in again.text
    texts, note = export(app_settings)
    key = Verifier.parse(web.get("/api/v1/log/key").text)
    report = verify(texts, note, key, key.name, openings=exam_openings(web))
    assert report.problems == [] and report.replayed == 2 and report.level == "full replay"


def test_results_wait_for_the_exam_to_close(web, app_settings, clock):
    assert post(web, "/committee/exams/new", FORM).status_code == 200
    enroll(web, CSV)
    post(web, "/committee/exams/CPNS1/open")
    refused = post(web, "/committee/exams/CPNS1/results/publish")
    assert refused.status_code == 409 and "close it before publishing" in refused.text
    assert events(app_settings, "results_published") == []


def test_a_tampered_published_table_fails_verification(web, app_settings, closed, tmp_path):
    post(web, "/committee/exams/CPNS1/results/publish")
    texts, _ = export(app_settings)
    i = next(k for k, t in enumerate(texts) if '"type":"results_published"' in t)
    entry = json.loads(texts[i])
    lines = entry["table"].split("\n")
    first = lines[1].split(",")
    first[-2] = "9"  # a forged rank
    lines[1] = ",".join(first)
    entry["table"] = "\n".join(lines)
    entry["table_sha256"] = hashlib.sha256(entry["table"].encode()).hexdigest()  # consistent
    forged = list(texts)
    forged[i] = canonical(entry)
    # Even re-signed by the log's own key, the recomputed ranking gives it away.
    with db_session(app_settings) as s:
        signer = Signer.parse((app_settings.resolved_log_key_file).read_text())
        assert log.size(s) >= len(forged)
    nodes = merkle.nodes_for_leaves(merkle.leaf_hash(t.encode()) for t in forged)
    root = merkle.root(len(forged), lambda lv, k: nodes[(lv, k)])
    note = signer.sign(Checkpoint(signer.name, len(forged), root).text())
    problems = verify(forged, note, signer.verifier, signer.name).problems
    assert any("ranking recomputed" in p for p in problems), problems
    folder = tmp_path / "export"
    write_export(folder, str(signer.verifier), note, forged, [])
    args = ["log", "verify", "--export", str(folder), "--state", str(tmp_path / "state")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "ranking recomputed" in result.output


def test_an_upheld_appeal_rekeys_rescores_and_a_second_version_lists_who_changed(
    web, app_settings, closed, clock
):
    post(web, "/committee/exams/CPNS1/results/publish")
    # An answer 2401002 got wrong, in the fixed TWK section (5 points per correct answer).
    with db_session(app_settings) as s:
        from exam.adapters.models import Response

        enr = s.scalar(select(Enrollment).where(Enrollment.registration_number == "2401002"))
        attempt = s.scalar(select(Attempt).where(Attempt.enrollment_id == enr.id))
        wrong = s.scalar(
            select(Response).where(
                Response.attempt_id == attempt.id,
                Response.category == 0,
                Response.pilot.is_(False),
                Response.section == "TWK",
            )
        )
        before = attempt.results["TWK"]["points"]
        pseudonym = enr.pseudonym
    with TestClient(app=create_app(app_settings, clock=clock)) as applicant:
        assert login(applicant, "2401002", closed["2401002"]).status_code == 303
        assert "/exam/CPNS1/appeals/" in applicant.get("/exam/CPNS1/finished").text
        short = post(applicant, "/exam/CPNS1/appeals/", {"text": "x"})
        assert short.status_code == 409 and "10–4000" in short.text
        filed = post(
            applicant,
            "/exam/CPNS1/appeals/",
            {"text": f"Kunci soal {wrong.item_id} keliru.", "references": str(wrong.log_index)},
        )
        assert filed.status_code == 200 and "diajukan" in filed.text
    [appeal] = events(app_settings, "appeal_filed")
    assert appeal["references"] == [wrong.log_index] and "keliru" not in json.dumps(appeal)

    page = web.get("/committee/exams/CPNS1/appeals/")
    assert "Kunci soal" in page.text
    bad = post(
        web,
        f"/committee/exams/CPNS1/appeals/{appeal['appeal']}",
        {"decision": "rejected", "answer": "x", "rekey_item": wrong.item_id, "rekey_key": "A"},
    )
    assert bad.status_code == 409 and "only an upheld appeal" in bad.text
    ok = post(
        web,
        f"/committee/exams/CPNS1/appeals/{appeal['appeal']}",
        {
            "decision": "upheld",
            "answer": "Kunci diperbaiki.",
            "rekey_item": wrong.item_id,
            "rekey_key": wrong.choice,
        },
    )
    assert ok.status_code == 200 and "diterima" in ok.text
    [rekeyed] = events(app_settings, "item_rekeyed")
    assert "scoring" not in rekeyed, "the corrected key is sealed like the answers"
    open_entries([rekeyed], exam_openings(web))
    assert rekeyed["scoring"][wrong.choice] == 1
    rescored = [e for e in events(app_settings, "attempt_rescored") if e["pseudonym"] == pseudonym]
    assert rescored and rescored[-1]["points"] == before + 5

    v2 = post(web, "/committee/exams/CPNS1/results/publish")
    assert v2.status_code == 200 and "version=2" in str(v2.url)
    first, second = events(app_settings, "results_published")
    assert second["version"] == 2 and second["supersedes"] > first["version"]
    assert pseudonym in [c["pseudonym"] for c in second["changes"]]
    with TestClient(app=create_app(app_settings, clock=clock)) as public:
        page = public.get("/results/CPNS1")
        assert "Perubahan dari versi 1" in page.text and pseudonym in page.text
        # Whether an applicant proceeds reads as Indonesian, not as a Python or CSV bool.
        assert "Lanjut: ya" in page.text or "Lanjut: tidak" in page.text
        assert "Lanjut false" not in page.text and "Lanjut true" not in page.text
        assert public.get("/results/CPNS1?version=1").status_code == 200  # stays visible
    texts, note = export(app_settings)
    key = Verifier.parse(web.get("/api/v1/log/key").text)
    assert verify(texts, note, key, key.name, openings=exam_openings(web)).problems == []
    # A forged re-scoring is caught: the corrected categories do not give these points.
    i = max(k for k, t in enumerate(texts) if '"type":"attempt_rescored"' in t)
    entry = json.loads(texts[i])
    entry["points"] += 5
    forged = list(texts)
    forged[i] = canonical(entry)
    signer = Signer.parse(app_settings.resolved_log_key_file.read_text())
    nodes = merkle.nodes_for_leaves(merkle.leaf_hash(t.encode()) for t in forged)
    root = merkle.root(len(forged), lambda lv, k: nodes[(lv, k)])
    forged_note = signer.sign(Checkpoint(signer.name, len(forged), root).text())
    given = exam_openings(web)
    problems = verify(forged, forged_note, signer.verifier, signer.name, openings=given).problems
    assert any("re-scoring gives" in p for p in problems), problems

    clock.now += timedelta(hours=100)
    with TestClient(app=create_app(app_settings, clock=clock)) as applicant:
        assert login(applicant, "2401002", closed["2401002"]).status_code == 303
        late = post(applicant, "/exam/CPNS1/appeals/", {"text": "Terlambat sekali ya."})
        assert late.status_code == 409 and "window closed" in late.text
