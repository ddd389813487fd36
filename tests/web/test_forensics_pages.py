"""The review queue and the fairness report pages, on both databases."""

import hashlib
import re

from litestar.testing import TestClient

from exam.adapters import database
from exam.app import create_app
from tests.forensic_exam import CODE, take_exam
from tests.web.conftest import login
from tests.web.test_committee_exams import events, post


def seeded(app_settings) -> list[str]:
    engine = database.sync_engine(app_settings)
    try:
        _, rapid = take_exam(database.session_factory(engine), applicants=40)
    finally:
        engine.dispose()
    return rapid


def test_the_review_queue_from_screening_to_decision(app_settings, clock):
    rapid = seeded(app_settings)
    base = f"/observer/exams/{CODE}"
    with TestClient(app=create_app(app_settings, clock=clock)) as observer:
        assert login(observer, "pengamat").status_code == 303
        empty = observer.get(f"{base}/review")
        assert empty.status_code == 200 and "Belum ada tanda" in empty.text
        assert "Pengaturan analisis" not in empty.text  # the settings are the committee's
        page = post(observer, f"{base}/screening")
        assert page.status_code == 200 and "Menebak cepat" in page.text
        for pseudonym in rapid:
            assert pseudonym in page.text
        flag_id = int(re.search(r'id="flag-(\d+)"', page.text).group(1))
        # While the exam runs, the per-item evidence (items, choices, right or wrong) is
        # the committee's alone: it would narrow the keys of items in use.
        assert observer.get(f"{base}/flags/{flag_id}/evidence.json").status_code == 409
        assert "tersegel sampai ujian ditutup" in page.text
        with TestClient(app=create_app(app_settings, clock=clock)) as committee:
            assert login(committee, "komite").status_code == 303
            document = committee.get(f"{base}/flags/{flag_id}/evidence.json")
            assert document.status_code == 200
        commitment = hashlib.sha256(document.content).hexdigest()
        assert commitment in page.text
        assert commitment in {e["commitment"] for e in events(app_settings, "flag_raised")}
        noted = post(observer, f"{base}/flags/{flag_id}/reviews", {"text": "Cek rekaman CCTV"})
        assert noted.status_code == 200 and "Cek rekaman CCTV" in noted.text
        refused = post(
            observer, f"{base}/flags/{flag_id}/reviews", {"text": "x", "decision": "referred"}
        )
        assert refused.status_code == 403
        # Invalid input to a use case is 422, as everywhere (exam.web.errors).
        assert post(observer, f"{base}/flags/{flag_id}/reviews", {"text": " "}).status_code == 422
        assert post(observer, f"{base}/forensics", {"level": "0.1"}).status_code == 403
        assert observer.get(f"{base}/flags/99999/evidence.json").status_code == 404
    with TestClient(app=create_app(app_settings, clock=clock)) as committee:
        assert login(committee, "komite").status_code == 303
        page = committee.get(f"{base}/review")
        assert "Pengaturan analisis" in page.text
        bad = post(committee, f"{base}/forensics", {"level": "lima"})
        assert bad.status_code == 400 and "level" in bad.text
        saved = post(committee, f"{base}/forensics", {"level": "0.1", "compromised": []})
        assert saved.status_code == 200 and "0.1" in saved.text
        decided = post(
            committee,
            f"{base}/flags/{flag_id}/reviews",
            {"text": "Peserta sakit, dikonfirmasi pengawas", "decision": "no_action"},
        )
        assert decided.status_code == 200 and "tidak ada tindak lanjut" in decided.text
    [decision] = events(app_settings, "flag_decision")
    assert decision["flag"] == flag_id and decision["role"] == "committee"
    assert [e["role"] for e in events(app_settings, "flag_note")] == ["observer"]


def test_the_fairness_report_page_its_figures_and_the_export(app_settings, clock):
    seeded(app_settings)
    base = f"/observer/exams/{CODE}/fairness"
    with TestClient(app=create_app(app_settings, clock=clock)) as observer:
        assert login(observer, "pengamat").status_code == 303
        page = observer.get(base)
        assert page.status_code == 200
        assert "Galat baku per kemampuan" in page.text and "gender" in page.text
        for plot in ("se", "exposure", "information"):
            assert f"{base}/TIU/{plot}.svg" in page.text
            figure = observer.get(f"{base}/TIU/{plot}.svg")
            assert figure.status_code == 200 and "<svg" in figure.text
            assert figure.headers["content-type"].startswith("image/svg+xml")
        assert observer.get(f"{base}/TIU/nope.svg").status_code == 404
        export = observer.get(f"{base}/report.html")
        assert export.status_code == 200
        assert "attachment" in export.headers["content-disposition"]
        assert export.text.count("<svg") >= 3 and "<img" not in export.text
    with TestClient(app=create_app(app_settings, clock=clock)) as anonymous:
        assert anonymous.get(base, follow_redirects=False).status_code in (302, 303, 401)
