"""The demo as its README describes it: every role can log in, and the proctor watches the
first room of the demo's test site."""

from litestar.testing import TestClient

from exam.app import create_app
from exam.usecases.demo import DEMO_PASSWORD, DEMO_SITE, prepare_demo
from tests.web.conftest import login


def test_the_demo_has_a_proctor_watching_its_first_room(settings):
    info = prepare_demo(settings, applicants=12)
    again = prepare_demo(settings, applicants=12)  # running it again reuses what is there
    assert (info.proctor, again.applicants) == ("proctor", info.applicants)
    with TestClient(app=create_app(settings)) as client:
        assert login(client, info.proctor, DEMO_PASSWORD).status_code == 303
        page = client.get("/proctor/")
        assert page.status_code == 200 and DEMO_SITE in page.text
        # Ruang 1 holds the first ten applicants; the other two sit in Ruang 2.
        assert "Ruang 1" in page.text and "Ruang 2" not in page.text
        assert "applicant10" in page.text and "applicant11" not in page.text
        assert client.get("/observer/").status_code == 403
