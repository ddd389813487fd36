"""The committee's exam pages over HTTP, on both databases: the builder, the check, opening,
enrollment by CSV with login sheets, new credentials and extra time."""

import html
import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from exam.adapters import database
from exam.adapters.models import Attempt, Enrollment, Exam, Response, User
from exam.adapters.runtime import runtime
from exam.app import create_app
from exam.usecases.delivery import definition_sha256
from proctoring import log
from tests.web.conftest import csrf, login

FORM = {
    "code": "CPNS1",
    "title": "Seleksi CPNS 1",
    "duration_minutes": "60",
    "sections": "2",
    "s1_name": "TWK",
    "s1_domain": "TWK",
    "s1_kind": "fixed",
    "s1_max_items": "10",
    "s1_passing_grade": "30",
    "s1_topics": "nasionalisme 5 5\nintegritas 5 5",
    "s1_exposure": "none",
    "s2_name": "TIU",
    "s2_domain": "TIU",
    "s2_kind": "adaptive",
    "s2_min_items": "8",
    "s2_max_items": "10",
    "s2_se_target": "0.4",
    "s2_exposure": "randomesque",
}
CSV = (
    "registration_number,name,formation,track,extra_time_minutes,gender,region\n"
    "2401001,Ani Lestari,Auditor,,,F,Jawa\n"
    "2401002,Budi Santoso,Auditor,disabilitas,15,M,Papua\n"
    "2401003,Citra Dewi,Pranata Komputer,,,F,Sumatra\n"
)


def db_session(settings):
    engine = database.sync_engine(settings)
    return database.session_factory(engine)()


def events(settings, kind: str) -> list[dict]:
    with db_session(settings) as s:
        found = [json.loads(e.entry) for e in log.entries(s, 0, log.size(s))]
    return [e for e in found if e["type"] == kind]


def post(client, url, data=None, **kw):
    return client.post(url, data=data or {}, headers={"x-csrftoken": csrf(client)}, **kw)


def post_json(client, url, body=None):
    return client.post(url, json=body or {}, headers={"x-csrftoken": csrf(client)})


def enroll(client, text: str, name: str = "peserta.csv"):
    return client.post(
        "/committee/exams/CPNS1/enroll",
        files={"file": (name, text.encode())},
        headers={"x-csrftoken": csrf(client)},
    )


def sheet(html: str) -> dict[str, str]:
    """Registration number → password, read off a login sheet."""
    creds = re.findall(r'<dd class="credential">\s*(.*?)\s*</dd>', html, re.S)
    return dict(zip(creds[0::2], creds[1::2], strict=True))


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<span class="field-error" id="(.*?)-error">(.*?)</span>', html))


def test_every_wrong_field_is_named_and_nothing_is_saved(web, app_settings):
    bad = FORM | {
        "code": "x",
        "duration_minutes": "0",
        "points_correct": "0",
        "s1_topics": "nasionalisme two 2",
        "s2_domain": "SKB",
        "opens_at": "2026-12-01T09:00",
        "closes_at": "2026-12-01T08:00",
    }
    page = post(web, "/committee/exams/new", bad)
    assert page.status_code == 422
    errors = field_errors(page.text)
    assert set(errors) == {
        "code",
        "duration_minutes",
        "points_correct",
        "s1_topics",
        "s2_domain",
        "closes_at",
    }
    assert "line 1" in errors["s1_topics"]
    assert 'value="Seleksi CPNS 1"' in page.text  # what was typed stays
    with db_session(app_settings) as s:
        assert s.scalar(select(Exam).where(Exam.code == "X")) is None
    assert events(app_settings, "exam_created") == []


def test_add_section_keeps_the_form(web):
    page = post(web, "/committee/exams/new", FORM | {"action": "add_section"})
    assert page.status_code == 200
    assert 'name="s3_name"' in page.text and 'value="TWK"' in page.text


def test_create_edit_check_and_open(web, app_settings, clock):
    page = post(web, "/committee/exams/new", FORM | {"opens_at": "2026-11-24T15:30"})
    assert page.status_code == 200 and "notice=created" in str(page.url)
    [created] = events(app_settings, "exam_created")
    with db_session(app_settings) as s:
        exam = s.scalar(select(Exam).where(Exam.code == "CPNS1"))
        assert exam.status == "draft" and exam.definition["duration_s"] == 3600
        # 15:30 in Jakarta (UTC+7) is 08:30 UTC.
        assert exam.opens_at.hour == 8 and exam.opens_at.minute == 30
        assert [r["topic"] for r in exam.definition["sections"][0]["content"]] == [
            "nasionalisme",
            "integritas",
        ]
    assert created["by"] > 0 and "definition_sha256" in created

    edit = web.get("/committee/exams/CPNS1/edit")
    assert 'value="Seleksi CPNS 1"' in edit.text and "nasionalisme 5 5" in edit.text
    too_long = FORM | {"s2_max_items": "400"}
    assert post(web, "/committee/exams/CPNS1/edit", too_long).status_code == 200
    check = post(web, "/committee/exams/CPNS1/check")
    assert "problems" in check.text and "fewer than max_items 400" in check.text
    opened = post(web, "/committee/exams/CPNS1/open")
    assert opened.status_code == 422 and "fewer than max_items 400" in opened.text
    with db_session(app_settings) as s:
        assert s.scalar(select(Exam.status).where(Exam.code == "CPNS1")) == "draft"

    assert post(web, "/committee/exams/CPNS1/edit", FORM).status_code == 200
    assert len(events(app_settings, "exam_updated")) == 2
    check = post(web, "/committee/exams/CPNS1/check")
    assert check.status_code == 200
    assert "data:image/svg+xml;base64," in check.text
    assert check.text.count('<th scope="row">') == 2  # one row per section

    page = post(web, "/committee/exams/CPNS1/open")
    assert "notice=opened" in str(page.url)
    [commitment] = events(app_settings, "exam_committed")
    assert commitment["exam"] == "CPNS1"
    # The definition is fixed once open.
    assert post(web, "/committee/exams/CPNS1/edit", FORM).status_code == 409
    assert 'href="/committee/exams/CPNS1/edit"' not in web.get("/committee/exams/CPNS1").text


def test_enrollment_errors_name_their_lines_and_enroll_nobody(web, app_settings):
    assert post(web, "/committee/exams/new", FORM).status_code == 200
    broken = CSV + "2401004,,Auditor,,,F,Bali\n2401001,Dua Kali,Auditor,,,M,Jawa\nx y,Z,A,,abc,,\n"
    page = enroll(web, broken, "angkatan1.csv")
    assert page.status_code == 422
    items = re.findall(r"<li><code>(\d+)</code>(?: <strong>(\w+)</strong>)?", page.text)
    assert ("5", "name") in items and ("6", "registration_number") in items
    assert ("7", "registration_number") in items and ("7", "extra_time_minutes") in items
    assert "angkatan1.csv" in page.text
    with db_session(app_settings) as s:
        assert s.scalars(select(Enrollment)).all() == []
        assert s.scalar(select(User).where(User.username == "2401001")) is None


def test_enroll_print_sheets_and_log_in(web, app_settings):
    assert post(web, "/committee/exams/new", FORM).status_code == 200
    page = enroll(web, CSV)
    assert page.status_code == 200
    creds = sheet(page.text)
    assert set(creds) == {"2401001", "2401002", "2401003"}
    assert all(re.fullmatch(r"[a-z2-9]{10}", p) for p in creds.values())
    assert "data-print" in page.text
    with db_session(app_settings) as s:
        rows = {e.registration_number: e for e in s.scalars(select(Enrollment))}
        assert rows["2401002"].extra_time_s == 15 * 60 and rows["2401002"].track == "disabilitas"
        assert rows["2401003"].attributes == {"gender": "F", "region": "Sumatra"}
    [logged] = events(app_settings, "applicants_enrolled")
    assert logged["count"] == 3 and len(logged["pseudonyms"]) == 3
    assert "Ani" not in json.dumps(logged) and "2401001" not in json.dumps(logged)

    again = enroll(web, CSV)
    assert again.status_code == 422 and again.text.count("already enrolled in CPNS1") == 3

    with TestClient(app=web.app) as applicant:
        assert login(applicant, "2401002", creds["2401002"]).status_code == 303
        assert applicant.get("/exam/CPNS1").status_code == 200
        assert applicant.get("/committee/exams/").status_code == 403


def test_new_credentials_replace_the_old_password(web, app_settings):
    assert post(web, "/committee/exams/new", FORM).status_code == 200
    old = sheet(enroll(web, CSV).text)
    page = post(web, "/committee/exams/CPNS1/credentials", {"registration_number": "2401001"})
    new = sheet(page.text)
    assert list(new) == ["2401001"] and new["2401001"] != old["2401001"]
    with TestClient(app=web.app) as applicant:
        assert login(applicant, "2401001", old["2401001"]).status_code != 303
        assert login(applicant, "2401001", new["2401001"]).status_code == 303
    every = sheet(post(web, "/committee/exams/CPNS1/credentials").text)
    assert set(every) == {"2401001", "2401002", "2401003"}
    assert len(events(app_settings, "credentials_reset")) == 2
    missing = post(web, "/committee/exams/CPNS1/credentials", {"registration_number": "999"})
    assert missing.status_code == 422 and "999 is not enrolled" in missing.text


def test_extra_time_moves_a_running_deadline_and_is_logged(web, app_settings, clock):
    assert post(web, "/committee/exams/new", FORM).status_code == 200
    creds = sheet(enroll(web, CSV).text)
    assert "notice=opened" in str(post(web, "/committee/exams/CPNS1/open").url)
    bad = post(
        web,
        "/committee/exams/CPNS1/extra-time",
        {"registration_number": "2401001", "minutes": "-5"},
    )
    assert bad.status_code == 422 and "minutes" in bad.text
    with TestClient(app=web.app) as applicant:
        assert login(applicant, "2401001", creds["2401001"]).status_code == 303
        assert post(applicant, "/exam/CPNS1/start").status_code in (200, 303)
    with db_session(app_settings) as s:
        before = s.scalar(select(Attempt)).deadline_at
    assert before - clock.now == timedelta(minutes=60)
    done = post(
        web,
        "/committee/exams/CPNS1/extra-time",
        {"registration_number": "2401001", "minutes": "20"},
    )
    assert "notice=extra_time" in str(done.url)
    with db_session(app_settings) as s:
        attempt = s.scalar(select(Attempt))
        assert attempt.deadline_at - before == timedelta(minutes=20)
        enrollment = s.scalar(select(Enrollment).where(Enrollment.registration_number == "2401001"))
        assert enrollment.extra_time_s == 1200
    [logged] = events(app_settings, "extra_time_set")
    assert logged["extra_time_s"] == 1200 and logged["pseudonym"] == enrollment.pseudonym
    unknown = post(
        web, "/committee/exams/CPNS1/extra-time", {"registration_number": "1", "minutes": "5"}
    )
    assert unknown.status_code == 422 and "not enrolled" in unknown.text


def test_an_exam_does_not_start_before_its_window(web, app_settings, clock):
    later = (clock.now + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Jakarta"))
    form = FORM | {"opens_at": later.strftime("%Y-%m-%dT%H:%M")}
    assert post(web, "/committee/exams/new", form).status_code == 200
    creds = sheet(enroll(web, CSV).text)
    post(web, "/committee/exams/CPNS1/open")
    with TestClient(app=web.app) as applicant:
        assert login(applicant, "2401003", creds["2401003"]).status_code == 303
        post(applicant, "/exam/CPNS1/start")
    with db_session(app_settings) as s:
        assert s.scalar(select(Attempt)) is None
    clock.now += timedelta(hours=2, minutes=1)
    with TestClient(app=web.app) as applicant:
        assert login(applicant, "2401003", creds["2401003"]).status_code == 303
        post(applicant, "/exam/CPNS1/start")
    with db_session(app_settings) as s:
        assert s.scalar(select(Attempt)) is not None


@pytest.mark.parametrize("who", ["pengamat", "peserta01"])
def test_only_the_committee_sets_up_exams(client, who):
    assert login(client, who).status_code == 303
    for url in ("/committee/exams/", "/committee/exams/new"):
        assert client.get(url).status_code == 403
    for url in ("/committee/exams/new", "/committee/exams/X/open", "/committee/exams/X/enroll"):
        assert post(client, url, FORM).status_code == 403


def test_selection_rules_from_the_builder(web, app_settings):
    rules = {
        "vacancies": "Auditor Ahli Pertama 2\nPranata Komputer 1",
        "quota_multiplier": "3",
        "tie_break": "TIU TWK",
        "tracks": "disabilitas - TIU:60\ncumlaude 300 TWK:60",
    }
    bad = post(web, "/committee/exams/new", FORM | rules | {"tie_break": "TKP", "tracks": "x y"})
    assert bad.status_code == 422
    assert set(field_errors(bad.text)) == {"tie_break", "tracks"}
    assert post(web, "/committee/exams/new", FORM | rules).status_code == 200
    with db_session(app_settings) as s:
        exam = s.scalar(select(Exam).where(Exam.code == "CPNS1"))
        got = exam.definition["rules"]
    assert got["vacancies"] == {"Auditor Ahli Pertama": 2, "Pranata Komputer": 1}
    assert got["tie_break"] == ["TIU", "TWK"] and got["quota_multiplier"] == 3
    assert got["tracks"]["disabilitas"] == {"total_min": None, "min": {"TIU": 60}}
    edit = web.get("/committee/exams/CPNS1/edit").text
    assert "Auditor Ahli Pertama 2" in edit and "cumlaude 300 TWK:60" in edit


def test_the_ability_prior_from_the_builder_is_committed_when_the_exam_opens(web, app_settings):
    """A section's prior N(mean, sd²) (from a Rasch calibration, say): validated with the
    section and field named, 0 and 1 by default, kept through editing, and committed."""
    new = web.get("/committee/exams/new?template=skd").text
    assert 'name="s1_prior_mean"' in new and 'id="s1_prior_sd"' in new
    bad = {"s1_prior_mean": "nan", "s2_prior_sd": "0", "s2_prior_mean": "inf"}
    page = post(web, "/committee/exams/new", FORM | bad)
    assert page.status_code == 422
    errors = {k: html.unescape(v) for k, v in field_errors(page.text).items()}
    assert set(errors) == set(bad)
    assert errors["s1_prior_mean"] == "section TWK: prior mean 'nan' is not a number from -10 to 10"
    assert errors["s2_prior_sd"].startswith("section TIU: prior SD '0' is not a number greater")
    for sd in ("-1", "1e400", "abc", "11"):
        refused = post(web, "/committee/exams/new", FORM | {"s2_prior_sd": sd})
        assert set(field_errors(refused.text)) == {"s2_prior_sd"}, sd

    assert post(web, "/committee/exams/new", FORM).status_code == 200  # no prior given
    with db_session(app_settings) as s:
        sections = s.scalar(select(Exam).where(Exam.code == "CPNS1")).definition["sections"]
    assert [(x["prior_mean"], x["prior_sd"]) for x in sections] == [(0.0, 1.0), (0.0, 1.0)]
    edit = web.get("/committee/exams/CPNS1/edit").text
    assert 'id="s2_prior_mean" inputmode="decimal" value="0"' in edit
    assert 'id="s2_prior_sd" inputmode="decimal" value="1"' in edit

    rasch = FORM | {"s2_prior_mean": "-0,25", "s2_prior_sd": "1.8"}  # a decimal comma too
    assert post(web, "/committee/exams/CPNS1/edit", rasch).status_code == 200
    edit = web.get("/committee/exams/CPNS1/edit").text
    assert 'value="-0.25"' in edit and 'id="s2_prior_sd" inputmode="decimal" value="1.8"' in edit
    assert "N(-0.25, 1.8²)" in web.get("/committee/exams/CPNS1").text

    assert "notice=opened" in str(post(web, "/committee/exams/CPNS1/open").url)
    [commitment] = events(app_settings, "exam_committed")
    with db_session(app_settings) as s:
        exam = s.scalar(select(Exam).where(Exam.code == "CPNS1"))
        twk, tiu = exam.definition["sections"]
        plans = runtime(exam).plans
    assert commitment["definition_sha256"] == definition_sha256(exam.definition)
    assert (twk["prior_mean"], twk["prior_sd"]) == (0.0, 1.0)
    assert (tiu["prior_mean"], tiu["prior_sd"]) == (-0.25, 1.8)
    assert (plans[1].quad.mean, plans[1].quad.sd) == (-0.25, 1.8)  # the engine's prior


def test_a_weighted_final_score_from_the_builder(web, app_settings):
    form = FORM | {
        "sections": "3",
        "s3_name": "SKB",
        "s3_domain": "TKP",
        "s3_kind": "fixed",
        "s3_max_items": "5",
        "final": "SKD TWK+TIU 100 40\nSKB SKB 25 60",
        "final_tie_break": "SKB TIU",
    }
    bad = post(web, "/committee/exams/new", form | {"final": "SKD TWK+TIU 100 40\nSKB SKB 25 50"})
    assert bad.status_code == 422 and "add up to 100" in field_errors(bad.text)["final"]
    assert post(web, "/committee/exams/new", form).status_code == 200
    with db_session(app_settings) as s:
        final = s.scalar(select(Exam).where(Exam.code == "CPNS1")).definition["rules"]["final"]
    assert final["components"]["SKD"] == {"sections": ["TWK", "TIU"], "max": 100, "weight": "2/5"}
    assert final["tie_break"] == ["SKB", "TIU"]
    assert "SKD TWK+TIU 100 40" in web.get("/committee/exams/CPNS1/edit").text


def test_hostile_enrollment_files_are_422_pages_not_500(web, app_settings):
    """A 5,000-digit extra time, a field over 128 KB, a NUL and invalid UTF-8: each listed
    with its line (and field) on a 422 page, and nobody enrolled."""
    assert post(web, "/committee/exams/new", FORM).status_code == 200
    head = b"registration_number,name,formation,extra_time_minutes\n"
    cases = [
        (head + b"2401001,Ani,Auditor," + b"9" * 5000 + b"\n", "extra_time_minutes"),
        (head + b"2401001," + b"a" * 140_000 + b",Auditor,\n", "field larger than field limit"),
        (head + b"2401001,A\x00ni,Auditor,\n", "contains a NUL character"),
        (head + b"2401001,\xed\xa0\x80,Auditor,\n", "not UTF-8 text"),
    ]
    for data, message in cases:
        page = web.post(
            "/committee/exams/CPNS1/enroll",
            files={"file": ("peserta.csv", data)},
            headers={"x-csrftoken": csrf(web)},
        )
        assert page.status_code == 422, (message, page.status_code)
        assert message in page.text and "peserta.csv" in page.text
    with db_session(app_settings) as s:
        assert s.scalars(select(Enrollment)).all() == []


def test_points_per_correct_answer_are_fixed_in_the_exam_when_it_opens(app_settings, clock):
    """A new exam takes the configured points (4 here); the exam keeps them once open,
    whatever SELEKSI_POINTS_CORRECT says later (6 for the server the applicant uses)."""
    four = app_settings.model_copy(update={"points_correct": 4})
    with TestClient(app=create_app(four, clock=clock)) as web:
        assert login(web, "komite").status_code == 303
        for url in ("/committee/exams/new", "/committee/exams/new?template=skd"):
            page = web.get(url).text
            assert "Poin per jawaban benar" in page
            assert re.search(r'name="points_correct" id="points_correct"[^>]* value="4"', page)
        assert post(web, "/committee/exams/new", FORM).status_code == 200
        creds = sheet(enroll(web, CSV).text)
        assert "notice=opened" in str(post(web, "/committee/exams/CPNS1/open").url)
    with db_session(app_settings) as s:
        exam = s.scalar(select(Exam).where(Exam.code == "CPNS1"))
        assert exam.definition["points_correct"] == 4
        keys = {i: item.correct for i, item in runtime(exam).items.items()}
    [committed] = events(app_settings, "exam_committed")
    assert committed["definition_sha256"] == definition_sha256(exam.definition)

    six = app_settings.model_copy(update={"points_correct": 6})
    with TestClient(app=create_app(six, clock=clock)) as api:
        signed_in = post_json(
            api, "/api/v1/auth/login", {"username": "2401001", "password": creds["2401001"]}
        )
        assert signed_in.status_code == 200, signed_in.text
        attempt = post_json(api, "/api/v1/exams/CPNS1/attempts").json()["attempt_id"]
        step = 0
        while (state := api.get(f"/api/v1/attempts/{attempt}").json())["status"] != "finished":
            item = state["item"]
            clock.now += timedelta(seconds=15)
            # Every other answer right, so the TWK section earns points.
            key = keys[item["item_id"]]  # None for a TKP item
            wrong = next(o["key"] for o in item["options"] if o["key"] != key)
            choice = key if key and step % 2 == 0 else wrong
            body = {"step": state["step"], "item_id": item["item_id"], "choice": choice}
            assert post_json(api, f"/api/v1/attempts/{attempt}/answers", body).status_code == 200
            step += 1
        result = api.get(f"/api/v1/attempts/{attempt}/result").json()
    twk = result["sections"]["TWK"]["points"]
    with db_session(app_settings) as s:
        right = s.scalar(
            select(func.count())
            .select_from(Response)
            .where(
                Response.attempt_id == attempt,
                Response.section == "TWK",
                Response.category == 1,
                Response.pilot.is_(False),
            )
        )
    assert right >= 5 and twk == 4 * right
    [finished] = events(app_settings, "attempt_finished")
    assert finished["points"]["TWK"] == twk
