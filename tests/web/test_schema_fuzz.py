"""Schemathesis against the OpenAPI schema, on a real server per database: every operation
of the JSON API as each role (anonymous, applicant, observer, committee), with generated
valid and invalid inputs, and every integer it takes (path, query, header, JSON body) set to
numbers no column holds: negatives, 2^31, 2^63, 2^64 and numbers of thousands of digits. No
reply may be a server error (5xx), and every reply must match the schema: its documented
status codes, content type, headers and body. The schema itself says which operations need
the session cookie, checked against what an anonymous client gets."""

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
#: Integers no column holds (ids and steps are 32-bit, log indices 63-bit), and one of
#: 5,000 digits, more than Python's int() parses.
EXTREMES = [-1, -(2**31), -(2**63) - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, 10**4000]
HUGE = "9" * 5000
EXTREME_TEXTS = [str(n) for n in EXTREMES] + [HUGE]


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


@pytest.fixture(scope="module")
def sessions(live) -> dict[str, requests.Session]:
    """One session per role for the module (the login rate limit counts per client)."""
    return {role: logged_in(live, user) for role, user in ROLES.items()}


def integer_inputs(schema: dict) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Per (path, method) of the OpenAPI document, its integer inputs as (location, name):
    parameters whose schema admits an integer and the integer properties of a JSON body."""
    components = schema.get("components", {}).get("schemas", {})
    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            inputs = [
                (p["in"], p["name"])
                for p in op.get("parameters", [])
                if "integer" in str(p.get("schema", {}))
            ]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
            inputs += [("body", k) for k, v in properties.items() if v.get("type") == "integer"]
            if inputs:
                found[(path, method.upper())] = inputs
    return found


def with_value(case, location: str, name: str, value):
    """``case`` with one integer input replaced by ``value`` (a JSON number in the body,
    text elsewhere)."""
    if location == "body":
        return case.operation.Case(
            method=case.method,
            path_parameters=case.path_parameters,
            headers=case.headers,
            query=case.query,
            body={**case.body, name: int(value)},
            media_type=case.media_type,
        )
    text = str(value)
    if location == "path":
        return case.operation.Case(
            method=case.method,
            path_parameters={**case.path_parameters, name: text},
            headers=case.headers,
            query=case.query,
            body=case.body,
            media_type=case.media_type,
        )
    if location == "query":
        return case.derive(query={**(case.query or {}), name: text})
    return case.derive(headers={**(case.headers or {}), name: text})


def test_integers_no_column_holds_never_reach_the_database(live, sessions):
    document = requests.get(f"{live}/schema/openapi.json", timeout=10).json()
    targets = integer_inputs(document)
    # The attempt ids, the answer's step, the event time and the log's indices at least.
    assert len(targets) >= 7
    assert ("body", "step") in targets[("/api/v1/attempts/{attempt_id}/answers", "POST")]
    # The applicant is logged in (a second start resumes the attempt).
    resumed = sessions["applicant"].post(f"{live}/api/v1/exams/UJI/attempts", timeout=10)
    assert resumed.status_code == 200, resumed.text
    schema = schemathesis.openapi.from_url(f"{live}/schema/openapi.json")
    replies: list[int] = []

    def extremes_of(operation, inputs):
        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=2,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            for value in EXTREME_TEXTS:
                # Each input alone, then all of them ascending from it (start and end,
                # index and size, first and second pass their own range checks).
                variants = [[(location, name, value)] for location, name in inputs]
                if len(inputs) > 1 and value != HUGE:
                    variants.append(
                        [(loc, name, int(value) + i) for i, (loc, name) in enumerate(inputs)]
                    )
                for variant in variants:
                    extreme = case
                    for location, name, v in variant:
                        if location == "body" and v == HUGE:
                            continue  # no JSON number: Python writes at most 4,300 digits
                        extreme = with_value(extreme, location, name, v)
                    for session in sessions.values():
                        res = extreme.call_and_validate(
                            base_url=live, session=session, checks=CHECKS, timeout=30
                        )
                        replies.append(res.status_code)

        return run

    for operation in (r.ok() for r in schema.get_all_operations()):
        inputs = targets.get((operation.path, operation.method.upper()), [])
        if operation.path not in SKIP and inputs:
            extremes_of(operation, inputs)()
    # Nearly all are refused; 2^63 - 1 is a log index the column holds (a 200 may list
    # no entries for it).
    refused = sum(400 <= c < 500 for c in replies)
    assert len(replies) > 500 and refused >= 0.9 * len(replies)


def test_every_operation_as_every_role_stays_within_the_schema(live, sessions):
    schema = schemathesis.openapi.from_url(f"{live}/schema/openapi.json")
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


def test_the_schema_says_who_needs_the_session_cookie(client):
    """Public operations (the audit log, rankings, published results, login, health) carry
    no security requirement and the others the session cookie, as the middleware does: an
    anonymous call gets 401 exactly where the schema asks for the cookie."""
    document = client.get("/schema/openapi.json").json()
    assert not document.get("security")
    assert "sessionCookie" in document["components"]["securitySchemes"]
    public, secured = set(), set()
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            (secured if op.get("security") == [{"sessionCookie": []}] else public).add(
                (method.upper(), path)
            )
            assert op.get("security") in (None, [{"sessionCookie": []}]), (method, path)
    assert {
        ("GET", "/api/v1/log/entries"),
        ("GET", "/api/v1/log/checkpoint"),
        ("GET", "/api/v1/log/proof/inclusion"),
        ("GET", "/api/v1/log/proof/consistency"),
        ("GET", "/api/v1/log/stream"),
        ("GET", "/api/v1/exams/{exam_code}/rankings"),
        ("GET", "/api/v1/exams/{exam_code}/results"),
        ("POST", "/api/v1/auth/login"),
        ("GET", "/healthz"),
    } <= public
    assert ("POST", "/api/v1/attempts/{attempt_id}/answers") in secured
    client.get("/healthz")
    token = client.cookies["csrftoken"]
    for method, path in sorted(public | secured):
        if path == "/api/v1/log/stream":
            continue  # a stream does not end
        url = path.replace("{exam_code}", "UJI").replace("{attempt_id}", "1")
        url = url.replace("{step}", "0")
        res = client.request(
            method,
            url,
            params={"start": 0, "end": 1, "index": 0, "size": 1, "first": 1, "second": 1},
            json={} if method == "POST" else None,
            headers={"x-csrftoken": token},
        )
        assert (res.status_code == 401) == ((method, path) in secured), (method, path, res.text)


def test_the_schema_lists_conflicts_and_refusals_of_the_answer(client):
    document = client.get("/schema/openapi.json").json()
    answer = document["paths"]["/api/v1/attempts/{attempt_id}/answers"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "422"} <= set(answer)
    events = document["paths"]["/api/v1/attempts/{attempt_id}/events"]["post"]["responses"]
    result = document["paths"]["/api/v1/attempts/{attempt_id}/result"]["get"]["responses"]
    assert "422" in events and "409" in result
    assert "404" in document["paths"]["/api/v1/log/checkpoint"]["get"]["responses"]
    step = document["components"]["schemas"]["AnswerIn"]["properties"]["step"]
    assert step["minimum"] == 0 and step["maximum"] < 2**31
    entries = {
        p["name"]: p["schema"]
        for p in document["paths"]["/api/v1/log/entries"]["get"]["parameters"]
    }
    assert entries["start"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
