"""The server's log lines: plain text, or JSON lines for a site's log collector
(``SELEKSI_LOG_FORMAT=json``), as uvicorn's ``log_config`` (``seleksi serve``).

The JSON formatter is a few lines of ``logging.Formatter`` rather than a dependency
(python-json-logger would do the same): one object per line with the time, level,
logger, message, the request id when the record has one (``exam.web.errors`` logs every
5xx with it), and the traceback as one string.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any

from uvicorn.config import LOGGING_CONFIG

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid is not None:
            line["request_id"] = rid
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def log_config(log_format: str) -> dict[str, Any]:
    """uvicorn's logging configuration with every logger (uvicorn's, the application's
    through the root logger) on stderr in ``log_format`` (``text`` or ``json``)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    if log_format == "json":
        config["formatters"] = {
            name: {"()": f"{__name__}.JsonLines"} for name in config["formatters"]
        }
    config["formatters"]["app"] = (
        {"()": f"{__name__}.JsonLines"} if log_format == "json" else {"format": TEXT}
    )
    config["handlers"]["app"] = {
        "formatter": "app",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["root"] = {"handlers": ["app"], "level": "INFO"}
    return config
