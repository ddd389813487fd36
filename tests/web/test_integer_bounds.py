"""Integers from outside the server (path, query, header, JSON body, form field) that no
database column can hold, or that mean nothing, are refused with a 4xx naming the field,
never a 500: 2^31 and up (the row ids are 32-bit on PostgreSQL), 2^63 and up, negatives and
numbers too long for Python to parse. On both databases."""

from __future__ import annotations

import httpx
import pytest
from litestar.testing import TestClient

from tests.live_server import server  # noqa: F401 (the fixture)
from tests.web.conftest import csrf, login
from tests.web.test_attempt_api import api, api_login, exam_ready, post  # noqa: F401
from tests.web.test_committee_exams import post as form_post

#: Out of range for the column or the meaning, as the text of a path, query or form.
OUT_OF_RANGE = [str(2**31), str(2**63 - 1), str(2**63), str(2**64), str(10**30), "-1"]
#: Longer than Python's int() parses (4,300 digits).
HUGE = "9" * 5000


def refused(res, field: str, value: str = "") -> None:
    """A client error whose reply names ``field``; for a path segment too long to be
    parsed as a number, no route matches (404), as for any other text."""
    assert 400 <= res.status_code < 500, (res.status_code, res.text[:500])
    if value == HUGE and res.status_code == 404:
        return
    assert field in res.text, res.text[:500]


def applicant_attempt(client) -> int:
    api_login(client, "peserta01")
    return post(client, "/api/v1/exams/UJI/attempts").json()["attempt_id"]


@pytest.mark.parametrize("value", [*OUT_OF_RANGE, HUGE])
def test_attempt_ids_out_of_range_are_refused(api, value):  # noqa: F811
    applicant_attempt(api)
    refused(api.get(f"/api/v1/attempts/{value}"), "attempt_id", value)
    refused(api.get(f"/api/v1/attempts/{value}/result"), "attempt_id", value)
    answer = {"step": 0, "item_id": "x", "choice": "A"}
    refused(post(api, f"/api/v1/attempts/{value}/answers", answer), "attempt_id", value)
    refused(
        post(api, f"/api/v1/attempts/{value}/events", {"type": "blur", "at": 1}),
        "attempt_id",
        value,
    )


@pytest.mark.parametrize("step", [2**31, 2**63, 2**64, 10**30, -1, -(2**63) - 1])
def test_an_answer_step_out_of_range_is_refused(api, step):  # noqa: F811
    attempt = applicant_attempt(api)
    item = api.get(f"/api/v1/attempts/{attempt}").json()["item"]
    res = post(
        api,
        f"/api/v1/attempts/{attempt}/answers",
        {"step": step, "item_id": item["item_id"], "choice": "A"},
    )
    refused(res, "step")
    # The attempt is untouched: step 0 is still open.
    ok = post(
        api,
        f"/api/v1/attempts/{attempt}/answers",
        {"step": 0, "item_id": item["item_id"], "choice": "A"},
    )
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("at", [2**63, 2**64, -1])
def test_an_event_time_out_of_range_is_refused(api, at):  # noqa: F811
    attempt = applicant_attempt(api)
    refused(post(api, f"/api/v1/attempts/{attempt}/events", {"type": "blur", "at": at}), "at")


@pytest.mark.parametrize("step", [*OUT_OF_RANGE, HUGE])
def test_the_answer_form_refuses_a_step_out_of_range(api, step):  # noqa: F811
    assert login(api, "peserta01").status_code == 303
    form_post(api, "/exam/UJI/start")
    res = api.post(
        "/exam/UJI/answer",
        data={"step": step, "item_id": "x", "choice": "A"},
        headers={"x-csrftoken": csrf(api), "HX-Request": "true"},
    )
    refused(res, "step")


@pytest.mark.parametrize("value", [*OUT_OF_RANGE[2:], HUGE])
def test_the_log_api_refuses_indices_out_of_range_anonymously(client, value):
    big = str(int(value) + 1) if value != HUGE else HUGE
    refused(client.get(f"/api/v1/log/entries?start={value}&end={big}"), "start")
    refused(client.get(f"/api/v1/log/entries?start=0&end={value}"), "end")
    refused(client.get(f"/api/v1/log/proof/inclusion?index={value}&size={big}"), "index")
    refused(client.get(f"/api/v1/log/proof/inclusion?index=0&size={value}"), "size")
    refused(client.get(f"/api/v1/log/proof/consistency?first={value}&second={big}"), "first")
    refused(client.get(f"/api/v1/log/proof/consistency?first=1&second={value}"), "second")


def stream_reply(base: str, **kw) -> httpx.Response:
    """The stream's reply, read only when it is a refusal (an accepted stream never ends)."""
    with (
        httpx.Client(base_url=base, timeout=10) as http,
        http.stream("GET", "/api/v1/log/stream", **kw) as res,
    ):
        if res.status_code != 200:
            res.read()
        return res


@pytest.mark.parametrize("value", [str(2**63), str(2**64), "-1", HUGE])
def test_the_stream_refuses_a_start_out_of_range(server, value):  # noqa: F811
    refused(stream_reply(server, params={"since": value}), "since")


@pytest.mark.parametrize("value", [str(2**63 - 1), str(2**64), "-2", HUGE])
def test_the_stream_refuses_a_last_event_id_whose_next_index_no_column_holds(server, value):  # noqa: F811
    refused(stream_reply(server, headers={"last-event-id": value}), "last_event_id")


@pytest.mark.parametrize("value", [*OUT_OF_RANGE, HUGE])
def test_committee_and_observer_ids_out_of_range_are_refused(api, value):  # noqa: F811
    with TestClient(app=api.app) as committee, TestClient(app=api.app) as observer:
        assert login(committee, "komite").status_code == 303
        assert login(observer, "pengamat").status_code == 303
        form = {"decision": "rejected", "answer": "no"}
        refused(
            form_post(committee, f"/committee/exams/UJI/appeals/{value}", form), "appeal_id", value
        )
        refused(
            form_post(committee, f"/committee/bank/dif/{value}/decision", {"decision": "keep"}),
            "finding_id",
            value,
        )
        refused(
            committee.get(f"/committee/bank/items/TWK-001/versions/{value}/information.svg"),
            "version",
            value,
        )
        refused(committee.get(f"/committee/bank/?page={value}"), "page")
        base = "/observer/exams/UJI/flags"
        refused(form_post(observer, f"{base}/{value}/reviews", {"decision": "x"}), "flag_id", value)
        refused(observer.get(f"{base}/{value}/evidence.json"), "flag_id", value)
    # The public results.
    refused(api.get(f"/results/UJI?version={value}"), "version")
    refused(api.get(f"/results/UJI/v/{value}/table.csv"), "version", value)


@pytest.mark.parametrize("value", [*OUT_OF_RANGE[2:], HUGE])
def test_a_receipt_index_out_of_range_is_refused(api, value):  # noqa: F811
    applicant_attempt(api)
    refused(api.get(f"/exam/UJI/receipts/{value}"), "index", value)


def test_form_numbers_too_long_to_parse_are_refused(api):  # noqa: F811
    with TestClient(app=api.app) as committee:
        assert login(committee, "komite").status_code == 303
        res = form_post(
            committee,
            "/committee/exams/UJI/extra-time",
            {"registration_number": "REG-1", "minutes": HUGE},
        )
        refused(res, "minutes")
    assert login(api, "peserta01").status_code == 303
    res = form_post(api, "/exam/UJI/appeals/", {"text": "x" * 50, "references": HUGE})
    refused(res, "references")
