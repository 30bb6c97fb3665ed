"""Tracing in the apps, in process: each request is a server span whose trace id is in the
response's X-Trace-Id and in every log line; calls to other services and to DynamoDB are its
child spans, and a W3C `traceparent` goes out with each call; spans leave the process only when
an OTLP endpoint is set, and a collector that is down delays nothing.

The same through real processes, `make local`'s: test_tracing_e2e.py."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from service_kit import (
    GRACEFUL_SHUTDOWN_SECONDS,
    TRACING_SHUTDOWN_SECONDS,
    ConfigError,
    otlp_export_enabled,
    serve,
    shutdown_tracing,
    span_exporter,
    tracer_provider,
)
from tests.apps.conftest import (
    REGION,
    Recorded,
    big_body,
    create_table,
    json_logging,
    lines,
    load_script,
    parent_id,
    small_app,
    span_id,
    trace_id,
)

local = load_script("local")

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
ENDPOINT = "http://127.0.0.1:4318"


def traceparent(trace: str, span: str, sampled: bool = True) -> str:
    return f"00-{trace}-{span}-{'01' if sampled else '00'}"


def parent_of(header: str) -> tuple[str, str, bool]:
    """A W3C traceparent's trace id, parent span id and sampled flag (other flags, such as
    Level 2's `random`, may be set too)."""
    found = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})", header)
    assert found, header
    return found[1], found[2], bool(int(found[3], 16) & 1)


def one(spans: list[ReadableSpan], **wanted: Any) -> ReadableSpan:
    """The one span with these `kind`, `name` or `rpc` (its rpc.method attribute)."""
    found = [
        span
        for span in spans
        if all(
            (span.attributes or {}).get("rpc.method") == value
            if key == "rpc"
            else getattr(span, key) == value
            for key, value in wanted.items()
        )
    ]
    assert len(found) == 1, (wanted, [(s.name, s.kind) for s in spans])
    return found[0]


# --- the server span, X-Trace-Id and the log lines -------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/hello", None, 200),
        ("GET", "/nowhere", None, 404),
        ("GET", "/boom", None, 500),
        ("POST", "/hello", big_body(70_000), 413),
    ],
    ids=["ok", "unknown-path", "unhandled-error", "too-large"],
)
def test_every_response_carries_the_trace_id_its_log_lines_carry(
    logs: None,
    capsys: pytest.CaptureFixture[str],
    recorded: Recorded,
    method: str,
    path: str,
    body: bytes | None,
    status: int,
) -> None:
    client = TestClient(small_app(recorded.provider), raise_server_exceptions=False)
    response = client.request(method, path, content=body)
    assert response.status_code == status
    (server,) = recorded.spans()
    assert server.kind == SpanKind.SERVER
    assert server.parent is None  # nobody called with a traceparent: a new trace
    assert TRACE_ID.fullmatch(response.headers["x-trace-id"])
    assert response.headers["x-trace-id"] == trace_id(server)
    logged = lines(capsys.readouterr().out)
    assert logged and [line["message"] for line in logged][-1] == "request"
    for line in logged:
        assert (line["traceId"], line["spanId"]) == (trace_id(server), span_id(server))


def test_a_callers_traceparent_is_continued(logs: None, recorded: Recorded) -> None:
    client = TestClient(small_app(recorded.provider))
    response = client.get("/hello", headers={"traceparent": traceparent(CALLER_TRACE, CALLER_SPAN)})
    (server,) = recorded.spans()
    assert response.headers["x-trace-id"] == CALLER_TRACE == trace_id(server)
    assert parent_id(server) == CALLER_SPAN


@pytest.mark.parametrize(
    "header",
    [
        "00-zzzz",
        traceparent("0" * 32, CALLER_SPAN),  # all-zero ids are invalid
        traceparent(CALLER_TRACE, "0" * 16),
    ],
    ids=["garbage", "zero-trace-id", "zero-span-id"],
)
def test_a_malformed_traceparent_starts_a_new_trace(
    logs: None, recorded: Recorded, header: str
) -> None:
    response = TestClient(small_app(recorded.provider)).get(
        "/hello", headers={"traceparent": header}
    )
    (server,) = recorded.spans()
    assert server.parent is None
    assert response.headers["x-trace-id"] == trace_id(server) != CALLER_TRACE


def test_an_x_trace_id_the_app_sets_is_replaced_by_the_requests_own(
    logs: None, recorded: Recorded
) -> None:
    app = small_app(recorded.provider)

    @app.get("/claims")
    def claims() -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse({}, headers={"X-Trace-Id": "f" * 32})

    response = TestClient(app).get("/claims")
    assert response.headers.get_list("x-trace-id") == [trace_id(recorded.spans()[0])]


# --- the services: their calls as child spans, with traceparent ------------------------------


def test_order_service_calls_user_service_and_dynamodb_within_its_span(
    dynamodb: Any, recorded: Recorded, capsys: pytest.CaptureFixture[str]
) -> None:
    from order_service.main import Settings, create_app

    create_table(dynamodb, "orders")
    recorded.exporter.clear()  # the table's creation
    asked: list[httpx.Request] = []

    def user_service(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json={"id": "u1", "name": "Ada", "email": "a@b.c"})

    settings = Settings(
        table_name="orders", region=REGION, user_service_url="http://users.test:8080"
    )
    app = create_app(
        settings,
        dynamodb=dynamodb,
        user_transport=httpx.MockTransport(user_service),
        tracer_provider=recorded.provider,
    )
    with json_logging("order-service"), TestClient(app) as client:
        response = client.post(
            "/orders",
            json={"userId": "u1", "items": [{"sku": "a", "quantity": 1}]},
            headers={"X-Request-Id": "r-1", "Idempotency-Key": "k-1"},
        )
    assert response.status_code == 201, response.text
    spans = recorded.spans()
    server = one(spans, kind=SpanKind.SERVER, name="POST /orders")
    user_check = one(spans, kind=SpanKind.CLIENT, name="GET")
    # Two reads: the idempotency key's, and the user in order-service's own view of users.
    reads = [s for s in spans if s.kind == SpanKind.CLIENT and s.name == "DynamoDB.GetItem"]
    assert len(reads) == 2
    write = one(spans, kind=SpanKind.CLIENT, rpc="TransactWriteItems")
    assert {trace_id(s) for s in spans} == {response.headers["x-trace-id"]}
    assert len(spans) == 5
    for child in (user_check, *reads, write):
        assert parent_id(child) == span_id(server)
    assert (write.attributes or {})["rpc.service"] == "DynamoDB"
    (request,) = asked
    assert parent_of(request.headers["traceparent"]) == (
        trace_id(server),
        span_id(user_check),
        True,
    )
    logged = [line for line in lines(capsys.readouterr().out) if line.get("requestId") == "r-1"]
    assert {line["message"] for line in logged} >= {"order created", "request"}
    assert {line["traceId"] for line in logged} == {trace_id(server)}


def test_user_service_continues_the_callers_trace_into_dynamodb(
    dynamodb: Any, recorded: Recorded
) -> None:
    from user_service.main import Settings, create_app

    create_table(dynamodb, "users")
    recorded.exporter.clear()
    app = create_app(
        Settings(table_name="users", region=REGION),
        dynamodb=dynamodb,
        tracer_provider=recorded.provider,
    )
    with TestClient(app) as client:
        response = client.get(
            "/users/u1", headers={"traceparent": traceparent(CALLER_TRACE, CALLER_SPAN)}
        )
    assert response.status_code == 404
    assert response.headers["x-trace-id"] == CALLER_TRACE
    spans = recorded.spans()
    server = one(spans, kind=SpanKind.SERVER)
    read = one(spans, kind=SpanKind.CLIENT, rpc="GetItem")
    assert parent_id(server) == CALLER_SPAN
    assert parent_id(read) == span_id(server)
    assert {trace_id(s) for s in spans} == {CALLER_TRACE}


def test_the_gateway_starts_the_trace_whatever_the_client_sends(recorded: Recorded) -> None:
    from api_gateway.main import Downstream, Settings, create_app

    asked: list[httpx.Request] = []

    def order_service(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, json={}, headers={"X-Trace-Id": "f" * 32})

    settings = Settings(
        downstreams=(Downstream("order-service", "/orders", "http://orders.test:8080", 1.0),)
    )
    app = create_app(
        settings,
        transports={"order-service": httpx.MockTransport(order_service)},
        tracer_provider=recorded.provider,
    )
    with TestClient(app) as client:
        response = client.get(
            "/orders/o1",
            headers={
                "traceparent": traceparent(CALLER_TRACE, CALLER_SPAN),
                "tracestate": "vendor=value",
            },
        )
    spans = recorded.spans()
    server = one(spans, kind=SpanKind.SERVER)
    forward = one(spans, kind=SpanKind.CLIENT)
    # The gateway is the edge: a client neither picks the trace id nor forces it recorded.
    assert server.parent is None
    assert trace_id(server) != CALLER_TRACE
    assert parent_id(forward) == span_id(server)
    (request,) = asked
    (sent,) = request.headers.get_list("traceparent")
    assert parent_of(sent)[:2] == (trace_id(server), span_id(forward))
    assert request.headers.get_list("tracestate") == []
    assert response.headers.get_list("x-trace-id") == [trace_id(server)]


# --- whether spans are exported --------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "exported"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ENDPOINT + "/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "false"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
        (
            {
                "OTEL_SERVICE_NAME": "order-service",
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "0.1",
                "OTEL_PROPAGATORS": "tracecontext",
            },
            False,
        ),
    ],
    ids=[
        "nothing-set",
        "endpoint",
        "traces-endpoint",
        "blank-endpoint",
        "sdk-disabled",
        "sdk-not-disabled",
        "exporter-none",
        "all-but-an-endpoint",
    ],
)
def test_spans_are_exported_only_to_an_endpoint_that_is_set(
    environ: dict[str, str], exported: bool
) -> None:
    assert otlp_export_enabled(environ) is exported
    exporter = span_exporter(environ)
    assert isinstance(exporter, OTLPSpanExporter) if exported else exporter is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf, not 'grpc'",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be http/protobuf, not 'http/json'",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"},
            "OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, not '127.0.0.1:4318'",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "zipkin"},
            "OTEL_TRACES_EXPORTER must be otlp or none, not 'zipkin'",
        ),
    ],
    ids=["grpc", "json", "no-scheme", "zipkin"],
)
def test_an_export_setting_the_image_cannot_honour_is_a_config_error(
    environ: dict[str, str], message: str
) -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, **environ}
    with pytest.raises(ConfigError) as raised:
        span_exporter(environ)
    assert str(raised.value) == message


def test_a_service_with_an_export_setting_it_cannot_honour_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from order_service.main import SERVICE, Settings, create_app

    environ = {
        "TABLE_NAME": "t",
        "AWS_REGION": REGION,
        "USER_SERVICE_URL": "http://users:8080",
        "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    with json_logging(SERVICE):
        assert serve(SERVICE, Settings.from_env, create_app, environ) == 2
    (line,) = lines(capsys.readouterr().out)
    assert line["error"] == "OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf, not 'grpc'"


@pytest.fixture
def otel_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No OTEL_* variable of the caller's: the SDK reads the process environment itself."""
    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def collector(tmp_path: Any) -> Iterator[Any]:
    running = local.SpanCollector(tmp_path / "spans.jsonl").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("service_name", "expected"),
    [(None, "order-service"), ("orders", "orders")],
    ids=["default-name", "OTEL_SERVICE_NAME"],
)
def test_spans_reach_the_endpoint_with_the_services_resource(
    otel_env: pytest.MonkeyPatch,
    collector: Any,
    logs: None,
    service_name: str | None,
    expected: str,
) -> None:
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    otel_env.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    if service_name is not None:
        otel_env.setenv("OTEL_SERVICE_NAME", service_name)
    provider = tracer_provider("order-service", os.environ)
    response = TestClient(small_app(provider)).get("/hello")
    assert shutdown_tracing(provider)
    (span,) = collector.spans()
    assert span["traceId"] == response.headers["x-trace-id"]
    assert (span["kind"], span["service"]) == ("SERVER", expected)
    assert span["resource"]["deployment.environment"] == "test"


def test_without_an_endpoint_ids_are_made_and_no_span_is_exported(
    otel_env: pytest.MonkeyPatch, logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    provider = tracer_provider("user-service", os.environ)
    response = TestClient(small_app(provider)).get("/hello")
    assert TRACE_ID.fullmatch(response.headers["x-trace-id"])
    assert lines(capsys.readouterr().out)[-1]["traceId"] == response.headers["x-trace-id"]
    assert span_exporter(os.environ) is None
    assert shutdown_tracing(provider)


@pytest.mark.parametrize(
    ("caller", "exported"),
    [(None, 0), (traceparent(CALLER_TRACE, CALLER_SPAN, sampled=True), 1)],
    ids=["own-trace", "sampled-caller"],
)
def test_the_sampler_is_the_environments_and_unsampled_requests_keep_their_ids(
    otel_env: pytest.MonkeyPatch,
    collector: Any,
    logs: None,
    capsys: pytest.CaptureFixture[str],
    caller: str | None,
    exported: int,
) -> None:
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    otel_env.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    otel_env.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    provider = tracer_provider("user-service", os.environ)
    headers = {"traceparent": caller} if caller else {}
    response = TestClient(small_app(provider)).get("/hello", headers=headers)
    assert shutdown_tracing(provider)
    assert TRACE_ID.fullmatch(response.headers["x-trace-id"])
    assert lines(capsys.readouterr().out)[-1]["traceId"] == response.headers["x-trace-id"]
    # Ratio 0 samples no trace of its own; a sampled caller's is followed (parent-based).
    assert len(collector.spans()) == exported


def test_with_the_sdk_disabled_requests_are_served_without_trace_ids(
    otel_env: pytest.MonkeyPatch, logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    otel_env.setenv("OTEL_SDK_DISABLED", "true")
    provider = tracer_provider("user-service", os.environ)
    response = TestClient(small_app(provider)).get("/hello")
    assert response.status_code == 200
    assert "x-trace-id" not in response.headers
    assert "traceId" not in lines(capsys.readouterr().out)[-1]


# --- a collector that is down ----------------------------------------------------------------


EXPORT_TIMEOUT = 4
"""Seconds an export to the collector that is down may take."""


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers: a hung
    collector."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.mark.slow  # real sockets and the exporter's own timeout: seconds of waiting
@pytest.mark.parametrize("down", ["refusing", "silent"])
def test_a_collector_that_is_down_delays_no_request_and_not_the_exit(
    otel_env: pytest.MonkeyPatch, logs: None, request: pytest.FixtureRequest, down: str
) -> None:
    if down == "refusing":
        (port,) = local.free_ports(1)  # nothing listens there: connections are refused
    else:
        port = request.getfixturevalue("silent_port")
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    otel_env.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")  # exports start while requests run
    otel_env.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", str(EXPORT_TIMEOUT))  # seconds, in this SDK
    provider = tracer_provider("api-gateway", os.environ)
    client = TestClient(small_app(provider))
    durations = []
    for _ in range(50):
        started = time.monotonic()
        assert client.get("/hello").status_code == 200
        durations.append(time.monotonic() - started)
    # A request that waited for an export would take the export's timeout; the bounds are
    # half of it, room enough for a loaded machine.
    assert max(durations) < EXPORT_TIMEOUT / 2, durations
    started = time.monotonic()
    assert not shutdown_tracing(provider, timeout=1.0)  # gave up waiting for the exporter
    assert time.monotonic() - started < 1.0 + EXPORT_TIMEOUT / 2
    # The whole stop stays within the task's 30 s stop timeout.
    assert GRACEFUL_SHUTDOWN_SECONDS + TRACING_SHUTDOWN_SECONDS < 30
    # The exporter's own deadline ends its retries: nothing is left running after the test.
    for thread in threading.enumerate():
        if thread.name == "tracing-shutdown":
            thread.join(10)
            assert not thread.is_alive()
