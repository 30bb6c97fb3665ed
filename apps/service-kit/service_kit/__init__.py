"""The HTTP conventions every service here follows: request ids, trace ids and spans
(OpenTelemetry), JSON logs on stdout, the request body limit, error bodies, the API's edge
(what every request is refused for, the text rule, the HTTP protocol served, the OpenAPI
document's error responses) and configuration from the environment.

One copy, installed into every image (apps/Dockerfile pip-installs apps/service-kit beside the
app's pinned requirements); an app imports it as `service_kit` and ships no copy of its own.
`python -m service_kit` serves the app named by SERVICE_PACKAGE (the image's command).
"""

from .budget import (
    BUDGET_HEADER,
    HOP_MARGIN_SECONDS,
    Budget,
    OutOfBudgetError,
    budget_header,
    cancellation_codes,
    downstream_seconds,
    dynamodb_retryable,
    error_code,
    with_retries,
)
from .config import (
    DEFAULT_PORT,
    ConfigError,
    env_port,
    env_region,
    env_required,
    env_seconds,
    env_url,
)
from .edge import (
    BODY_TIMEOUT_SECONDS,
    HEAD_TIMEOUT_SECONDS,
    NON_BLANK_TEXT_PATTERN,
    REFUSED_RANGES,
    SINGLE_HEADERS,
    TEXT_PATTERN,
    TEXT_REFUSED,
    duplicate_json_key,
    refuse_control_characters,
    refused_path,
    text_field,
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
from .openapi import (
    ERROR_DESCRIPTIONS,
    EVERY_REQUEST,
    ErrorBody,
    FieldError,
    declared_responses_only,
    error_responses,
    path_id,
)
from .protocol import json_error_protocol
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
    "BODY_TIMEOUT_SECONDS",
    "BUDGET_HEADER",
    "DEFAULT_PORT",
    "ERROR_DESCRIPTIONS",
    "EVERY_REQUEST",
    "GRACEFUL_SHUTDOWN_SECONDS",
    "HEAD_TIMEOUT_SECONDS",
    "HOP_MARGIN_SECONDS",
    "KEEP_ALIVE_SECONDS",
    "MAX_BODY_BYTES",
    "NON_BLANK_TEXT_PATTERN",
    "OTLP_PROTOCOL",
    "REFUSED_RANGES",
    "REQUEST_ID_HEADER",
    "SINGLE_HEADERS",
    "TEXT_PATTERN",
    "TEXT_REFUSED",
    "TRACE_ID_HEADER",
    "TRACING_SHUTDOWN_SECONDS",
    "Budget",
    "ConfigError",
    "ErrorBody",
    "FieldError",
    "JsonFormatter",
    "OutOfBudgetError",
    "RequestContext",
    "StdoutHandler",
    "amzn_trace_id_var",
    "budget_header",
    "cancellation_codes",
    "configure_logging",
    "current_trace_ids",
    "declared_responses_only",
    "downstream_seconds",
    "duplicate_json_key",
    "dynamodb_retryable",
    "env_port",
    "env_region",
    "env_required",
    "env_seconds",
    "env_url",
    "error_body",
    "error_code",
    "error_response",
    "error_responses",
    "install_error_handlers",
    "instrument_app",
    "json_error_protocol",
    "log_level",
    "otlp_export_enabled",
    "outgoing_headers",
    "path_id",
    "refuse_control_characters",
    "refused_path",
    "request_id_var",
    "serve",
    "shutdown_tracing",
    "span_exporter",
    "text_field",
    "tracer_provider",
    "with_retries",
]
