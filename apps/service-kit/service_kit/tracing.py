"""Traces: the process's OpenTelemetry tracer provider, whether and where spans are exported,
the server span of every request, and the bounded shutdown that sends the spans still queued.

The OpenTelemetry SDK reads its standard variables from the process environment itself:
OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the resource), OTEL_TRACES_SAMPLER(_ARG) (the
sampler; parent-based always-on when unset), OTEL_PROPAGATORS (read when opentelemetry is
first imported), OTEL_EXPORTER_OTLP_* (where and how the exporter sends) and OTEL_BSP_* (the
batch processor's queue). What is decided here is only whether spans are exported at all.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from .config import ConfigError

TRACING_SHUTDOWN_SECONDS = 5.0
"""After the requests in flight (serve.GRACEFUL_SHUTDOWN_SECONDS), at most this long to send
the spans still queued: 20 + 5 s stays below the task's 30 s stop timeout even when the
collector does not answer."""
OTLP_PROTOCOL = "http/protobuf"
"""The one OTLP protocol the images carry an exporter for."""

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
