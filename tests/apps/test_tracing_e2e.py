"""Tracing through real processes, as `make local` runs them: one request through the gateway
reaches order-service and user-service, and every span it makes, in all three, reaches the
local collector in one trace with the right parents; every log line of the request carries
that trace id, and so does the response's X-Trace-Id. And a service whose collector is down
keeps answering at once, and stops in bounded time.

Every process is stopped when the module's tests end, whatever their outcome; every request
has a timeout, and every loop a bound.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from service_kit import TRACING_SHUTDOWN_SECONDS
from tests.apps.conftest import load_script, running_local_system

local = load_script("local")

# Processes on real ports: make test-all.
pytestmark = pytest.mark.slow

REQUEST_TIMEOUT = 10.0
SPANS_TIMEOUT = 10.0
"""How long the spans of a request may take to reach the collector: the services send a batch
every 200 ms locally."""
SERVICES = ("api-gateway", "order-service", "user-service")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_local_system(tmp_path_factory.mktemp("local-system")) as running:
        yield running


def start_lone_gateway(
    tmp_path: Path, ports: Sequence[int], tracing: Mapping[str, str]
) -> tuple[Any, str]:
    """The gateway alone, on the first of `ports`, its two downstreams on the others (where
    nothing listens), with these OTEL_* variables; started, healthy, logging to
    tmp_path/api-gateway.log. The caller stops it."""
    port, users, orders = ports
    app = local.APPS["api-gateway"]
    environment = local._app_environment(
        {
            "HOST": local.LOCALHOST,
            "PORT": str(port),
            "USER_SERVICE_URL": f"http://127.0.0.1:{users}",
            "ORDER_SERVICE_URL": f"http://127.0.0.1:{orders}",
            **tracing,
        }
    )
    process = local.Process(
        app.service,
        [sys.executable, "-m", app.package],
        env=environment,
        cwd=app.directory,
        log=tmp_path / "api-gateway.log",
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        local._wait_for_health(process, url, time.monotonic() + 30)
    except BaseException:
        process.stop()
        raise
    return process, url


def is_dynamodb(span: dict[str, Any]) -> bool:
    return span["attributes"].get("rpc.system") == "aws-api" and (
        span["attributes"].get("rpc.service") == "DynamoDB"
    )


def the_one(
    spans: list[dict[str, Any]],
    service: str,
    kind: str,
    dynamodb: bool = False,
    method: str | None = None,
) -> Any:
    found = [
        s
        for s in spans
        if s["service"] == service
        and s["kind"] == kind
        and is_dynamodb(s) == dynamodb
        and (method is None or s["attributes"].get("rpc.method") == method)
    ]
    assert len(found) == 1, (service, kind, [(s["service"], s["name"]) for s in spans])
    return found[0]


def health_check(span: dict[str, Any]) -> bool:
    return span["kind"] == "SERVER" and span["attributes"].get("http.route") == "/health"


def event_traces(spans: list[dict[str, Any]]) -> set[str]:
    """The traces of order-service's receive loop: each begins with a CONSUMER span."""
    return {
        s["traceId"]
        for s in spans
        if s["service"] == "order-service" and s["kind"] == "CONSUMER" and not s["parentSpanId"]
    }


def complete(spans: list[dict[str, Any]]) -> bool:
    """Whether the request's last spans are in: the gateway's (it ends last) and user-service's
    DynamoDB read."""
    have = {(s["service"], s["kind"], is_dynamodb(s)) for s in spans}
    return {
        ("api-gateway", "SERVER", False),
        ("api-gateway", "CLIENT", False),
        ("order-service", "CLIENT", True),
        ("user-service", "CLIENT", True),
    } <= have


def log_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def test_one_request_is_one_trace_across_the_three_services(system: Any) -> None:
    # The user is written straight to the table, with user-service's relay stopped so that
    # order-service never hears of it: the one request through the gateway is the order's
    # creation, which order-service checks with user-service.
    system.processes["relay-user-service"].stop()
    user_id = str(uuid.uuid4())
    system.dynamodb().put_item(
        TableName=system.table("user-service"),
        Item={"id": {"S": user_id}, "name": {"S": "Ada"}, "email": {"S": "ada@example.com"}},
    )
    request_id = f"trace-{uuid.uuid4().hex}"
    response = httpx.post(
        f"{system.gateway_url}/orders",
        json={"userId": user_id, "items": [{"sku": "book-1", "quantity": 1}]},
        headers={"X-Request-Id": request_id},
        timeout=REQUEST_TIMEOUT,
    )
    assert response.status_code == 201, response.text
    trace = response.headers["x-trace-id"]

    deadline = time.monotonic() + SPANS_TIMEOUT
    while time.monotonic() < deadline:
        mine = [s for s in system.spans() if s["traceId"] == trace]
        if complete(mine):
            break
        time.sleep(0.1)
    time.sleep(0.5)  # a span arriving late would be one too many: give it the time to
    spans = system.spans()
    mine = [s for s in spans if s["traceId"] == trace]
    assert complete(mine), [(s["service"], s["name"]) for s in mine]

    # All three services' spans are in this one trace; any other span is a health check's
    # (the start waits for each service's /health), which calls nothing, or in a trace of
    # its own of the receive loop's (an event applied); the loop's long polls are not traced.
    assert {s["service"] for s in mine} == set(SERVICES)
    events = event_traces(spans)
    others = [s for s in spans if s["traceId"] != trace and s["traceId"] not in events]
    assert all(health_check(s) and s["parentSpanId"] is None for s in others), [
        (s["service"], s["kind"], s["name"], s["parentSpanId"]) for s in others
    ]

    # gateway server -> gateway client -> orders server -> orders client -> users server,
    # each DynamoDB call under its service's server span.
    gateway = the_one(mine, "api-gateway", "SERVER")
    forward = the_one(mine, "api-gateway", "CLIENT")
    orders = the_one(mine, "order-service", "SERVER")
    user_check = the_one(mine, "order-service", "CLIENT")
    users = the_one(mine, "user-service", "SERVER")
    # order-service reads its view of users (the user was never announced to it: unknown),
    # asks user-service, then writes the order.
    view = the_one(mine, "order-service", "CLIENT", dynamodb=True, method="GetItem")
    write = the_one(mine, "order-service", "CLIENT", dynamodb=True, method="PutItem")
    read = the_one(mine, "user-service", "CLIENT", dynamodb=True)
    assert gateway["parentSpanId"] is None
    assert forward["parentSpanId"] == gateway["spanId"]
    assert orders["parentSpanId"] == forward["spanId"]
    assert user_check["parentSpanId"] == orders["spanId"]
    assert users["parentSpanId"] == user_check["spanId"]
    assert write["parentSpanId"] == orders["spanId"]
    assert view["parentSpanId"] == orders["spanId"]
    assert read["parentSpanId"] == users["spanId"]
    assert (write["attributes"]["rpc.method"], read["attributes"]["rpc.method"]) == (
        "PutItem",
        "GetItem",
    )
    assert len(mine) == 8, [(s["service"], s["name"]) for s in mine]
    assert {s["resource"]["deployment.environment"] for s in mine} == {"local"}

    # Every log line of the request, in each service, carries the trace id; the request line
    # carries its service's server span.
    servers = {"api-gateway": gateway, "order-service": orders, "user-service": users}
    for service in SERVICES:
        ours = [
            line
            for line in log_lines(system.log_dir / f"{service}.log")
            if line.get("requestId") == request_id
        ]
        assert ours, f"{service} logged nothing for the request"
        assert {line["traceId"] for line in ours} == {trace}, service
        (request_line,) = [line for line in ours if line["message"] == "request"]
        assert request_line["spanId"] == servers[service]["spanId"]


def test_a_service_keeps_answering_while_its_collector_is_down(tmp_path: Path) -> None:
    collector, *ports = local.free_ports(4)  # none of them listening but the gateway's
    process, url = start_lone_gateway(
        tmp_path,
        ports,
        {
            "OTEL_SERVICE_NAME": "api-gateway",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "20",  # batches go out while the requests run
        },
    )
    try:
        durations = []
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT) as client:
            for number in range(40):
                started = time.monotonic()
                # /users/… is forwarded (a client span; user-service is not there either).
                answer = client.get("/health" if number % 2 else f"/users/{number}")
                durations.append(time.monotonic() - started)
                assert answer.status_code == (200 if number % 2 else 502)
                assert len(answer.headers["x-trace-id"]) == 32
        # A request that waited for the export would take the exporter's 10 s timeout; the
        # bound leaves room for a loaded machine.
        assert max(durations) < 2.5, durations
        # It did try to export, and said so.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            exporter_lines = [
                line
                for line in log_lines(tmp_path / "api-gateway.log")
                if line["logger"].startswith("opentelemetry.exporter")
            ]
            if exporter_lines:
                break
            time.sleep(0.1)
        assert exporter_lines, process.tail()
        assert {line["level"] for line in exporter_lines} <= {"WARNING", "ERROR"}
        started = time.monotonic()
        process.stop()
        stopping = time.monotonic() - started
        assert process.popen is not None and process.popen.returncode == 128 + signal.SIGTERM
        assert stopping < TRACING_SHUTDOWN_SECONDS + 3, stopping
    finally:
        process.stop()


def test_spans_still_queued_when_a_service_stops_are_sent(tmp_path: Path) -> None:
    collector = local.SpanCollector(tmp_path / "spans.jsonl").start()
    process, url = start_lone_gateway(
        tmp_path,
        local.free_ports(3),
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            "OTEL_BSP_SCHEDULE_DELAY": "600000",  # no batch goes out on its own in this test
        },
    )
    try:
        answer = httpx.get(f"{url}/users/u1", timeout=REQUEST_TIMEOUT)
        assert answer.status_code == 502
        assert collector.spans() == []
        process.stop()
        mine = [s for s in collector.spans() if s["traceId"] == answer.headers["x-trace-id"]]
        assert sorted(s["kind"] for s in mine) == ["CLIENT", "SERVER"]
        assert {s["service"] for s in mine} == {"api-gateway"}  # the name it defaults to
    finally:
        process.stop()
        collector.stop()
