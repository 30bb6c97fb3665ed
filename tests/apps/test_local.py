"""scripts/local.py's environments: the dev task's variables, with local values for what only a
deploy knows (the real processes are started by tests/test_e2e.py); its collector stand-in."""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from tests.apps.conftest import PROJECT, load_script

local = load_script("local")

URLS = {
    "user-service": "http://127.0.0.1:5001",
    "order-service": "http://127.0.0.1:5002",
    "api-gateway": "http://127.0.0.1:5003",
}
ENDPOINT = "http://127.0.0.1:5000"
COLLECTOR = "http://127.0.0.1:4999"


def environment_of(service: str, rendered: dict[str, str]) -> dict[str, str]:
    container = local.RenderedContainer(environment=rendered, region="eu-west-1")
    return local.local_environment(
        local.APPS[service],
        container,
        urls=URLS,
        port=6000,
        dynamodb_endpoint=ENDPOINT,
        otlp_endpoint=COLLECTOR,
    )


def test_cloud_map_urls_become_local_urls() -> None:
    env = environment_of(
        "api-gateway",
        {
            "USER_SERVICE_URL": "http://users.dev.internal:8080",
            "ORDER_SERVICE_URL": "http://orders.dev.internal:8080",
            "USER_SERVICE_TIMEOUT_SECONDS": "3",
        },
    )
    assert env["USER_SERVICE_URL"] == URLS["user-service"]
    assert env["ORDER_SERVICE_URL"] == URLS["order-service"]
    assert env["USER_SERVICE_TIMEOUT_SECONDS"] == "3"
    assert "TABLE_NAME" not in env
    assert (env["HOST"], env["PORT"]) == ("127.0.0.1", "6000")


@pytest.mark.parametrize(
    "rendered",
    [{}, {"TABLE_NAME": "${dev-order-service-table.name}"}],
    ids=["no-TABLE_NAME", "TABLE_NAME-after-deploy"],
)
def test_a_data_service_gets_its_local_table(rendered: dict[str, str]) -> None:
    env = environment_of("order-service", {"LOG_LEVEL": "debug", **rendered})
    assert env["TABLE_NAME"] == "local-order-service"
    assert env["LOG_LEVEL"] == "debug"


def test_aws_points_at_the_local_endpoint_with_dummy_credentials() -> None:
    env = environment_of("user-service", {})
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == ENDPOINT
    assert env["AWS_REGION"] == "eu-west-1"  # the stack's region, from the task's log config
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "local"


def test_a_region_the_task_sets_is_kept() -> None:
    assert environment_of("user-service", {"AWS_REGION": "us-west-2"})["AWS_REGION"] == (
        "us-west-2"
    )


def test_an_unknown_deploy_time_value_stops_the_start() -> None:
    with pytest.raises(local.LocalError, match="QUEUE_URL"):
        environment_of("user-service", {"QUEUE_URL": "${dev-queue.url}"})


def test_the_callers_aws_settings_are_not_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "secret")
    env = local._process_environment(environment_of("user-service", {}))
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "local"


def test_free_ports_are_distinct_loopback_ports() -> None:
    ports = local.free_ports(5)
    assert len(set(ports)) == 5 and all(1024 <= p <= 65535 for p in ports)


def test_a_callee_without_an_app_is_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    urls = {k: v for k, v in URLS.items() if k != "user-service"}
    container = local.RenderedContainer(
        environment={"USER_SERVICE_URL": "http://users.dev.internal:8080"}, region="eu-west-1"
    )
    env = local.local_environment(
        local.APPS["order-service"],
        container,
        urls=urls,
        port=6000,
        dynamodb_endpoint=ENDPOINT,
        otlp_endpoint=COLLECTOR,
    )
    assert "USER_SERVICE_URL" not in env
    assert "USER_SERVICE_URL left out" in capsys.readouterr().err


def test_spans_go_to_the_local_collector_every_trace_of_them() -> None:
    env = environment_of("order-service", {})
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == COLLECTOR
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_SERVICE_NAME"] == "order-service"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "1"
    assert env["OTEL_PROPAGATORS"] == "tracecontext"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "deployment.environment=local"


def test_the_tasks_tracing_variables_give_way_to_local_ones() -> None:
    env = environment_of(
        "user-service",
        {
            "OTEL_SERVICE_NAME": "users",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces",
            "OTEL_TRACES_SAMPLER_ARG": "0.05",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=dev",
        },
    )
    assert env["OTEL_SERVICE_NAME"] == "users"  # the task's name for it is kept
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == COLLECTOR
    assert "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" not in env
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "1"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "deployment.environment=local"


# --- the collector stand-in ------------------------------------------------------------------


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Any]:
    running = local.SpanCollector(tmp_path / "spans.jsonl").start()
    try:
        yield running
    finally:
        running.stop()


def export_two_spans(url: str, **exporter: Any) -> tuple[str, str, str]:
    """A server span and its client child, sent as an app sends them; their trace, server and
    client span ids."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": "test-service"}), shutdown_on_exit=False
    )
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=url + "/v1/traces", timeout=5, **exporter))
    )
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("GET /x", kind=SpanKind.SERVER) as server,
        tracer.start_as_current_span("GET", kind=SpanKind.CLIENT) as client,
    ):
        client.set_attribute("http.request.method", "GET")
    provider.shutdown()
    return (
        format(server.get_span_context().trace_id, "032x"),
        format(server.get_span_context().span_id, "016x"),
        format(client.get_span_context().span_id, "016x"),
    )


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_the_collector_records_what_an_otlp_exporter_sends(
    collector: Any, compression: str | None
) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression

    extra = {"compression": Compression.Gzip} if compression else {}
    trace, server, client = export_two_spans(collector.url, **extra)
    recorded = collector.spans()
    assert [(s["name"], s["kind"]) for s in recorded] == [("GET", "CLIENT"), ("GET /x", "SERVER")]
    by_name = {s["name"]: s for s in recorded}
    assert {s["traceId"] for s in recorded} == {trace}
    assert (by_name["GET /x"]["spanId"], by_name["GET /x"]["parentSpanId"]) == (server, None)
    assert (by_name["GET"]["spanId"], by_name["GET"]["parentSpanId"]) == (client, server)
    assert by_name["GET"]["attributes"]["http.request.method"] == "GET"
    assert {s["service"] for s in recorded} == {"test-service"}
    written = [json.loads(line) for line in collector.path.read_text().splitlines()]
    assert written == recorded


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        ("/v1/traces", b"\xff\xff\xff", {"Content-Type": "application/x-protobuf"}, 400),
        ("/v1/traces", b"{}", {"Content-Type": "application/json"}, 415),
        ("/v1/metrics", b"", {"Content-Type": "application/x-protobuf"}, 404),
        (
            "/v1/traces",
            gzip.compress(b"\0" * (local.MAX_EXPORT_BYTES + 1)),
            {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
            413,
        ),
    ],
    ids=["not-protobuf", "json", "metrics", "gzip-bomb"],
)
def test_the_collector_refuses_what_is_not_a_trace_export(
    collector: Any, path: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    assert post(collector.url + path, body, headers) == status
    assert collector.spans() == []


def test_the_collector_stops_listening(tmp_path: Path) -> None:
    running = local.SpanCollector(tmp_path / "spans.jsonl").start()
    url = running.url
    started = time.monotonic()
    running.stop()
    running.stop()  # twice is fine
    assert time.monotonic() - started < 2
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/v1/traces", data=b"", timeout=1)


# --- which services run, on which ports ------------------------------------------------------


def test_every_service_with_an_app_runs_callees_first() -> None:
    from services import CATALOG

    apps, without = local.discover_apps(CATALOG)
    assert set(apps) | set(without) == set(CATALOG)
    assert {name for name, spec in CATALOG.items() if spec.build} == set(apps)
    order = list(apps)
    for name, app in apps.items():
        assert app.directory == PROJECT / CATALOG[name].build
        assert (app.directory / app.package / "__main__.py").is_file()
        assert app.owns_table == CATALOG[name].table
        assert all(order.index(callee) < order.index(name) for callee in CATALOG[name].calls)


def test_a_service_without_an_app_is_named_and_the_catch_all_route_is_the_gateway() -> None:
    from services import CATALOG, RouteSpec, ServiceSpec

    image_only = ServiceSpec(name="docs-site", discovery_name="docs", container_name="docs")
    routed = ServiceSpec(
        name="side-door",
        discovery_name="side",
        container_name="side",
        routes=(RouteSpec(priority=7, path_patterns=("/side/*",)),),
        build=CATALOG["user-service"].build,
    )
    catalog = {**CATALOG, image_only.name: image_only, routed.name: routed}
    apps, without = local.discover_apps(catalog)
    assert sorted(without) == sorted([*(n for n, s in CATALOG.items() if not s.build), "docs-site"])
    routes = {
        name: max(r.priority for r in catalog[name].routes) for name in apps if catalog[name].routes
    }
    assert local.gateway_of(apps, catalog) == max(routes, key=routes.__getitem__)
    assert local.gateway_of(apps, catalog) != "side-door"


def test_the_gateway_takes_the_port_asked_for(tmp_path: Path) -> None:
    (port,) = local.free_ports(1)
    system = local.LocalSystem(log_dir=tmp_path, port=port)
    assert system.gateway_url == f"http://127.0.0.1:{port}"
    assert len(set(system.ports.values())) == len(local.APPS)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        with pytest.raises(local.LocalError) as raised:
            local.LocalSystem(log_dir=tmp_path, port=busy)
    assert str(raised.value) == (
        f"port {busy} is in use on 127.0.0.1; choose another with --port (make local PORT=<port>)"
    )


@pytest.mark.slow  # the whole system, started and stopped as `make local` runs it
def test_make_local_prints_the_gateway_first_and_cleans_up(tmp_path: Path) -> None:
    (port,) = local.free_ports(1)
    environment = {**os.environ, "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, str(PROJECT / "scripts" / "local.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first == f"gateway: http://127.0.0.1:{port}\n"
        ready = ""
        while not ready.startswith("ready: "):
            ready = process.stdout.readline()
            assert ready, "make local stopped before it was ready"
        assert ready.rstrip().endswith(f"gateway http://127.0.0.1:{port} (Ctrl-C stops everything)")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            assert answer.status == 200
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0
    assert rest.rstrip().splitlines()[-1] == "stopped: everything make local started (logs removed)"
    assert not list(tmp_path.glob("local-system-*"))
