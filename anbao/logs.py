"""Structured JSON logs with the request id, and a last line of defence against leaked secrets.

Code never logs secrets on purpose; the redaction filter exists for the accident (an exception
message quoting a header, a URL with a password) and masks bearer tokens, basic credentials,
passwords and client secrets before a record is written.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_SECRET_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-_.~+/]+=*"), r"\1[REDACTED]"),
    (re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/]+=*"), r"\1[REDACTED]"),
    (
        re.compile(
            r"(?i)((?:password|passwd|secret|client_secret|token|api_key)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"
        ),
        r"\1[REDACTED]",
    ),
    (re.compile(r"(://[^/:@\s]+:)[^@/\s]+@"), r"\1[REDACTED]@"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "@timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "log.level": record.levelname.lower(),
            "log.logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key != "request_id":
                entry[key] = value
        if record.exc_info:
            entry["error.stack_trace"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "info", stream: Any = None) -> None:
    """Route every logger (ours, uvicorn's, the clients') through one JSON handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Anbao writes its own access log (with the request id and route); uvicorn's would double it.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers[:] = []
    uvicorn_access.propagate = False
    uvicorn_access.disabled = True
    # Client libraries log request lines that may carry credentials at DEBUG; keep them quiet.
    for name in ("httpx", "httpcore", "elastic_transport", "urllib3"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # Alembic announces each of its plugins at INFO when first imported (whenever a store with
    # migrations is built after this): seven lines of noise before `anbao serve --check`'s one.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(logging.WARNING, root.level))
