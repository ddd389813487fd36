"""Schemathesis against the OpenAPI schema, on a real server per database: every operation
of the JSON API as each role (anonymous, applicant, observer, committee), with generated
valid and invalid inputs. No reply may be a server error (5xx), and every reply must match
the schema: its documented status codes, content type, headers and body."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import _fresh_pg_database
from tests.live_server import PASSWORD, LiveServer, prepare_closed_exam, prepare_data

ROLES = {"anonymous": None, "applicant": "peserta01", "observer": "pengamat", "committee": "komite"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Never called: the stream does not end, and logging out ends the role's session.
SKIP = {"/api/v1/log/stream", "/api/v1/auth/logout"}
EXAMPLES = 50


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request, tmp_path_factory):
    url = None
    drop = None
    if request.param == "postgresql":
        url, drop = _fresh_pg_database(request.getfixturevalue("pg_server"))
    settings = prepare_data(tmp_path_factory.mktemp("schema-data"), url)
    prepare_closed_exam(settings)
    server = LiveServer(settings)
    base = server.start()
    yield base
    server.stop()
    if drop:
        drop()


def logged_in(base: str, username: str | None) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/healthz", timeout=10)
    session.headers["x-csrftoken"] = session.cookies["csrftoken"]
    if username:
        res = session.post(
            f"{base}/api/v1/auth/login",
            json={"username": username, "password": PASSWORD},
            timeout=10,
        )
        assert res.status_code in (200, 201), res.text
        if username == "peserta01":
            started = session.post(f"{base}/api/v1/exams/UJI/attempts", timeout=10)
            assert started.status_code in (200, 201), started.text
    return session


def test_every_operation_as_every_role_stays_within_the_schema(live):
    schema = schemathesis.openapi.from_url(f"{live}/schema/openapi.json")
    sessions = {role: logged_in(live, user) for role, user in ROLES.items()}
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 15  # the JSON API of CONTRACTS.md and /healthz
    calls = 0
    for operation in operations:
        if operation.path in SKIP:
            continue

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            nonlocal calls
            for session in sessions.values():
                case.call_and_validate(base_url=live, session=session, checks=CHECKS, timeout=30)
                calls += 1

        run()
    assert calls > 500
