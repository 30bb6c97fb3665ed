"""The HTTP conventions every service here follows: request ids, JSON logs on stdout, the
request body limit, error bodies and configuration from the environment.

Each service carries an identical copy of this module, because each image is built from its
own directory alone; tests/apps/test_conventions.py fails when the copies differ.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

MAX_BODY_BYTES = 64 * 1024
"""The largest request body any service accepts; a larger one gets 413."""
DEFAULT_PORT = 8080
REQUEST_ID_HEADER = "X-Request-Id"
TRACE_ID_HEADER = "X-Amzn-Trace-Id"
"""The trace header the load balancer adds; logged and passed on when present."""
KEEP_ALIVE_SECONDS = 65
"""Idle keep-alive of the server: longer than the load balancer's 60 s idle timeout, so the
load balancer, never the service, closes an idle connection (AWS's advice for targets)."""
GRACEFUL_SHUTDOWN_SECONDS = 20
"""Time given to requests in flight on SIGTERM; below the task's 30 s stop timeout."""

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TRACE_ID = re.compile(r"^[A-Za-z0-9=;._:-]{1,256}$")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# --- configuration ---------------------------------------------------------------------------


class ConfigError(ValueError):
    """An environment variable is missing or malformed."""


def env_required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


def env_url(environ: Mapping[str, str], name: str) -> str:
    """An http(s) base URL, without a trailing slash."""
    value = env_required(environ, name).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    return value


def env_seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 < value <= 300:
        raise ConfigError(f"{name} must be more than 0 and at most 300 seconds, not {raw!r}")
    return value


def env_port(environ: Mapping[str, str]) -> int:
    raw = environ.get("PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"PORT must be a TCP port number, not {raw!r}")
    return int(raw)


def env_region(environ: Mapping[str, str]) -> str:
    region = environ.get("AWS_REGION", "").strip() or environ.get("AWS_DEFAULT_REGION", "").strip()
    if not region:
        raise ConfigError("AWS_REGION is not set")
    return region


# --- logging ---------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request and trace ids of the request being served."""

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
        trace_id = trace_id_var.get()
        if trace_id is not None:
            entry["traceId"] = trace_id
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


# --- errors ----------------------------------------------------------------------------------


def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "message": message, **extra}


def error_response(
    status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(status, message, **extra), status_code=status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    """`("body", "items", 0, "quantity")` -> `items[0].quantity`; a header or a path parameter
    keeps its kind: `header Idempotency-Key`."""
    if not loc:
        return "body"
    kind, rest = loc[0], loc[1:]
    name = ""
    for part in rest:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    if kind == "body":
        return name or "body"
    return f"{kind} {name}".strip()


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = list(error.errors())
    malformed = next((p for p in problems if p.get("type") == "json_invalid"), None)
    if malformed is not None:
        position = malformed["loc"][1] if len(malformed["loc"]) > 1 else "?"
        reason = (malformed.get("ctx") or {}).get("error", "not JSON")
        return error_response(
            400, f"body: the request body is not valid JSON ({reason} at position {position})"
        )
    fields = []
    for problem in problems:
        field = _field_name(tuple(problem.get("loc", ())))
        message = str(problem.get("msg", "is not valid"))
        if field == "body" and problem.get("type") in ("model_attributes_type", "dict_type"):
            message = "expected a JSON object"
            if not _is_json(request):
                message += " sent as Content-Type: application/json"
        fields.append({"field": field, "message": message})
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return error_response(422, summary or "the request is not valid", fields=fields)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return error_response(
        error.status_code, str(error.detail), headers=getattr(error, "headers", None)
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error body is `{"status", "message"}`; validation errors name each field."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


# --- the request middleware ------------------------------------------------------------------


def _valid(value: str | None, pattern: re.Pattern[str]) -> str | None:
    return value if value is not None and pattern.fullmatch(value) else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            try:
                return value.decode("latin-1")
            except UnicodeDecodeError:
                return None
    return None


class _TooLargeError(Exception):
    pass


class _DisconnectedError(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


class RequestContext:
    """Outermost middleware of every service:

    - takes the request id from `X-Request-Id` (1 to 128 of `A-Z a-z 0-9 . _ : -`) or makes
      one, returns it in the response's `X-Request-Id` and keeps it, with the load balancer's
      trace id, for every log line written while the request is served;
    - reads the whole body before the application runs: more than MAX_BODY_BYTES, announced
      by Content-Length or actually sent, gets 413 and the application never sees the request;
    - writes one JSON log line per request; an unhandled error becomes a 500 with a JSON body.
    """

    def __init__(self, app: ASGIApp, *, logger: logging.Logger, max_body: int = MAX_BODY_BYTES):
        self.app = app
        self.logger = logger
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _valid(_header(scope, b"x-request-id"), _REQUEST_ID) or uuid.uuid4().hex
        trace_id = _valid(_header(scope, b"x-amzn-trace-id"), _TRACE_ID)
        scope.setdefault("state", {}).update(request_id=request_id, trace_id=trace_id)
        tokens = request_id_var.set(request_id), trace_id_var.set(trace_id)
        response = {"status": 0, "started": False, "bytes": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                headers = [
                    (key, value)
                    for key, value in message.get("headers", ())
                    if key.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                response["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            declared = _header(scope, b"content-length")
            if declared is not None and not declared.strip().isdigit():
                await _send_json(send_with_id, 400, error_body(400, "Content-Length: not a number"))
            elif declared is not None and int(declared) > self.max_body:
                await _send_json(send_with_id, 413, self._too_large())
            else:
                body = await _read_body(receive, self.max_body)
                await self.app(scope, _replay(body, receive), send_with_id)
        except _TooLargeError:
            await _send_json(send_with_id, 413, self._too_large())
        except _DisconnectedError:
            response["status"] = 499  # the client went away before sending its whole body
        except Exception:
            self.logger.exception("unhandled error")
            if response["started"]:
                raise
            await _send_json(send_with_id, 500, error_body(500, "internal error"))
        finally:
            self.logger.info(
                "request",
                extra={
                    "fields": {
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": response["status"],
                        "durationMs": round((time.perf_counter() - started) * 1000, 1),
                        "responseBytes": response["bytes"],
                    }
                },
            )
            request_id_var.reset(tokens[0])
            trace_id_var.reset(tokens[1])

    def _too_large(self) -> dict[str, Any]:
        return error_body(413, f"body: the request body is larger than {self.max_body} bytes")


def outgoing_headers(request: Request) -> dict[str, str]:
    """The ids to pass on to a service this one calls."""
    headers = {REQUEST_ID_HEADER: request.state.request_id}
    if request.state.trace_id:
        headers[TRACE_ID_HEADER] = request.state.trace_id
    return headers


# --- running ---------------------------------------------------------------------------------


def serve(
    service: str,
    load_settings: Callable[[Mapping[str, str]], Any],
    create_app: Callable[[Any], Any],
    environ: Mapping[str, str] | None = None,
) -> int:
    """Read the settings, then serve on PORT (8080) until SIGTERM. HOST (all interfaces by
    default) is for local runs, which bind 127.0.0.1."""
    environ = os.environ if environ is None else environ
    logger = configure_logging(service, environ.get("LOG_LEVEL"))
    try:
        settings = load_settings(environ)
        port = env_port(environ)
    except ConfigError as error:
        logger.error("configuration error", extra={"fields": {"error": str(error)}})
        return 2
    import uvicorn  # only the process that serves needs the server

    uvicorn.run(
        create_app(settings),
        # All interfaces: in a Fargate task (awsvpc) that is the task's own network interface.
        host=environ.get("HOST", "0.0.0.0"),
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0
