"""Every score shown follows from the audit log, on both databases: a finished attempt's
points or an enrollment's formation changed directly in the database never reach the live
board, the public ranking, the applicant's result page and API, or a publication."""

import json
import logging
import re

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, update

from exam.adapters.models import Attempt, Enrollment
from tests.web.conftest import login
from tests.web.test_committee_exams import db_session, events, post
from tests.web.test_results import closed  # noqa: F401 (a fixture)

FORGED = "does not match the audit log"


def attempt_of(settings, reg: str) -> tuple[int, str, dict]:
    with db_session(settings) as s:
        enr = s.scalar(select(Enrollment).where(Enrollment.registration_number == reg))
        attempt = s.scalar(select(Attempt).where(Attempt.enrollment_id == enr.id))
        return attempt.id, enr.pseudonym, attempt.results


def forge_points(settings, reg: str, section: str, plus: int) -> int:
    """Add ``plus`` points to a section of ``reg``'s stored results, as a plain UPDATE;
    returns the forged points."""
    attempt_id, _, results = attempt_of(settings, reg)
    forged = {**results, section: {**results[section], "points": results[section]["points"] + plus}}
    with db_session(settings) as s, s.begin():
        s.execute(update(Attempt.__table__).where(Attempt.id == attempt_id).values(results=forged))
    return forged[section]["points"]


def board_row(html: str, pseudonym: str) -> str:
    [row] = [r for r in re.findall(r"<tr>.*?</tr>", html, re.S) if pseudonym in r]
    return row


@pytest.fixture
def boards_fresh(web):
    web.app.state.boards.max_age_s = 0  # every request builds its board: no cached one
    return web


def test_forged_points_are_withheld_everywhere(
    web,
    boards_fresh,
    app_settings,
    closed,  # noqa: F811 (the fixture imported above)
    caplog,
):
    attempt_id, pseudonym, results = attempt_of(app_settings, "2401002")
    true_twk = results["TWK"]["points"]
    with TestClient(app=web.app) as public:
        before = public.get("/api/v1/exams/CPNS1/rankings").json()
    [row] = [r for r in before["rows"] if r["pseudonym"] == pseudonym]
    assert row["sections"]["TWK"] == true_twk and not row["log_mismatch"]

    forged = forge_points(app_settings, "2401002", "TWK", 50)
    with caplog.at_level(logging.ERROR, logger="exam.usecases.score_check"):
        with TestClient(app=web.app) as public:
            ranking = public.get("/api/v1/exams/CPNS1/rankings").json()
        [row] = [r for r in ranking["rows"] if r["pseudonym"] == pseudonym]
        assert row["log_mismatch"] is True and row["sections"] is None and row["total"] is None
        assert row["rank"] is None
        assert f'"TWK": {forged}' not in json.dumps(ranking)
        others = [r for r in ranking["rows"] if r["pseudonym"] != pseudonym]
        assert not any(r["log_mismatch"] for r in others)
        assert any(r["status"] == "finished" and r["rank"] == 1 for r in others)

        with TestClient(app=web.app) as observer:
            assert login(observer, "pengamat").status_code == 303
            page = observer.get("/observer/exams/CPNS1/board")
            tr = board_row(page.text, pseudonym)
            assert "tidak cocok dengan log audit" in tr and f">{forged}<" not in tr
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any(pseudonym in m and "TWK: points" in m for m in errors), errors

    with TestClient(app=web.app) as applicant:
        assert login(applicant, "2401002", closed["2401002"]).status_code == 303
        api = applicant.get(f"/api/v1/attempts/{attempt_id}/result")
        assert api.status_code == 409 and FORGED in api.text and str(forged) not in api.text
        page = applicant.get("/exam/CPNS1/finished")
        assert page.status_code == 200 and "tidak cocok dengan log audit" in page.text
        assert f'class="num">{forged}<' not in page.text
        assert "seleksi log receipt" in page.text  # the receipt of the answers stays

    preview = web.get("/committee/exams/CPNS1/results/")
    assert preview.status_code == 200 and "data-log-mismatch" in preview.text
    assert pseudonym in preview.text and "results/publish" not in preview.text
    refused = post(web, "/committee/exams/CPNS1/results/publish")
    assert refused.status_code == 409 and pseudonym in refused.text
    assert "the stored rows do not match the audit log" in refused.text
    assert events(app_settings, "results_published") == []


def test_a_forged_formation_stops_the_publication(
    web,
    app_settings,
    closed,  # noqa: F811 (the fixture imported above)
):
    _, pseudonym, _ = attempt_of(app_settings, "2401001")
    with db_session(app_settings) as s, s.begin():
        s.execute(
            update(Enrollment.__table__)
            .where(Enrollment.registration_number == "2401001")
            .values(formation="Pranata Komputer")
        )
    preview = web.get("/committee/exams/CPNS1/results/")
    assert "data-log-mismatch" in preview.text and pseudonym in preview.text
    refused = post(web, "/committee/exams/CPNS1/results/publish")
    assert refused.status_code == 409 and pseudonym in refused.text
    assert "the stored rows do not match the audit log" in refused.text
    assert "formation &#39;Auditor&#39;" in refused.text  # what the log states
    assert events(app_settings, "results_published") == []
    # The log states each pseudonym's formation and track, never a name or number.
    [enrolled] = events(app_settings, "applicants_enrolled")
    assert enrolled["formations"] == ["Auditor", "Auditor", "Pranata Komputer"]
    assert enrolled["tracks"] == ["", "disabilitas", ""]
    assert "Ani Lestari" not in json.dumps(enrolled) and "2401001" not in json.dumps(enrolled)


def test_untouched_scores_are_shown_and_published(
    web,
    boards_fresh,
    app_settings,
    closed,  # noqa: F811 (the fixture imported above)
):
    attempt_id, pseudonym, results = attempt_of(app_settings, "2401002")
    with TestClient(app=web.app) as applicant:
        assert login(applicant, "2401002", closed["2401002"]).status_code == 303
        api = applicant.get(f"/api/v1/attempts/{attempt_id}/result").json()
        assert api["sections"]["TWK"]["points"] == results["TWK"]["points"]
    with TestClient(app=web.app) as public:
        ranking = public.get("/api/v1/exams/CPNS1/rankings").json()
    assert not any(r["log_mismatch"] for r in ranking["rows"])
    assert post(web, "/committee/exams/CPNS1/results/publish").status_code == 200
    [published] = events(app_settings, "results_published")
    assert pseudonym in published["table"]
