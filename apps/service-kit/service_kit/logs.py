"""JSON logs on stdout: one object a line, with the request id, the trace and span ids and the
load balancer's trace header of the request being served."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .tracing import current_trace_ids

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
amzn_trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "amzn_trace_id", default=None
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id and the trace and span ids of the request
    being served (the current OpenTelemetry span's), and the load balancer's trace header."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["requestId"] = request_id
        ids = current_trace_ids()
        if ids is not None:
            entry["traceId"], entry["spanId"] = ids
        amzn_trace_id = amzn_trace_id_var.get()
        if amzn_trace_id is not None:
            entry["amznTraceId"] = amzn_trace_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


class StdoutHandler(logging.Handler):
    """Writes to whatever sys.stdout is when a record is emitted."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 - logging must never break a request
            self.handleError(record)


def log_level(value: str | None) -> int:
    """LOG_LEVEL's value (any case: debug, info, warning, error, critical); INFO otherwise."""
    level = logging.getLevelName((value or "INFO").strip().upper())
    return level if isinstance(level, int) else logging.INFO


def configure_logging(service: str, level: str | None) -> logging.Logger:
    """JSON lines on stdout for the whole process. LOG_LEVEL sets the level of the service's
    own logger and the server's; libraries (botocore, httpx) stay at WARNING whatever it says,
    since their debug output would carry request signatures and session tokens."""
    handler = StdoutHandler()
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    for name in (service, "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
        logger.setLevel(log_level(level))
    logging.getLogger("uvicorn.access").disabled = True  # one line per request comes from us
    if level is not None and not isinstance(logging.getLevelName(level.strip().upper()), int):
        logging.getLogger(service).warning(
            "LOG_LEVEL is not a level name; using INFO", extra={"fields": {"LOG_LEVEL": level}}
        )
    return logging.getLogger(service)
