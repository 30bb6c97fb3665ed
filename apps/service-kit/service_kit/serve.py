"""Running a service: read its settings, then serve on PORT until SIGTERM, and send the spans
still queued before the process exits."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace

from .config import ConfigError, env_port
from .logs import configure_logging
from .protocol import json_error_protocol
from .tracing import (
    TRACING_SHUTDOWN_SECONDS,
    otlp_export_enabled,
    shutdown_tracing,
    tracer_provider,
)

KEEP_ALIVE_SECONDS = 65
"""Idle keep-alive of the server: longer than the load balancer's 60 s idle timeout, so the
load balancer, never the service, closes an idle connection (AWS's advice for targets)."""
GRACEFUL_SHUTDOWN_SECONDS = 20
"""Time given to requests in flight on SIGTERM; below the task's 30 s stop timeout."""


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
            # h11, answering what its parser refuses with the JSON error body, and bounding the
            # time a request's head may take (protocol.py).
            http=json_error_protocol(),
        )
    finally:
        if not shutdown_tracing(provider):
            logger.warning(
                "queued spans not sent before exit",
                extra={"fields": {"waitedSeconds": TRACING_SHUTDOWN_SECONDS}},
            )
    return 0
