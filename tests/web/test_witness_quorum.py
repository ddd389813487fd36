"""The witness quorum set from the committee's exam page, on both databases: the field is
validated and logged, and the results are published only once that many known witnesses
cosigned a checkpoint covering the exam's log."""

import html

import pytest

from exam.adapters import database
from exam.adapters.settings import WitnessSetting
from proctoring.cosign import WitnessSigner
from proctoring.cosignatures import Witness
from proctoring.note import Verifier
from proctoring.web.witness_app import create_witness_app
from tests.db.test_witnesses import collect
from tests.web.test_committee_exams import events, post
from tests.web.test_results import closed  # noqa: F401 (a fixture)

#: Nothing listens on these ports: the app's own attempts to reach the witnesses fail at
#: once, and the test hands the checkpoints to the witnesses itself (``collect``).
URLS = ("http://127.0.0.1:9", "http://127.0.0.1:19")
SIGNERS = [WitnessSigner.generate(f"witness{n}.example/w") for n in (1, 2)]


@pytest.fixture
def app_settings(app_settings):
    """The accounts and the demo bank, with two known witnesses."""
    known = [WitnessSetting(url=u, key=str(s.verifier)) for u, s in zip(URLS, SIGNERS, strict=True)]
    return app_settings.model_copy(update={"witnesses": known})


def required(page: str) -> str:
    return page.split('data-min-witnesses="', 1)[1].split('"', 1)[0]


def test_quorum_from_the_exam_page_holds_back_publication(web, app_settings, closed, tmp_path):  # noqa: F811
    page = web.get("/committee/exams/CPNS1")
    assert required(page.text) == "0" and "Saksi yang dikenal server: 2" in page.text

    for bad, says in [
        ("3", "min_witnesses: 3 is not between 0 and the 2 witnesses"),
        ("dua", "min_witnesses: 'dua' is not a whole number"),
        ("-1", "min_witnesses: '-1' is not a whole number"),
        ("99999", "min_witnesses: at most 2 witnesses"),
    ]:
        refused = post(web, "/committee/exams/CPNS1/witnesses", {"min_witnesses": bad})
        assert refused.status_code == 422 and says in html.unescape(refused.text), bad
    assert events(app_settings, "witness_quorum_set") == []

    saved = post(web, "/committee/exams/CPNS1/witnesses", {"min_witnesses": "2"})
    assert saved.status_code == 200 and "notice=witnesses" in str(saved.url)
    assert required(saved.text) == "2" and 'value="2"' in saved.text
    [logged] = events(app_settings, "witness_quorum_set")
    assert logged["min_witnesses"] == 2 and isinstance(logged["by"], int)

    # No witness has cosigned: nothing is published.
    refused = post(web, "/committee/exams/CPNS1/results/publish")
    assert refused.status_code == 409
    assert "need 2 witness cosignatures" in refused.text
    assert "0 of 2 known witnesses (none)" in refused.text
    assert events(app_settings, "results_published") == []

    # Both witnesses cosign the log's latest checkpoint; then the results go out.
    log_key = Verifier.parse(web.get("/api/v1/log/key").text)
    witnesses = [
        (Witness(url, s.verifier), create_witness_app(s, [log_key], tmp_path / f"w{n}"), None)
        for n, (url, s) in enumerate(zip(URLS, SIGNERS, strict=True))
    ]
    engine = database.sync_engine(app_settings)
    assert [o.status for o in collect(database.session_factory(engine), witnesses)] == [200, 200]
    engine.dispose()
    published = post(web, "/committee/exams/CPNS1/results/publish")
    assert published.status_code == 200 and "/results/CPNS1" in str(published.url)
    [entry] = events(app_settings, "results_published")
    assert entry["version"] == 1

    # Empty: back to the server's default.
    post(web, "/committee/exams/CPNS1/witnesses", {"min_witnesses": ""})
    page = web.get("/committee/exams/CPNS1")
    assert required(page.text) == "0" and "bawaan server" in page.text
    assert [e["min_witnesses"] for e in events(app_settings, "witness_quorum_set")] == [2, None]
