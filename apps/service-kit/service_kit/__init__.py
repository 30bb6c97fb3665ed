"""The HTTP conventions every service here follows: request ids, trace ids and spans
(OpenTelemetry), JSON logs on stdout, the request body limit, error bodies and configuration
from the environment.

One copy, installed into every image (apps/Dockerfile pip-installs apps/service-kit beside the
app's pinned requirements); an app imports it as `service_kit` and ships no copy of its own.
`python -m service_kit` serves the app named by SERVICE_PACKAGE (the image's command).
"""

from .config import (
    DEFAULT_PORT,
    ConfigError,
    env_port,
    env_region,
    env_required,
    env_seconds,
    env_url,
)
from .errors import error_body, error_response, install_error_handlers
from .logs import (
    JsonFormatter,
    StdoutHandler,
    amzn_trace_id_var,
    configure_logging,
    log_level,
    request_id_var,
)
from .middleware import (
    AMZN_TRACE_ID_HEADER,
    MAX_BODY_BYTES,
    REQUEST_ID_HEADER,
    TRACE_ID_HEADER,
    RequestContext,
    outgoing_headers,
)
from .serve import GRACEFUL_SHUTDOWN_SECONDS, KEEP_ALIVE_SECONDS, serve
from .tracing import (
    OTLP_PROTOCOL,
    TRACING_SHUTDOWN_SECONDS,
    current_trace_ids,
    instrument_app,
    otlp_export_enabled,
    shutdown_tracing,
    span_exporter,
    tracer_provider,
)

__all__ = [
    "AMZN_TRACE_ID_HEADER",
    "DEFAULT_PORT",
    "GRACEFUL_SHUTDOWN_SECONDS",
    "KEEP_ALIVE_SECONDS",
    "MAX_BODY_BYTES",
    "OTLP_PROTOCOL",
    "REQUEST_ID_HEADER",
    "TRACE_ID_HEADER",
    "TRACING_SHUTDOWN_SECONDS",
    "ConfigError",
    "JsonFormatter",
    "RequestContext",
    "StdoutHandler",
    "amzn_trace_id_var",
    "configure_logging",
    "current_trace_ids",
    "env_port",
    "env_region",
    "env_required",
    "env_seconds",
    "env_url",
    "error_body",
    "error_response",
    "install_error_handlers",
    "instrument_app",
    "log_level",
    "otlp_export_enabled",
    "outgoing_headers",
    "request_id_var",
    "serve",
    "shutdown_tracing",
    "span_exporter",
    "tracer_provider",
]
