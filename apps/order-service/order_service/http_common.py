"""The HTTP conventions every service here follows: request ids, trace ids and spans
(OpenTelemetry), JSON logs on stdout, the request body limit, error bodies and configuration
from the environment.

Each service carries an identical copy of this module, because each image is built from its
own directory alone; tests/apps/test_conventions.py fails when the copies differ.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from starlette.exceptions import HTTPException as StarletteHTTPException

MAX_BODY_BYTES = 64 * 1024
"""The largest request body any service accepts; a larger one gets 413."""
DEFAULT_PORT = 8080
REQUEST_ID_HEADER = "X-Request-Id"
TRACE_ID_HEADER = "X-Trace-Id"
"""Every response's OpenTelemetry trace id (W3C, 32 hex digits)."""
AMZN_TRACE_ID_HEADER = "X-Amzn-Trace-Id"
"""The trace header the load balancer adds; logged (as amznTraceId) and passed on."""
KEEP_ALIVE_SECONDS = 65
"""Idle keep-alive of the server: longer than the load balancer's 60 s idle timeout, so the
load balancer, never the service, closes an idle connection (AWS's advice for targets)."""
GRACEFUL_SHUTDOWN_SECONDS = 20
"""Time given to requests in flight on SIGTERM; below the task's 30 s stop timeout."""
TRACING_SHUTDOWN_SECONDS = 5.0
"""Then at most this long to send the spans still queued: 20 + 5 s stays below the task's 30 s
stop timeout even when the collector does not answer."""
OTLP_PROTOCOL = "http/protobuf"
"""The one OTLP protocol the images carry an exporter for."""

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_AMZN_TRACE_ID = re.compile(r"^[A-Za-z0-9=;._:-]{1,256}$")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
amzn_trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "amzn_trace_id", default=None
)

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


# --- tracing ---------------------------------------------------------------------------------
#
# The OpenTelemetry SDK reads its standard variables from the process environment itself:
# OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the resource), OTEL_TRACES_SAMPLER(_ARG) (the
# sampler; parent-based always-on when unset), OTEL_PROPAGATORS (read when opentelemetry is
# first imported), OTEL_EXPORTER_OTLP_* (where and how the exporter sends) and OTEL_BSP_* (the
# batch processor's queue). What is decided here is only whether spans are exported at all.

_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_OTLP_PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


def _env_value(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, "").strip()


def otlp_export_enabled(environ: Mapping[str, str]) -> bool:
    """Spans leave the process only when an OTLP endpoint is set, OTEL_SDK_DISABLED is not
    `true` and OTEL_TRACES_EXPORTER is not `none`. Otherwise spans (and so trace ids for the
    logs and X-Trace-Id) are still made, and nothing is sent anywhere."""
    if _env_value(environ, "OTEL_SDK_DISABLED").lower() == "true":
        return False
    if _env_value(environ, "OTEL_TRACES_EXPORTER").lower() == "none":
        return False
    return any(_env_value(environ, name) for name in _OTLP_ENDPOINTS)


def span_exporter(environ: Mapping[str, str]) -> OTLPSpanExporter | None:
    """The OTLP/HTTP exporter when spans are exported, else None; ConfigError for a setting it
    cannot honour (the first of each pair that is set is the one the SDK uses)."""
    if not otlp_export_enabled(environ):
        return None
    exporter = _env_value(environ, "OTEL_TRACES_EXPORTER").lower()
    if exporter not in ("", "otlp"):
        raise ConfigError(f"OTEL_TRACES_EXPORTER must be otlp or none, not {exporter!r}")
    endpoint = next(n for n in _OTLP_ENDPOINTS if _env_value(environ, n))
    parts = urlsplit(_env_value(environ, endpoint))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{endpoint} must be an http(s) URL, not {_env_value(environ, endpoint)!r}"
        )
    protocol = next((n for n in _OTLP_PROTOCOLS if _env_value(environ, n)), None)
    if protocol is not None and _env_value(environ, protocol) != OTLP_PROTOCOL:
        raise ConfigError(
            f"{protocol} must be {OTLP_PROTOCOL}, not {_env_value(environ, protocol)!r}"
        )
    # Endpoint, headers, timeout and compression: the SDK's own reading of OTEL_EXPORTER_OTLP_*.
    return OTLPSpanExporter()


def tracer_provider(service: str, environ: Mapping[str, str]) -> TracerProvider:
    """The process's tracer provider. The service name is OTEL_SERVICE_NAME's (or
    OTEL_RESOURCE_ATTRIBUTES's), else `service`. When spans are exported, they go through a
    batch processor: ending a span only appends it to a bounded queue (OTEL_BSP_MAX_QUEUE_SIZE,
    2048 by default; when full, new spans are dropped), and a background thread sends batches
    with the exporter's timeout, so a collector that is down or slow never delays or fails a
    request. shutdown_tracing, not an exit hook, ends it: with a bound."""
    exporter = span_exporter(environ)
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def shutdown_tracing(provider: TracerProvider, timeout: float = TRACING_SHUTDOWN_SECONDS) -> bool:
    """Send the spans still queued, for at most `timeout` seconds; False if that was not enough.
    The SDK's own shutdown may wait the exporter's timeout for each batch left (10 s each by
    default) while the collector does not answer; its threads are daemons, so the process
    need not wait for them."""
    worker = threading.Thread(target=provider.shutdown, name="tracing-shutdown", daemon=True)
    worker.start()
    worker.join(timeout)
    return not worker.is_alive()


def instrument_app(app: FastAPI, provider: trace.TracerProvider | None = None) -> None:
    """A server span for every request, around all of the app's middleware (so every log line
    of the request has its ids), continuing the caller's W3C `traceparent` when one is sent.
    No spans for each ASGI message sent or received: one span per request is enough."""
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, exclude_spans=["receive", "send"]
    )


def current_trace_ids() -> tuple[str, str] | None:
    """The current span's trace id (32 hex digits) and span id (16), if there is a span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


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
    """Outermost middleware of every service's own (inside only the request's server span,
    see instrument_app):

    - takes the request id from `X-Request-Id` (1 to 128 of `A-Z a-z 0-9 . _ : -`) or makes
      one, returns it in the response's `X-Request-Id` and keeps it, with the load balancer's
      trace header, for every log line written while the request is served;
    - returns the request's trace id in `X-Trace-Id` (none without a span: OTEL_SDK_DISABLED);
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
        amzn_trace_id = _valid(_header(scope, b"x-amzn-trace-id"), _AMZN_TRACE_ID)
        ids = current_trace_ids()
        trace_id = ids[0] if ids is not None else None
        scope.setdefault("state", {}).update(
            request_id=request_id, trace_id=trace_id, amzn_trace_id=amzn_trace_id
        )
        tokens = request_id_var.set(request_id), amzn_trace_id_var.set(amzn_trace_id)
        response = {"status": 0, "started": False, "bytes": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                headers = [
                    (key, value)
                    for key, value in message.get("headers", ())
                    if key.lower() not in (b"x-request-id", b"x-trace-id")
                ]
                headers.append((b"x-request-id", request_id.encode("ascii")))
                if trace_id is not None:
                    headers.append((b"x-trace-id", trace_id.encode("ascii")))
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
            amzn_trace_id_var.reset(tokens[1])

    def _too_large(self) -> dict[str, Any]:
        return error_body(413, f"body: the request body is larger than {self.max_body} bytes")


def outgoing_headers(request: Request) -> dict[str, str]:
    """The ids to pass on to a service this one calls (the instrumented HTTP client adds the
    W3C `traceparent` of its own span)."""
    headers = {REQUEST_ID_HEADER: request.state.request_id}
    if request.state.amzn_trace_id:
        headers[AMZN_TRACE_ID_HEADER] = request.state.amzn_trace_id
    return headers


# --- running ---------------------------------------------------------------------------------


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def serve(
    service: str,
    load_settings: Callable[[Mapping[str, str]], Any],
    create_app: Callable[[Any], Any],
    environ: Mapping[str, str] | None = None,
) -> int:
    """Read the settings, then serve on PORT (8080) until SIGTERM. HOST (all interfaces by
    default) is for local runs, which bind 127.0.0.1. The tracer provider is the process's
    global one (the OTEL_* variables are the process environment's: the SDK reads them there);
    after the server stops, queued spans get TRACING_SHUTDOWN_SECONDS at most."""
    environ = os.environ if environ is None else environ
    logger = configure_logging(service, environ.get("LOG_LEVEL"))
    try:
        settings = load_settings(environ)
        port = env_port(environ)
        provider = tracer_provider(service, environ)
    except ConfigError as error:
        logger.error("configuration error", extra={"fields": {"error": str(error)}})
        return 2
    trace.set_tracer_provider(provider)
    logger.info("tracing", extra={"fields": {"otlpExport": otlp_export_enabled(environ)}})
    # Once it has stopped, uvicorn raises the SIGTERM it caught again under the handler it
    # found; with Python's default one, the process would die there, before the spans still
    # queued are sent. This one ends it as an exception that `finally` below sees.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    import uvicorn  # only the process that serves needs the server

    try:
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
    finally:
        if not shutdown_tracing(provider):
            logger.warning(
                "queued spans not sent before exit",
                extra={"fields": {"waitedSeconds": TRACING_SHUTDOWN_SECONDS}},
            )
    return 0
