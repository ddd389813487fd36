"""The server's log as JSON lines: a 500 is one line with its request id and traceback."""

from __future__ import annotations

import io
import json
import logging
import logging.config

from exam.web.logs import JsonLines, log_config
from tests.web.test_error_pages import HTML, broken  # noqa: F401 (the fixture)


def test_a_500_is_one_json_line_with_its_request_id_and_traceback(broken):  # noqa: F811
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    web = logging.getLogger("exam.web")
    web.addHandler(handler)
    try:
        reply = broken.get("/committee/boom", headers=HTML)
    finally:
        web.removeHandler(handler)
    assert reply.status_code == 500
    [line] = [json.loads(text) for text in out.getvalue().splitlines()]
    assert line["request_id"] == reply.headers["x-request-id"]
    assert line["request_id"] in reply.text
    assert line["level"] == "ERROR" and line["logger"] == "exam.web"
    assert "RuntimeError: a bug" in line["traceback"]


def test_the_json_configuration_formats_every_logger_as_json():
    config = log_config("json")
    formatters = {f["()"] for f in config["formatters"].values()}
    assert formatters == {"exam.web.logs.JsonLines"}
    assert config["root"]["handlers"] == ["app"]
    text = log_config("text")
    assert "uvicorn.logging.DefaultFormatter" in json.dumps(text["formatters"])
    # A valid dictConfig (applied to a copy of the logging state, then restored).
    root = logging.getLogger()
    before = root.handlers[:], root.level
    try:
        logging.config.dictConfig(config)
        assert isinstance(root.handlers[0].formatter, JsonLines)
    finally:
        root.handlers[:], _ = before
        root.setLevel(before[1])
